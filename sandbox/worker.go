package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
	"github.com/airlock-appliance/airlock/scanner"
)

// Modes and sources of a worker.
const (
	modeScan   = "scan"
	modeList   = "ls"
	modeCheck  = "check"
	srcMedium  = "medium"
	srcDir     = "dir"
	srcFile    = "file"
	procFD     = "/proc/self/fd/"
	maxCfgSize = 64 << 10
)

// workerConfig is what the parent tells the worker (on its command line; trusted).
type workerConfig struct {
	Mode   string `json:"mode"`
	Source string `json:"source"`
	Name   string `json:"name,omitempty"` // srcFile: the file's base name
	Size   int64  `json:"size"`
	Sector int64  `json:"sector,omitempty"`
	Hash   bool   `json:"hash,omitempty"`

	Limits         scanner.Limits `json:"limits"`
	Timeout        time.Duration  `json:"timeout,omitempty"`
	Workers        int            `json:"workers,omitempty"`
	MemoryBudget   int64          `json:"memory_budget,omitempty"`
	BlockSize      int64          `json:"block_size,omitempty"`
	BlockOverlap   int64          `json:"block_overlap,omitempty"`
	ScanCompressed bool           `json:"scan_compressed,omitempty"`

	Spool    bool  `json:"spool,omitempty"`
	SpoolMax int64 `json:"spool_max,omitempty"`
	MaxFiles int   `json:"max_files,omitempty"`
	Broker   bool  `json:"broker,omitempty"` // a directory is read through the broker (fdBroker)

	Confine bool   `json:"confine"`
	Memory  int64  `json:"memory,omitempty"`
	NoFile  int    `json:"nofile,omitempty"`
	Fault   string `json:"fault,omitempty"`
	// NoLandlock skips Landlock, as on a kernel without it; honoured only in test builds.
	NoLandlock bool `json:"no_landlock,omitempty"`
}

// faultHook, set only in this package's test binary, injects the fault named by the parent
// after the worker confined itself. It returns false to go on with the real work.
var faultHook func(fault string, w *wire.Writer, j *job) bool

// MaybeWorker runs the scan worker and exits if args (os.Args) say this process is one; it
// returns otherwise. The program's main (and the TestMain of any package whose tests start
// workers) calls it before anything else.
func MaybeWorker(args []string) {
	if len(args) < 2 || args[1] != WorkerArg {
		return
	}
	os.Exit(workerMain(args[2:]))
}

// workerMain is the worker: confine, then read and report. Its exit status is 0 when it sent a
// complete stream.
func workerMain(args []string) int {
	debug.SetMemoryLimit(64 << 20) // the scanner bounds what it holds; keep the GC near that bound
	if len(args) != 1 || len(args[0]) > maxCfgSize {
		fmt.Fprintln(os.Stderr, "airlock worker: bad arguments")
		return 2
	}
	var cfg workerConfig
	if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "airlock worker: config:", err)
		return 2
	}
	out := os.NewFile(fdResults, "results")
	w := wire.NewWriter(out)
	j := &job{cfg: &cfg, src: os.NewFile(fdSource, "source"), tmpDir: procFD + fmt.Sprint(fdTemp)}
	var err error
	if cfg.Mode == modeScan {
		// Trusted inputs are loaded before the sandbox closes: the parent's compiled rules.
		if j.rules, err = scanner.LoadCompiled(procFD + fmt.Sprint(fdRules)); err != nil {
			return fail(w, fmt.Errorf("rules: %w", err))
		}
	}
	if cfg.Broker {
		j.broker = &brokerFS{sock: fdBroker}
		if cfg.Spool {
			j.create = j.broker.Create
		}
	}
	hello := wire.Hello{PID: os.Getpid()}
	// Only the test binary (faultHook set) may run an unconfined control worker.
	if cfg.Confine && !(faultHook != nil && strings.HasPrefix(cfg.Fault, "unconfined-")) {
		if hello, err = confine(&cfg); err != nil {
			return fail(w, fmt.Errorf("sandbox: %w", err))
		}
	}
	j.hello = hello
	if cfg.Fault != "" && faultHook != nil && faultHook(cfg.Fault, w, j) {
		return 0
	}
	if err := w.Send(wire.THello, hello); err != nil {
		return 3
	}
	j.serve(context.Background(), w)
	if err := w.Flush(); err != nil {
		return 3
	}
	return 0
}

func fail(w *wire.Writer, err error) int {
	fmt.Fprintln(os.Stderr, "airlock worker:", err)
	w.Send(wire.THello, wire.Hello{PID: os.Getpid()})
	w.Send(wire.TError, wire.Error{Msg: err.Error()})
	w.Send(wire.TDone, wire.Done{})
	return 0
}

// job is one worker's work, the same in the confined process and in-process.
type job struct {
	cfg    *workerConfig
	src    *os.File
	dir    *os.Root  // a directory source in-process (Config.Disabled)
	broker *brokerFS // a directory source in the worker
	rules  *scanner.Rules
	create func(name string) (*os.File, error) // creates a spool file (nil: no spool)
	tmpDir string
	// hello is the worker's account of its confinement, for a test fault to send.
	hello wire.Hello
	// rewrite, set only by a test fault, falsifies each result before it is sent.
	rewrite func(*scanner.Result)
}

// serve does the job and ends the stream: results, then Done, or an Error and Done.
func (j *job) serve(ctx context.Context, w *wire.Writer) {
	var results, entries int
	var err error
	if j.cfg.Mode != modeCheck {
		err = j.do(ctx, w, &results, &entries)
	}
	if err != nil {
		refused := errors.Is(err, media.ErrCorrupt) || errors.Is(err, media.ErrUnsupported) ||
			errors.Is(err, media.ErrNoFilesystem) || errors.Is(err, media.ErrRefused)
		w.Send(wire.TError, wire.Error{Msg: err.Error(), Refused: refused})
	}
	w.Send(wire.TDone, wire.Done{Results: results, Entries: entries})
}

func (j *job) source(ctx context.Context) (fs.FS, error) {
	switch j.cfg.Source {
	case srcMedium:
		m, err := media.ReadFS(ctx, j.src, j.cfg.Size, j.cfg.Sector)
		if err != nil {
			return nil, err
		}
		return m, nil
	case srcDir:
		if j.broker != nil {
			return j.broker, nil
		}
		if j.dir == nil {
			r, err := os.OpenRoot(j.src.Name())
			if err != nil {
				return nil, err
			}
			j.dir = r
		}
		return j.dir.FS(), nil
	case srcFile:
		return &oneFile{name: j.cfg.Name, f: j.src, size: j.cfg.Size}, nil
	}
	return nil, fmt.Errorf("unknown source %q", j.cfg.Source)
}

func (j *job) do(ctx context.Context, w *wire.Writer, results, entries *int) error {
	fsys, err := j.source(ctx)
	if err != nil {
		return err
	}
	// The total only drives progress, and bounds the stick before a byte of content is read.
	var total int64
	files := 0
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
			if j.cfg.MaxFiles > 0 && files > j.cfg.MaxFiles {
				return fmt.Errorf("more than %d files on the stick (limits.max_stick_files)", j.cfg.MaxFiles)
			}
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the stick: %w", err)
	}
	if j.cfg.SpoolMax > 0 && total > j.cfg.SpoolMax {
		return fmt.Errorf("the stick holds %d bytes, more than the spool allows (import.spool_max = %d)", total, j.cfg.SpoolMax)
	}
	if j.cfg.Mode == modeList {
		return j.list(ctx, w, fsys, entries)
	}
	c := j.cfg
	opts := scanner.Options{Limits: c.Limits, Timeout: c.Timeout, Workers: c.Workers, MemoryBudget: c.MemoryBudget,
		BlockSize: c.BlockSize, BlockOverlap: c.BlockOverlap, ScanCompressed: c.ScanCompressed, TempDir: j.tmpDir}
	prog := &progress{w: w, total: total}
	var sp *spooler
	if j.create != nil {
		sp = &spooler{create: j.create, max: c.SpoolMax, prog: prog, files: map[string]*os.File{}}
		opts.Spool = sp
		defer sp.closeAll()
	}
	sc := scanner.New(j.rules, opts)
	var sendErr error
	err = sc.ScanFS(ctx, &announceFS{FS: fsys, w: w}, ".", func(r scanner.Result) {
		if sp != nil {
			sp.close(r.Path)
		} else {
			prog.add(r.Size)
		}
		if sendErr != nil {
			return
		}
		if j.rewrite != nil {
			j.rewrite(&r)
		}
		frames := []wire.Frame{{Type: wire.TResult, Payload: wire.ResultHead{File: r.File, Inner: len(r.Inner)}}}
		for i := range r.Inner {
			frames = append(frames, wire.Frame{Type: wire.TInner, Payload: r.Inner[i]})
		}
		if err := w.SendSeq(frames...); err != nil {
			sendErr = err
			return
		}
		*results++
	})
	if err == nil {
		err = sendErr
	}
	if err == nil && sp != nil {
		err = sp.failed()
	}
	return err
}

func (j *job) list(ctx context.Context, w *wire.Writer, fsys fs.FS, entries *int) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := wire.Entry{Path: p, Size: info.Size()}
		if j.cfg.Hash {
			w.Send(wire.TOpen, wire.Open{Path: p, Size: e.Size})
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := newHash()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			e.SHA256 = h.hex()
		}
		if err := w.Send(wire.TEntry, e); err != nil {
			return err
		}
		*entries++
		return nil
	})
}

// announceFS sends an Open frame for every regular file the scanner opens, so that the parent
// can say what the worker was reading when it died.
type announceFS struct {
	fs.FS
	w *wire.Writer
}

func (a *announceFS) Open(name string) (fs.File, error) {
	f, err := a.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		a.w.Send(wire.TOpen, wire.Open{Path: name, Size: max(fi.Size(), 0)})
	}
	return f, nil
}

func (a *announceFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(a.FS, name) }

// ReadLink and Lstat pass fs.ReadLinkFS through, so that a symlink's target is reported.
func (a *announceFS) ReadLink(name string) (string, error)   { return fs.ReadLink(a.FS, name) }
func (a *announceFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(a.FS, name) }

// progress sends Progress frames, at most every MiB.
type progress struct {
	mu         sync.Mutex
	w          *wire.Writer
	done, sent int64
	total      int64
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.done-p.sent >= 1<<20 || p.done >= p.total {
		p.sent = p.done
		p.w.Send(wire.TProgress, wire.Progress{Bytes: p.done, Total: max(p.total, p.done)})
	}
}

// spooler writes every top-level file the scanner reads into the spool directory, under the same
// relative path, within a byte budget.
type spooler struct {
	create func(name string) (*os.File, error)
	max    int64
	prog   *progress

	mu      sync.Mutex
	written int64
	files   map[string]*os.File
	err     error
}

var errSpoolFull = errors.New("spool full (import.spool_max)")

func (s *spooler) Spool(p string, size int64) (scanner.SpoolFile, error) {
	if !fs.ValidPath(p) || p == "." {
		return nil, fmt.Errorf("spool: invalid path %q", p)
	}
	f, err := s.create(p)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.mu.Lock()
	s.files[p] = f
	s.mu.Unlock()
	return &spoolFile{f: f, s: s}, nil
}

func (s *spooler) add(n int) error {
	s.mu.Lock()
	s.written += int64(n)
	if s.max > 0 && s.written > s.max {
		s.err = errSpoolFull
		s.mu.Unlock()
		return errSpoolFull
	}
	s.mu.Unlock()
	s.prog.add(int64(n))
	return nil
}

func (s *spooler) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// close closes a file once its result is out (the worker's open files are bounded).
func (s *spooler) close(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[p]; f != nil {
		f.Close()
		delete(s.files, p)
	}
}

func (s *spooler) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, f := range s.files {
		f.Close()
		delete(s.files, p)
	}
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

// rootCreate creates spool files in r (in-process, and the broker's way in the parent).
func rootCreate(r *os.Root) func(string) (*os.File, error) {
	return func(p string) (*os.File, error) {
		if d := path.Dir(p); d != "." {
			if err := r.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		return r.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
}

// oneFile is an fs.FS holding one regular file (airlock scan FILE).
type oneFile struct {
	name string
	f    *os.File
	size int64
}

func (o *oneFile) Open(name string) (fs.File, error) {
	switch name {
	case ".":
		return &oneDir{o: o}, nil
	case o.name:
		return &oneFileFile{SectionReader: io.NewSectionReader(o.f, 0, o.size), o: o}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (o *oneFile) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(o.info())}, nil
}

func (o *oneFile) info() fs.FileInfo { return fileInfo{name: o.name, size: o.size} }

type oneFileFile struct {
	*io.SectionReader
	o *oneFile
}

func (f *oneFileFile) Stat() (fs.FileInfo, error) { return f.o.info(), nil }
func (f *oneFileFile) Close() error               { return nil }

type oneDir struct {
	o    *oneFile
	done bool
}

func (d *oneDir) Stat() (fs.FileInfo, error) { return fileInfo{name: ".", dir: true}, nil }
func (d *oneDir) Read([]byte) (int, error)   { return 0, io.EOF }
func (d *oneDir) Close() error               { return nil }
func (d *oneDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.done {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.done = true
	return d.o.ReadDir(".")
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (fi fileInfo) Name() string { return fi.name }
func (fi fileInfo) Size() int64  { return fi.size }
func (fi fileInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o500
	}
	return 0o400
}
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }

func uintptrOf(p *uint64) uintptr { return uintptr(unsafe.Pointer(p)) }
