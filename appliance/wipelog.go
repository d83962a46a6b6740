package appliance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	// Site is what every certificate states (the policy's [certificate] table).
	Site sealing.CertFields
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
func (m *MediaWiper) Finish(ctx context.Context, id Identity, w WipeReport, job WipeJob, logIndex int64) (*SanitizeResult, error) {
	mw, ok := w.(mediaWipe)
	if !ok {
		return nil, errors.New("not a media wipe report")
	}
	r, err := media.FinishSanitize(ctx, id.Dev, mw.r, nil, media.SanitizeOptions{
		Format: true, Label: m.Label, Key: m.Key, Identity: m.identity(id),
		Info: media.CertInfo{ID: filepath.Base(id.Dev) + "-" + mw.r.Start.UTC().Format("20060102T150405Z"),
			Station: m.Station, Operator: job.Operator, ToolVersion: m.Version, AuditLogIndex: logIndex,
			Fields: m.Site.Merge(job.Fields)}})
	if r == nil || r.Certificate == nil {
		return nil, err
	}
	res := &SanitizeResult{Certificate: r.JSON, Signature: r.Sig, Text: r.Certificate.Form(r.Sig),
		Passed: err == nil && r.Certificate.Result == sealing.ResultPassed, Summary: mw.Summary()}
	if err != nil {
		// The FAILED certificate of a failed reformat is still the record of what happened.
		return res, err
	}
	if m.CertDir != "" {
		if files, ferr := r.CertificateFiles(); ferr == nil {
			dir := filepath.Join(m.CertDir, r.Certificate.ID)
			if err := os.MkdirAll(dir, 0o755); err == nil {
				for _, f := range files {
					os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644)
				}
				res.Where = filepath.Join(dir, media.CertJSON)
			}
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
	_, err := sealing.WriteDiscAudit(t.Log, t.Dir, root, index, -1)
	return err
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
	v, err := sealing.VerifyTracked(ctx, fsys, opts, c.StateDir)
	if err != nil {
		return "", err
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
