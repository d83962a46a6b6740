package appliance

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/airlock-appliance/airlock/burner"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
)

// ScanImporter is the Importer over package scanner (YARA, recursive walk, one read feeding
// SHA-256, YARA and the RAM spool) and package guix (export verification under the ACL).
type ScanImporter struct {
	Rules *scanner.Rules
	// Options are the scanner's limits and tuning; Spool and Guix are set per read.
	Options scanner.Options
	// Allowlist is the verified approver allowlist; nil when the policy has none.
	Allowlist scanner.Allowlist
	// ACL authorizes Guix exports; nil when the policy has none.
	ACL *guix.ACL
	// Present lists store paths already on the high side.
	Present []string
	// SpoolMax bounds the bytes spooled for one stick.
	SpoolMax int64
	// MaxFiles bounds the top-level files of one stick.
	MaxFiles int
	// Sandbox starts the scan workers of ReadDevice (nil: the default, confined).
	Sandbox *sandbox.Config
	// Channels are the policy's Guix channels (basis "channel"); Heads gives the last commit
	// authenticated for each, from the audit log (nil: none yet).
	Channels []Channel
	Heads    ChannelHeads
	// Quorum, when set, judges every export and narinfo of a stick (basis "guix-quorum")
	// instead of the ACL; the carrier export is rewritten with the approved items and
	// re-signed with GuixKey.
	Quorum *guix.Quorum
	// ResignGuix re-signs ACL-approved exports with GuixKey (import.resign_guix).
	ResignGuix bool
	GuixKey    *guix.PrivateKey
}

// DeviceImporter is an Importer that reads the device itself, in a sandboxed worker that holds
// no key, instead of an fs.FS parsed by the station.
type DeviceImporter interface {
	Importer
	ReadDevice(ctx context.Context, dev, spoolDir string, progress Progress) (*Decision, error)
}

// ReadDevice implements DeviceImporter: the stick's partition table, filesystems, archives and
// libyara are all handled by the worker (package sandbox); this process re-hashes the spool,
// verifies the Guix exports in it and decides. A worker that fails fails the read, naming why.
func (im *ScanImporter) ReadDevice(ctx context.Context, dev, spoolDir string, progress Progress) (*Decision, error) {
	sb := im.Sandbox
	if sb == nil {
		sb = &sandbox.Config{}
	}
	req := &sandbox.ScanRequest{Source: sandbox.Source{Path: dev, Kind: sandbox.Medium}, Rules: im.Rules,
		Options: im.Options, SpoolDir: spoolDir, SpoolMax: im.SpoolMax, MaxFiles: im.MaxFiles}
	if progress != nil {
		req.Progress = func(done, total int64) { progress(done, total) }
	}
	results, conf, err := sb.Scan(ctx, req)
	if errors.Is(err, sandbox.ErrRefused) {
		return nil, fmt.Errorf("%s: %w", dev, err) // as media.Open names it
	}
	if err != nil {
		return nil, err
	}
	if err := sandbox.Recheck(results, spoolDir); err != nil {
		return nil, err
	}
	// The worker's own bounds are re-checked over what the parent hashed.
	var total int64
	for i := range results {
		total += results[i].Size
	}
	if im.MaxFiles > 0 && len(results) > im.MaxFiles {
		return nil, fmt.Errorf("more than %d files on the stick (limits.max_stick_files)", im.MaxFiles)
	}
	if im.SpoolMax > 0 && total > im.SpoolMax {
		return nil, errSpoolFull
	}
	// Guix verdicts are the parent's own, over the spooled bytes (Recheck dropped the worker's).
	if im.ACL != nil {
		if err := sandbox.VerifyExports(ctx, results, spoolDir, im.ACL, im.Present); err != nil {
			return nil, err
		}
	}
	dec, err := im.decide(ctx, results, spoolDir, im.sandboxBlobScan(sb))
	if dec != nil {
		dec.Worker = conf.String()
	}
	return dec, err
}

// Read implements Importer.
func (im *ScanImporter) Read(ctx context.Context, fsys fs.FS, spoolDir string, progress Progress) (*Decision, error) {
	// The total is what the stick's directory claims; it only drives the progress bar.
	var total int64
	files := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
			if im.MaxFiles > 0 && files > im.MaxFiles {
				return fmt.Errorf("more than %d files on the stick (limits.max_stick_files)", im.MaxFiles)
			}
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the stick: %w", err)
	}
	if im.SpoolMax > 0 && total > im.SpoolMax {
		return nil, fmt.Errorf("the stick holds %d bytes, more than the spool allows (import.spool_max = %d)", total, im.SpoolMax)
	}
	sp := &spooler{dir: spoolDir, max: im.SpoolMax, total: total, progress: progress}
	defer sp.closeAll()
	opts := im.Options
	opts.Spool = sp
	if im.ACL != nil {
		opts.Guix = im.ACL
		opts.GuixPresent = im.Present // the policy's import.known_store_paths
	}
	sc := scanner.New(im.Rules, opts)
	results, err := sc.ScanAll(ctx, fsys, ".")
	if err != nil {
		return nil, err
	}
	if err := sp.failed(); err != nil {
		return nil, err
	}
	sp.closeAll()
	return im.decide(ctx, results, spoolDir, im.localBlobScan)
}

// decide makes the import decision over results whose Guix exports were judged (by the scanner
// in this process, or by the parent over the spool after a sandboxed read). The channel and
// quorum bases are judged here, over the spooled bytes, with scan for a bundle's blobs.
func (im *ScanImporter) decide(ctx context.Context, results []scanner.Result, spoolDir string, scan blobScan) (*Decision, error) {
	chans, err := im.judgeChannels(ctx, results, spoolDir, scan)
	if err != nil {
		return nil, err
	}
	qrep, qproblems, err := im.judgeQuorum(ctx, results, spoolDir)
	if err != nil {
		return nil, err
	}
	decisions := scanner.Decide(results, im.Allowlist)
	byPath := map[string]*scanner.Result{}
	for i := range results {
		byPath[results[i].Path] = &results[i]
	}
	qreasons := map[string][]string{}
	if qrep != nil && !qrep.Accept {
		for _, why := range quorumReasons(qrep) {
			for i := range results {
				if isQuorumInput(&results[i]) && results[i].SHA256 != "" && quorumConcerns(qrep, results[i].Path, why) {
					qreasons[results[i].Path] = append(qreasons[results[i].Path], why)
				}
			}
		}
	}
	for i := range decisions {
		d := &decisions[i]
		r := byPath[d.Path]
		switch {
		case r == nil:
		case chans[d.Path] != nil:
			// A channel's bundle crosses on its channel basis alone: an allowlist entry must not
			// bypass the rollback check.
			cv := chans[d.Path]
			d.Reasons = append(r.Problems(), cv.reasons...)
			d.Basis = ""
			if cv.res != nil && len(d.Reasons) == 0 {
				d.Basis = BasisChannel
			}
		case qrep != nil && isQuorumInput(r):
			// With a quorum, exports and narinfos cross on the quorum alone (never on one
			// builder's signature under the ACL).
			d.Reasons = r.Problems()
			if r.SHA256 == "" {
				d.Reasons = append(d.Reasons, r.Path+": not read whole, so not hashed")
			}
			if p := qproblems[d.Path]; p != "" {
				d.Reasons = append(d.Reasons, d.Path+": guix quorum: "+p)
			}
			d.Reasons = append(d.Reasons, qreasons[d.Path]...)
			d.Basis = ""
			if qrep.Accept && len(d.Reasons) == 0 {
				d.Basis = BasisQuorum
			}
		}
		d.Approved = d.Basis != "" && len(d.Reasons) == 0
	}
	// A name the disc cannot carry as it is would be refused later, by the writer: say so now,
	// as the verdict on that file (and in the report).
	for i := range decisions {
		if err := burner.CheckName(decisions[i].Path); err != nil {
			decisions[i].Approved, decisions[i].Basis = false, ""
			decisions[i].Reasons = append(decisions[i].Reasons, err.Error())
		}
	}
	// The quorum's carrier: the one export that crosses, rewritten and re-signed.
	carrier := ""
	quorumOK := false
	if qrep != nil && qrep.Accept {
		carrier = qrep.Carrier()
		quorumOK = carrier != ""
		for i := range decisions {
			d := &decisions[i]
			if r := byPath[d.Path]; r != nil && isQuorumInput(r) {
				quorumOK = quorumOK && d.Approved
				if carrier == "" {
					d.Approved, d.Basis = false, ""
					d.Reasons = append(d.Reasons, d.Path+": guix quorum: no single export carries the NAR bytes of every approved item")
				}
			}
		}
	}
	rep := importReport{Report: scanner.NewReport(results, decisions), Quorum: qrep}
	dec := &Decision{}
	drop := map[string]bool{}
	burned := map[string][2]string{} // path -> the SHA-256 and size burned, when not the stick's
	if quorumOK {
		if im.GuixKey == nil {
			return nil, errors.New("guix quorum: no appliance Guix key to re-sign the approved items (import.resign_guix)")
		}
		sum, size, err := rewriteCarrier(ctx, spoolDir, carrier, qrep, im.GuixKey)
		if err != nil {
			return nil, err
		}
		burned[carrier] = [2]string{sum, fmt.Sprint(size)}
		rep.Resigned = append(rep.Resigned, resigned{Path: carrier, Judged: byPath[carrier].SHA256, Burned: sum, Size: size})
		// The other inputs were votes: they do not cross (the carrier has every approved NAR).
		for i := range results {
			if r := &results[i]; isQuorumInput(r) && r.Path != carrier {
				drop[r.Path] = true
				if err := os.Remove(filepath.Join(spoolDir, filepath.FromSlash(r.Path))); err != nil {
					return nil, fmt.Errorf("spool: %w", err)
				}
			}
		}
	}
	if im.ResignGuix && im.GuixKey != nil {
		for _, d := range decisions {
			if !d.Approved || d.Basis != scanner.BasisGuixACL {
				continue
			}
			r := byPath[d.Path]
			sum, size, err := guix.ResignFile(ctx, filepath.Join(spoolDir, filepath.FromSlash(d.Path)), r.Sum, im.GuixKey)
			if err != nil {
				return nil, fmt.Errorf("resign_guix: %w", err)
			}
			h := hex.EncodeToString(sum[:])
			burned[d.Path] = [2]string{h, fmt.Sprint(size)}
			rep.Resigned = append(rep.Resigned, resigned{Path: d.Path, Judged: r.SHA256, Burned: h, Size: size})
		}
	}
	for _, d := range decisions {
		if cv := chans[d.Path]; cv != nil {
			rec := channelRecord(d.Path, byPath[d.Path].SHA256, cv, d.Approved, d.Reasons)
			dec.Records = append(dec.Records, rec)
			rep.Channels = append(rep.Channels, channelReportOf(rec, d.Approved))
		}
	}
	if qrep != nil {
		inputs := map[string]string{}
		for i := range results {
			if isQuorumInput(&results[i]) {
				inputs[results[i].Path] = results[i].SHA256
			}
		}
		dec.Records = append(dec.Records, quorumRecords(qrep, carrier, inputs, quorumOK)...)
	}
	var js bytes.Buffer
	if err := rep.writeJSON(&js); err != nil {
		return nil, err
	}
	dec.Report = js.Bytes()
	for _, d := range decisions {
		if drop[d.Path] {
			continue
		}
		fv := FileVerdict{Path: d.Path, Approved: d.Approved, Reasons: d.Reasons}
		if r := byPath[d.Path]; r != nil {
			fv.Size, fv.SHA256 = r.Size, r.SHA256
		}
		if d.Approved {
			fv.Reasons = []string{"approved by " + d.Basis}
		}
		if b, ok := burned[d.Path]; ok {
			fv.SHA256 = b[0]
			fmt.Sscan(b[1], &fv.Size)
			fv.Reasons = append(fv.Reasons, "re-signed with the appliance's Guix key (judged SHA-256 "+byPath[d.Path].SHA256+")")
		}
		dec.Files = append(dec.Files, fv)
	}
	sort.Slice(dec.Files, func(i, j int) bool { return dec.Files[i].Path < dec.Files[j].Path })
	return dec, nil
}

// quorumConcerns says whether a quorum reason concerns the input named file (it voted on the
// item, or the reason is about the file itself); a reason naming no input concerns them all.
func quorumConcerns(rep *guix.QuorumReport, file, why string) bool {
	for _, it := range rep.Items {
		if !strings.HasPrefix(why, "guix quorum: "+it.StorePath+":") {
			continue
		}
		for _, v := range it.Votes {
			if v.File == file {
				return true
			}
		}
		return false
	}
	for _, f := range rep.Files {
		if strings.HasPrefix(why, "guix quorum: "+f.Name+" ") {
			return f.Name == file
		}
	}
	return true
}

// importReport is AIRLOCK/report.json: the scanner's report plus the channel and quorum
// judgements and the files re-signed before the burn.
type importReport struct {
	scanner.Report
	Channels []channelReport    `json:"channels,omitempty"`
	Quorum   *guix.QuorumReport `json:"guix_quorum,omitempty"`
	Resigned []resigned         `json:"resigned,omitempty"`
}

// resigned is an export the appliance re-signed: the bytes judged and the bytes burned.
type resigned struct {
	Path   string `json:"path"`
	Judged string `json:"judged_sha256"`
	Burned string `json:"burned_sha256"`
	Size   int64  `json:"burned_size"`
}

func (r importReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// spooler writes every top-level file the scanner reads into the RAM spool, under the same
// relative path, within a byte budget.
type spooler struct {
	dir      string
	max      int64
	total    int64
	progress Progress

	mu      sync.Mutex
	written int64
	files   []*os.File
	err     error
}

func (s *spooler) Spool(p string, size int64) (scanner.SpoolFile, error) {
	if !fs.ValidPath(p) || p == "." {
		return nil, fmt.Errorf("spool: invalid path %q", p)
	}
	dst := filepath.Join(s.dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	s.files = append(s.files, f)
	s.mu.Unlock()
	return &spoolFile{f: f, s: s}, nil
}

var errSpoolFull = errors.New("spool full (import.spool_max)")

func (s *spooler) add(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written += int64(n)
	if s.max > 0 && s.written > s.max {
		s.err = errSpoolFull
		return s.err
	}
	if s.progress != nil {
		total := s.total
		if s.written > total {
			total = s.written
		}
		s.progress(s.written, total)
	}
	return nil
}

func (s *spooler) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *spooler) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		f.Close()
	}
	s.files = nil
}

type spoolFile struct {
	f *os.File
	s *spooler
}

func (w *spoolFile) Write(b []byte) (int, error) {
	if err := w.s.add(len(b)); err != nil {
		return 0, err
	}
	return w.f.Write(b)
}

func (w *spoolFile) ReadAt(b []byte, off int64) (int, error) { return w.f.ReadAt(b, off) }

var _ io.ReaderAt = (*spoolFile)(nil)
