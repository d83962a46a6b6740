package appliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/airlock-appliance/airlock/burner"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

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
	dec, err := im.decide(results)
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
	return im.decide(results)
}

// decide makes the import decision over results whose Guix exports were judged (by the scanner
// in this process, or by the parent over the spool after a sandboxed read).
func (im *ScanImporter) decide(results []scanner.Result) (*Decision, error) {
	decisions := scanner.Decide(results, im.Allowlist)
	// A name the disc cannot carry as it is would be refused later, by the writer: say so now,
	// as the verdict on that file (and in the report).
	for i := range decisions {
		if err := burner.CheckName(decisions[i].Path); err != nil {
			decisions[i].Approved, decisions[i].Basis = false, ""
			decisions[i].Reasons = append(decisions[i].Reasons, err.Error())
		}
	}
	report := scanner.NewReport(results, decisions)
	var js bytes.Buffer
	if err := report.WriteJSON(&js); err != nil {
		return nil, err
	}
	dec := &Decision{Report: js.Bytes()}
	byPath := map[string]*scanner.Result{}
	for i := range results {
		byPath[results[i].Path] = &results[i]
	}
	for _, d := range decisions {
		fv := FileVerdict{Path: d.Path, Approved: d.Approved, Reasons: d.Reasons}
		if r := byPath[d.Path]; r != nil {
			fv.Size, fv.SHA256 = r.Size, r.SHA256
		}
		if d.Approved {
			fv.Reasons = []string{"approved by " + d.Basis}
		}
		dec.Files = append(dec.Files, fv)
	}
	sort.Slice(dec.Files, func(i, j int) bool { return dec.Files[i].Path < dec.Files[j].Path })
	return dec, nil
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
