package appliance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"golang.org/x/mod/sumdb/note"
)

// MediaWiper is the Wiper over package media (wipe + read-back verification, MBR + FAT32
// reformat) and package sealing (the signed certificate).
type MediaWiper struct {
	Method, Verify, Label string
	Key                   *sealing.SealKey
	Station               string
	Version               string
	// CertDir, when set (host mode), also keeps a copy of every certificate there.
	CertDir string
	// Devices gives the media identity the guard saw, for the certificate.
	Devices *MediaDevices
}

type mediaWipe struct{ r *media.WipeReport }

func (w mediaWipe) Summary() string {
	r := w.r
	// A wipe cut short (a pulled stick) has no verification result: say so, never leave the
	// field empty.
	result := strings.ToLower(r.VerifyResult)
	if result == "" {
		result = "not completed"
	}
	return fmt.Sprintf("%s, %d pass(es), %s verification %s, %d bytes written, %d verified",
		r.Method, r.Passes, r.Verify, result, r.BytesWritten, r.BytesVerified)
}

func (w mediaWipe) Failed() error {
	if w.r.Result != media.Passed {
		if len(w.r.Errors) > 0 {
			return errors.New(strings.Join(w.r.Errors, "; "))
		}
		return fmt.Errorf("wipe result %s", w.r.Result)
	}
	return nil
}

// Wipe implements Wiper.
func (m *MediaWiper) Wipe(ctx context.Context, id Identity, progress PhaseProgress) (WipeReport, error) {
	rep, err := media.Wipe(ctx, id.Dev, media.WipeOptions{Method: m.Method, Verify: m.Verify,
		Progress: func(p media.Progress) {
			phase := p.Phase // "pass 1/3 zero", "verify full": as airlock wipe shows them
			if strings.HasPrefix(phase, "pass ") {
				phase = "write " + phase
			}
			progress(phase, p.Done, p.Total)
		}})
	if rep == nil {
		return nil, err
	}
	return mediaWipe{rep}, err
}

func (m *MediaWiper) identity(id Identity) *media.Identity {
	if m.Devices != nil {
		m.Devices.mu.Lock()
		defer m.Devices.mu.Unlock()
		if mid := m.Devices.ids[id.Dev]; mid != nil {
			return mid
		}
	}
	return &media.Identity{Node: id.Dev, Bus: id.Bus, Vendor: id.Vendor, Model: id.Model, Serial: id.Serial, Size: id.Size}
}

// Finish implements Wiper: certificate (with the audit index of the wipe record), signature,
// reformat with the certificate in the new filesystem's root.
func (m *MediaWiper) Finish(ctx context.Context, id Identity, w WipeReport, operator string, logIndex int64) (*SanitizeResult, error) {
	mw, ok := w.(mediaWipe)
	if !ok {
		return nil, errors.New("not a media wipe report")
	}
	label := m.Label
	if label == "" {
		label = "AIRLOCK"
	}
	vid := media.NewVolumeID()
	cert := media.NewCertificate(mw.r, m.identity(id), media.CertInfo{ID: filepath.Base(id.Dev) + "-" + mw.r.Start.UTC().Format("20060102T150405Z"),
		Station: m.Station, Operator: operator, ToolVersion: m.Version, AuditLogIndex: logIndex})
	cert.PostAction = media.FormatPostAction(label, vid)
	js, sig, err := cert.Sign(m.Key)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	text := cert.Text()
	files := []media.File{{Name: media.CertText, Data: []byte(text)}, {Name: media.CertJSON, Data: js}, {Name: media.CertSig, Data: sig}}
	if _, err := media.Reformat(ctx, id.Dev, media.FormatOptions{Label: label, VolumeID: vid, Files: files, Time: mw.r.End}); err != nil {
		return nil, err
	}
	res := &SanitizeResult{Certificate: js, Signature: sig, Text: text, Passed: cert.Result == sealing.ResultPassed,
		Summary: mw.Summary()}
	if m.CertDir != "" {
		dir := filepath.Join(m.CertDir, cert.ID)
		if err := os.MkdirAll(dir, 0o755); err == nil {
			for _, f := range files {
				os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644)
			}
			res.Where = filepath.Join(dir, media.CertJSON)
		}
	}
	return res, nil
}

// TLog is the AuditLog over package sealing/auditlog.
//
// The evidence a disc carries (DESIGN.md, disc layout; sealing.DiscAudit), written by Evidence
// under AIRLOCK/:
//
//	checkpoint              the log's signed checkpoint (C2SP tlog-checkpoint note) right after
//	                        the seal record was appended; its size N includes the record
//	record.json             the seal record itself (canonical JSON, as hashed into the tree)
//	proofs/inclusion        inclusion proof of the seal record (index = the seal's log=) in the tree
//	                        of size N, one base64 hash per line (auditlog.FormatProof)
//	proofs/consistency      consistency proof from the previous disc's tree size M to N, same
//	                        format; absent on the first disc
//	proofs/previous-size    M, decimal, when proofs/consistency is present
type TLog struct {
	Log *auditlog.Log
	Dir string
	// Ephemeral_ says the log lives in RAM for this boot (no log medium; see EphemeralLog).
	Ephemeral_ bool

	mu sync.Mutex
}

// lastDiscFile keeps the tree size of the last disc's checkpoint, in the log directory.
const lastDiscFile = "airlock-last-disc-size"

// Append implements AuditLog.
func (t *TLog) Append(ctx context.Context, r Record) (int64, error) {
	m := map[string]any{"type": r.Type}
	for k, v := range r.Fields {
		if k != "type" {
			m[k] = v
		}
	}
	idx, err := t.Log.Append(ctx, m)
	if err != nil {
		return idx, err
	}
	// Keep the log's own checkpoint current, so that the log medium alone proves every record.
	if _, err := t.Log.Checkpoint(); err != nil {
		return idx, fmt.Errorf("audit log checkpoint: %w", err)
	}
	return idx, nil
}

// Evidence implements AuditLog: sealing.DiscAudit's files, with the consistency proof from
// the previous disc's tree size (kept in the log directory).
func (t *TLog) Evidence(index int64, root string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp, err := t.Log.Checkpoint()
	if err != nil {
		return err
	}
	c, err := auditlog.ParseSignedCheckpoint(cp)
	if err != nil {
		return err
	}
	var prev []int64
	if b, err := os.ReadFile(filepath.Join(t.Dir, lastDiscFile)); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			prev = append(prev, n)
		}
	}
	files, err := sealing.DiscAudit(t.Log, cp, index, prev...)
	if err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	// The next disc proves consistency from this one.
	return os.WriteFile(filepath.Join(t.Dir, lastDiscFile), []byte(strconv.FormatInt(c.Size, 10)+"\n"), 0o600)
}

// Where implements AuditLog.
func (t *TLog) Where() string { return t.Dir }

// Ephemeral implements EphemeralLog.
func (t *TLog) Ephemeral() bool { return t.Ephemeral_ }

// Close closes the log.
func (t *TLog) Close() error { return t.Log.Close() }

// SealChecker is the DiscChecker over package sealing: the seal signature, every hash, the
// file set, the checkpoint's log signature, and consistency with the last accepted checkpoint
// (kept in StateDir), so a rolled-back or forked log is caught.
type SealChecker struct {
	Trusted  []*sealing.PublicKey
	LogKey   note.Verifier // may be nil
	StateDir string        // "" keeps no state
}

// Check implements DiscChecker.
func (c *SealChecker) Check(ctx context.Context, id Identity, fsys fs.FS) (string, error) {
	opts := sealing.VerifyOptions{Trusted: c.Trusted, LogKey: c.LogKey}
	if c.StateDir != "" {
		prev, err := sealing.LoadState(c.StateDir)
		if err != nil {
			return "", fmt.Errorf("check state: %w", err)
		}
		opts.Previous = prev
	}
	// A disc (or any medium holding ISO 9660) verifies only as the byte-for-byte output of
	// airlock's writer: the same burner.CheckDisc as airlock verify. Copied folders keep the
	// seal checks alone.
	if isDisc(id, fsys) {
		d, closer, err := burner.CheckDisc(ctx, id.Dev)
		if err != nil {
			return "", err
		}
		defer closer.Close()
		fsys = d.FS
	}
	v, err := sealing.Verify(ctx, fsys, opts)
	if err != nil {
		return "", err
	}
	if c.StateDir != "" && v.CheckpointMsg != nil {
		if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
			return "", err
		}
		if err := sealing.SaveState(c.StateDir, v.CheckpointMsg); err != nil {
			return "", fmt.Errorf("check state: %w", err)
		}
	}
	cp := "no checkpoint"
	if v.Checkpoint != nil {
		cp = fmt.Sprintf("checkpoint size %d", v.Checkpoint.Size)
	}
	return fmt.Sprintf("VALID: %d sealed files (approved and AIRLOCK/ evidence), %d bytes, session %s, station %s, log index %d, %s",
		v.Files, v.Bytes, v.Info.Session, v.Info.Station, v.Info.LogIndex, cp), nil
}

// isDisc reports whether the medium is an optical disc or holds an ISO 9660 volume anywhere.
func isDisc(id Identity, fsys fs.FS) bool {
	if id.Optical {
		return true
	}
	if m, ok := fsys.(*media.Medium); ok {
		for _, v := range m.Volumes {
			if v.Kind == "iso9660" {
				return true
			}
		}
	}
	return false
}
