package appliance

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/airlock-appliance/airlock/guix/channel"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// BasisChannel approves a git bundle of a Guix channel: authenticated under the policy's
// pinned introduction, forward of the last commit airlock authenticated for that channel,
// and every blob scanned clean (issue 16).
const BasisChannel = "channel"

// RecordChannel is the audit record of one bundle's judgement. Its "approved" records are
// what ChannelHeads reads back: the last one per channel is where the next bundle must start.
// A bundle approved on a stick that is rejected for another file still moves the head: the
// commit is authentic, and an older one offered later is a rollback whatever crossed. The
// head is kept per channel name; a site that re-pins a channel's introduction gives it a new
// name.
const RecordChannel = "channel"

// Channel is a channel the importer authenticates bundles of. A stick carries channel NAME as
// a file NAME.bundle (a git bundle, v2 or v3, with the channel branch and its keyring branch).
type Channel struct {
	Name string
	// Policy is the pinned introduction and the rules' options; LastAuthenticated is set per
	// read from the audit log (ScanImporter.Heads).
	Policy channel.Policy
	// History scans every blob of the pack, up to HistoryMax, not only the target and keyring
	// trees.
	History    bool
	HistoryMax int
}

// ChannelHeads returns, per channel name, the last commit airlock authenticated and approved.
type ChannelHeads interface {
	Heads() (map[string]channel.OID, error)
}

// bundleMagic are the first lines of the git bundle versions channel reads.
var bundleMagic = [][]byte{[]byte("# v2 git bundle\n"), []byte("# v3 git bundle\n")}

// channelVerdict is the parent's judgement of one bundle.
type channelVerdict struct {
	channel string
	last    *channel.OID
	res     *channel.Result
	// reasons the bundle is refused (authentication or scan coverage); empty when authentic.
	reasons []string
	rule    string
	refused string // the first offending commit
	blobs   int    // blobs scanned
}

// blobScan scans every file of dir (flat, one file per blob) and returns the results.
type blobScan func(ctx context.Context, dir string) ([]scanner.Result, error)

// channelFor returns the policy's channel a top-level file is the bundle of, or nil.
func (im *ScanImporter) channelFor(p string) *Channel {
	base := path.Base(p)
	name, ok := strings.CutSuffix(base, ".bundle")
	if !ok {
		return nil
	}
	for i := range im.Channels {
		if im.Channels[i].Name == name {
			return &im.Channels[i]
		}
	}
	return nil
}

// judgeChannels authenticates, in this process and over the spooled bytes (the bytes that
// will be burned), every bundle a policy channel names, and scans every blob of its
// authenticated trees (and history, by policy) with scan. The blobs' verdicts are appended to
// the bundle's result as inner files "BUNDLE!path", so that the decision and the report see
// them as they see an archive's members.
func (im *ScanImporter) judgeChannels(ctx context.Context, results []scanner.Result, spoolDir string, scan blobScan) (map[string]*channelVerdict, error) {
	if len(im.Channels) == 0 {
		return nil, nil
	}
	var heads map[string]channel.OID
	out := map[string]*channelVerdict{}
	for i := range results {
		r := &results[i]
		c := im.channelFor(r.Path)
		if c == nil || r.Type != scanner.TypeRegular || r.SHA256 == "" {
			continue
		}
		if heads == nil && im.Heads != nil {
			var err error
			if heads, err = im.Heads.Heads(); err != nil {
				return nil, fmt.Errorf("channel %s: reading the last authenticated commit from the audit log: %w", c.Name, err)
			}
		}
		if heads == nil {
			heads = map[string]channel.OID{}
		}
		v := &channelVerdict{channel: c.Name}
		if h, ok := heads[c.Name]; ok {
			v.last = &h
		}
		if err := im.judgeBundle(ctx, r, filepath.Join(spoolDir, filepath.FromSlash(r.Path)), c, v, scan); err != nil {
			return nil, err
		}
		out[r.Path] = v
	}
	return out, nil
}

// judgeBundle judges one bundle into v; the error is an operational failure (the read fails).
func (im *ScanImporter) judgeBundle(ctx context.Context, r *scanner.Result, file string, c *Channel, v *channelVerdict, scan blobScan) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(bundleMagic[0]))
	n, _ := io.ReadFull(f, head)
	if !bytes.Equal(head[:n], bundleMagic[0]) && !bytes.Equal(head[:n], bundleMagic[1]) {
		v.reasons = append(v.reasons, fmt.Sprintf("%s: channel %s: not a git bundle (v2 or v3)", r.Path, c.Name))
		return nil
	}
	pol := c.Policy
	pol.LastAuthenticated = v.last
	src, res, err := channel.AuthenticateBundle(ctx, r.Path, f, r.Size, pol)
	var re *channel.RefusedError
	switch {
	case errors.As(err, &re):
		v.rule, v.refused = string(re.Rule), re.Commit.String()
		v.reasons = append(v.reasons, fmt.Sprintf("%s: channel %s: %v", r.Path, c.Name, re))
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		v.rule = "unreadable"
		v.reasons = append(v.reasons, fmt.Sprintf("%s: channel %s: %v", r.Path, c.Name, err))
		return nil
	}
	defer src.Close()
	// Only what was authenticated crosses: a clone of the bundle gets every ref it carries.
	for _, ref := range src.Refs() {
		if ref.OID != res.Target && ref.OID != res.Keyring {
			v.rule, v.refused = "extra-ref", ref.OID.String()
			v.reasons = append(v.reasons, fmt.Sprintf("%s: channel %s: the bundle carries %s at %s, neither the authenticated target %s nor the keyring",
				r.Path, c.Name, ref.Name, ref.OID, res.Target))
			return nil
		}
	}
	v.res = res

	dir, err := os.MkdirTemp(im.Options.TempDir, "airlock-channel-")
	if err != nil {
		return fmt.Errorf("channel scratch: %w", err)
	}
	defer os.RemoveAll(dir)
	// The scan worker reads the blobs with its own uid: they are the stick's bytes, not secrets.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("channel scratch: %w", err)
	}
	names := map[string][]string{} // blob OID -> the names it has in the bundle
	var special []scanner.File
	var written int64
	maxBytes := im.Options.Limits.MaxExpanded
	over := false
	add := func(b *channel.Blob) error {
		switch {
		case b.IsSubmodule():
			special = append(special, scanner.File{Path: b.Name, Verdict: scanner.Clean, Type: scanner.TypeSpecial,
				Reason: "submodule (gitlink) " + b.OID.String() + ": recorded, not carried", Depth: 1})
			return nil
		case b.IsSymlink():
			special = append(special, scanner.File{Path: b.Name, Verdict: scanner.Clean, Type: scanner.TypeSymlink,
				Target: string(b.Data), Size: int64(len(b.Data)), Depth: 1})
			return nil
		case b.Missing:
			special = append(special, scanner.File{Path: b.Name, Verdict: scanner.Unscannable, Reason: "blob " + b.OID.String() + " absent from the bundle", Depth: 1})
			return nil
		}
		oid := b.OID.String()
		if _, seen := names[oid]; seen {
			if !strings.Contains(b.Name, "!objects/") {
				names[oid] = append(names[oid], b.Name)
			}
			return nil
		}
		names[oid] = []string{b.Name}
		if maxEntries := im.Options.Limits.MaxEntries; maxEntries > 0 && len(names) > maxEntries {
			over = true
			return errStopBlobs
		}
		if written += int64(len(b.Data)); maxBytes > 0 && written > maxBytes {
			over = true
			return errStopBlobs
		}
		return os.WriteFile(filepath.Join(dir, oid), b.Data, 0o644)
	}
	err = src.Blobs(res, r.Path, pol.Keyring, add)
	if err == nil && c.History {
		err = src.HistoryBlobs(r.Path, c.HistoryMax, add)
	}
	switch {
	case errors.Is(err, errStopBlobs) || over:
		r.Inner = append(r.Inner, scanner.File{Path: r.Path, Verdict: scanner.LimitHit, Limit: scanner.LimitExpanded,
			Reason: fmt.Sprintf("the channel's blobs exceed %d bytes (limits.max_expanded) or %d blobs (limits.max_entries)",
				maxBytes, im.Options.Limits.MaxEntries), Depth: 1})
		return nil
	case errors.Is(err, channel.ErrHistoryCap):
		r.Inner = append(r.Inner, scanner.File{Path: r.Path, Verdict: scanner.LimitHit, Limit: scanner.LimitEntries,
			Reason: err.Error() + " (import.channels.history_max)", Depth: 1})
		return nil
	case errors.As(err, &re):
		// A tree name git fsck refuses.
		v.res, v.rule, v.refused = nil, string(re.Rule), re.Commit.String()
		v.reasons = append(v.reasons, fmt.Sprintf("%s: channel %s: %v", r.Path, c.Name, re))
		return nil
	case err != nil:
		return fmt.Errorf("channel %s: %s: %w", c.Name, r.Path, err)
	}
	scanned, err := scan(ctx, dir)
	if err != nil {
		return fmt.Errorf("channel %s: scanning the blobs of %s: %w", c.Name, r.Path, err)
	}
	got := map[string]bool{}
	for _, b := range scanned {
		as := names[b.Path]
		if as == nil {
			return fmt.Errorf("channel %s: the blob scan reported %q, which was not written", c.Name, b.Path)
		}
		got[b.Path] = true
		for _, name := range as {
			r.Inner = append(r.Inner, renamed(b.File, b.Path, name))
			for _, in := range b.Inner {
				r.Inner = append(r.Inner, renamed(in, b.Path, name))
			}
		}
	}
	oids := make([]string, 0, len(names))
	for oid := range names {
		oids = append(oids, oid)
	}
	sort.Strings(oids)
	for _, oid := range oids {
		if !got[oid] {
			// Never scanned is never clean.
			for _, name := range names[oid] {
				r.Inner = append(r.Inner, scanner.File{Path: name, Verdict: scanner.Unscannable, Reason: "the blob scan did not report it", Depth: 1})
			}
		}
	}
	r.Inner = append(r.Inner, special...)
	v.blobs = len(names)
	return nil
}

var errStopBlobs = errors.New("stop")

// renamed is f, a file of the flat blob scan named OID or OID!inner, as a member of a bundle.
func renamed(f scanner.File, oid, name string) scanner.File {
	f.Path = name + strings.TrimPrefix(f.Path, oid)
	f.Depth++
	return f
}

// sandboxBlobScan scans a blob directory in a sandboxed worker (no spool: nothing of it is
// burned; the bundle is).
func (im *ScanImporter) sandboxBlobScan(sb *sandbox.Config) blobScan {
	return func(ctx context.Context, dir string) ([]scanner.Result, error) {
		res, _, err := sb.Scan(ctx, &sandbox.ScanRequest{Source: sandbox.Source{Path: dir, Kind: sandbox.Dir},
			Rules: im.Rules, Options: im.Options})
		return res, err
	}
}

// localBlobScan scans a blob directory in this process (Read, which parses the stick here too).
func (im *ScanImporter) localBlobScan(ctx context.Context, dir string) ([]scanner.Result, error) {
	opts := im.Options
	opts.Spool, opts.Guix = nil, nil
	return scanner.New(im.Rules, opts).ScanAll(ctx, os.DirFS(dir), ".")
}

// channelRecord is the audit record of a judged bundle.
func channelRecord(p, sum string, v *channelVerdict, approved bool, reasons []string) Record {
	f := map[string]any{"channel": v.channel, "file": p, "sha256": sum, "verdict": "refused"}
	if approved {
		f["verdict"] = "approved"
	} else if v.res != nil {
		f["verdict"] = "authenticated-not-clean"
	}
	if v.last != nil {
		f["last_authenticated"] = v.last.String()
	}
	if v.res != nil {
		f["commit"] = v.res.Target.String()
		f["tree"] = v.res.Tree.String()
		f["signer"] = strings.ToUpper(hex.EncodeToString(v.res.TargetSigner[:]))
		f["keyring"] = v.res.Keyring.String()
		f["commits_authenticated"] = v.res.Authenticated
		f["blobs_scanned"] = v.blobs
	}
	if v.rule != "" {
		f["rule"] = v.rule
	}
	if v.refused != "" {
		f["refused_commit"] = v.refused
	}
	if !approved {
		f["reasons"] = reasons
	}
	return Record{Type: RecordChannel, Fields: f}
}

// channelReport is a bundle's entry in the disc's report.
type channelReport struct {
	Path     string   `json:"path"`
	Channel  string   `json:"channel"`
	Verdict  string   `json:"verdict"`
	Commit   string   `json:"commit,omitempty"`
	Tree     string   `json:"tree,omitempty"`
	Signer   string   `json:"signer,omitempty"`
	Keyring  string   `json:"keyring,omitempty"`
	Last     string   `json:"last_authenticated,omitempty"`
	Blobs    int      `json:"blobs_scanned"`
	Rule     string   `json:"rule,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
	Approved bool     `json:"approved"`
}

func channelReportOf(rec Record, approved bool) channelReport {
	f := rec.Fields
	s := func(k string) string { v, _ := f[k].(string); return v }
	cr := channelReport{Path: s("file"), Channel: s("channel"), Verdict: s("verdict"), Commit: s("commit"), Tree: s("tree"),
		Signer: s("signer"), Keyring: s("keyring"), Last: s("last_authenticated"), Rule: s("rule"), Approved: approved}
	cr.Blobs, _ = f["blobs_scanned"].(int)
	cr.Reasons, _ = f["reasons"].([]string)
	return cr
}

// LogHeads reads the channel heads from the audit log: the commit of the last "approved"
// channel record of each channel. It reads the records appended since its last call only.
type LogHeads struct {
	Log *auditlog.Log

	mu    sync.Mutex
	next  int64
	heads map[string]channel.OID
}

// Heads implements ChannelHeads.
func (h *LogHeads) Heads() (map[string]channel.OID, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.heads == nil {
		h.heads = map[string]channel.OID{}
	}
	for n := h.Log.Size(); h.next < n; h.next++ {
		b, err := h.Log.Record(h.next)
		if err != nil {
			return nil, err
		}
		var rec struct {
			Type    string `json:"type"`
			Channel string `json:"channel"`
			Verdict string `json:"verdict"`
			Commit  string `json:"commit"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("audit record %d: %w", h.next, err)
		}
		if rec.Type != RecordChannel || rec.Verdict != "approved" {
			continue
		}
		oid, err := channel.ParseOID(rec.Commit)
		if err != nil {
			return nil, fmt.Errorf("audit record %d: channel %s: commit: %w", h.next, rec.Channel, err)
		}
		h.heads[rec.Channel] = oid
	}
	out := make(map[string]channel.OID, len(h.heads))
	for k, v := range h.heads {
		out[k] = v
	}
	return out, nil
}
