package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
	"github.com/airlock-appliance/airlock/scanner"
)

// WorkerArg is the hidden first argument that makes the airlock binary a scan worker.
const WorkerArg = "__airlock-worker"

// Defaults of a Config's zero fields.
const (
	DefaultID      = 65534 // nobody/nogroup
	DefaultMemory  = 16 << 30
	DefaultNoFile  = 1024
	DefaultTimeout = 2 * time.Hour
)

// Errors.
var (
	// ErrWorker is wrapped by every *WorkerError: the worker's run is void.
	ErrWorker = errors.New("scan worker failed")
	// ErrRefused is wrapped when the worker refused the medium's content (corrupt, unsupported,
	// no filesystem): a negative verdict rather than an operational failure.
	ErrRefused = errors.New("medium refused")
	// ErrDeadline is wrapped when the worker was killed at its wall-clock deadline
	// (Config.Timeout; the policy's sandbox.deadline). It is also context.DeadlineExceeded.
	ErrDeadline = fmt.Errorf("scan worker deadline passed: %w", context.DeadlineExceeded)
	// ErrRecheck is wrapped when the parent's own check of the spool contradicts the worker.
	ErrRecheck = errors.New("spool does not match the worker's report")
)

// Config says how workers are started. The zero value is the real sandbox with the defaults.
type Config struct {
	// Disabled runs the worker's code in this process, unconfined: for debugging only
	// (--no-sandbox); the station refuses it in boot mode.
	Disabled bool
	// Executable is the airlock binary (default /proc/self/exe).
	Executable string
	// UID and GID the worker runs as when the parent is root (default 65534).
	UID, GID int
	// Memory bounds the worker's address space (RLIMIT_AS); NoFile its open files.
	Memory int64
	NoFile int
	// Timeout is the wall-clock deadline of one run, after which the worker is killed.
	Timeout time.Duration
	// TempDir holds the worker's scratch directory (default os.TempDir()); the scanner spills
	// large inner files there.
	TempDir string

	fault string // test builds: a fault the worker injects (see fault_test.go)
}

// Kind is what a Source is.
type Kind int

// Source kinds.
const (
	// Medium is a block device or disk image, read in userspace (never mounted).
	Medium Kind = iota
	// Dir is a directory tree.
	Dir
	// File is one regular file.
	File
)

// Source is what the worker reads.
type Source struct {
	Path string
	Kind Kind
}

// ScanRequest is one scan.
type ScanRequest struct {
	Source Source
	// Rules are the compiled rules; the worker gets a copy.
	Rules *scanner.Rules
	// Options are the scanner's limits and tuning (Spool, Guix and TempDir are ignored: the
	// worker spools to SpoolDir and judges no Guix export, the parent does).
	Options scanner.Options
	// SpoolDir, when set, receives every top-level file under its path; SpoolMax bounds its
	// bytes and MaxFiles the number of top-level files (0: unbounded).
	SpoolDir string
	SpoolMax int64
	MaxFiles int
	// Progress, if set, is told the bytes read so far and about how many there are.
	Progress func(done, total int64)
}

// Confinement is the worker's own account of its confinement and the namespaces the parent
// started it in, for the log.
type Confinement struct {
	Sandboxed  bool // false with Config.Disabled
	PID, UID   int
	Landlock   int // Landlock ABI version enforced, 0 none
	Seccomp    bool
	Namespaces bool // user, network, IPC and mount namespaces
	// PeakRSS and CPU are the worker's (from its rusage; 0 in-process).
	PeakRSS int64
	CPU     time.Duration
}

func (c Confinement) String() string {
	if !c.Sandboxed {
		return "scan worker NOT sandboxed (--no-sandbox)"
	}
	ns := "no namespaces (the kernel refused them)"
	if c.Namespaces {
		ns = "user+net+ipc+mount namespaces"
	}
	ll := "no Landlock (kernel lacks it)"
	if c.Landlock > 0 {
		ll = fmt.Sprintf("Landlock ABI %d", c.Landlock)
	}
	return fmt.Sprintf("scan worker pid %d uid %d: %s, seccomp %v, no capabilities, %s", c.PID, c.UID, ll, c.Seccomp, ns)
}

// WorkerError is a worker run that failed: crashed, killed, timed out, broke the protocol or
// reported an error of its own.
type WorkerError struct {
	Reason  string   // e.g. "killed by SIGSEGV"
	Reading []string // the top-level files it was reading, if any
	Stderr  string   // the tail of what it wrote on stderr
	Err     error    // the underlying error, if any
}

func (e *WorkerError) Error() string {
	s := "scan worker " + e.Reason
	if len(e.Reading) > 0 {
		s += " while reading " + strings.Join(e.Reading, ", ")
	}
	if e.Err != nil && e.Err != ErrDeadline && !strings.Contains(e.Reason, e.Err.Error()) {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *WorkerError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrWorker, e.Err}
	}
	return []error{ErrWorker}
}

// Scan runs one scan in a worker and returns its results, parsed strictly. With a spool the
// caller must still call Recheck before deciding anything on them.
func (c *Config) Scan(ctx context.Context, req *ScanRequest) ([]scanner.Result, Confinement, error) {
	if req.Rules == nil {
		return nil, Confinement{}, errors.New("sandbox: no rules")
	}
	wc := workerConfig{Mode: modeScan, Hash: true, SpoolMax: req.SpoolMax, MaxFiles: req.MaxFiles}
	o := req.Options
	wc.Limits, wc.Timeout, wc.Workers = o.Limits, o.Timeout, o.Workers
	wc.MemoryBudget, wc.BlockSize, wc.BlockOverlap, wc.ScanCompressed = o.MemoryBudget, o.BlockSize, o.BlockOverlap, o.ScanCompressed
	st, conf, err := c.run(ctx, &wc, req.Source, req.Rules, req.SpoolDir, req.Progress)
	if err != nil {
		return nil, conf, err
	}
	return st.Results, conf, nil
}

// Entry is one file of a listing.
type Entry struct {
	Path   string
	Size   int64
	SHA256 string // hex, with hash
}

// List lists the files of a medium in a worker (airlock ls), with their SHA-256 if hash.
func (c *Config) List(ctx context.Context, src Source, hash bool) ([]Entry, Confinement, error) {
	wc := workerConfig{Mode: modeList, Hash: hash}
	st, conf, err := c.run(ctx, &wc, src, nil, "", nil)
	if err != nil {
		return nil, conf, err
	}
	out := make([]Entry, len(st.Entries))
	for i, e := range st.Entries {
		out[i] = Entry(e)
	}
	return out, conf, nil
}

// Check starts a worker that confines itself and reports, reading nothing: the station runs it
// at start-up, so that a kernel or set-up that cannot run the sandbox is found before the first
// stick, and the operator and the log see what confinement the kernel gave.
func (c *Config) Check(ctx context.Context) (Confinement, error) {
	_, conf, err := c.run(ctx, &workerConfig{Mode: modeCheck}, Source{}, nil, "", nil)
	return conf, err
}

// Descriptor numbers in the worker.
const (
	fdResults = 3 + iota
	fdRules
	fdSource
	fdSpool
	fdTemp
	fdBroker // a directory source: the socket of the directory broker (broker.go)
)

// run starts a worker (or, Disabled, the worker's code in-process) and reads its stream.
func (c *Config) run(ctx context.Context, wc *workerConfig, src Source, rules *scanner.Rules, spoolDir string, progress func(int64, int64)) (*wire.Stream, Confinement, error) {
	var srcFile *os.File
	if wc.Mode != modeCheck {
		f, err := openSource(src, wc)
		if err != nil {
			return nil, Confinement{}, err
		}
		defer f.Close()
		srcFile = f
	}
	var err error
	var spool, tmp *os.File
	tmpDir := ""
	if wc.Mode == modeScan {
		tmpDir, err = os.MkdirTemp(c.TempDir, "airlock-worker-")
		if err != nil {
			return nil, Confinement{}, fmt.Errorf("sandbox: scratch: %w", err)
		}
		defer os.RemoveAll(tmpDir)
		if tmp, err = os.Open(tmpDir); err != nil {
			return nil, Confinement{}, fmt.Errorf("sandbox: scratch: %w", err)
		}
		defer tmp.Close()
		if spoolDir != "" {
			wc.Spool = true
			if spool, err = os.Open(spoolDir); err != nil {
				return nil, Confinement{}, fmt.Errorf("sandbox: spool: %w", err)
			}
			defer spool.Close()
		}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()

	tracker := newTracker()
	tracker.deadline = timeout
	h := wire.Handler{Open: tracker.open, Result: tracker.done, Progress: progress}
	if c.Disabled {
		return c.runInProcess(rctx, wc, srcFile, rules, spool, tmpDir, h, tracker)
	}
	return c.runWorker(rctx, wc, srcFile, rules, spool, tmp, spoolDir, tmpDir, h, tracker)
}

var errTimeout = errors.New("timed out")

// openSource opens the source read-only; for a medium it sets the kernel's read-only flag first
// (as media.Open does) and learns the size and sector size the worker cannot ask for.
func openSource(src Source, wc *workerConfig) (*os.File, error) {
	f, err := os.OpenFile(src.Path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	fail := func(err error) (*os.File, error) { f.Close(); return nil, fmt.Errorf("%s: %w", src.Path, err) }
	switch src.Kind {
	case Medium:
		wc.Source = srcMedium
		switch {
		case fi.Mode().IsRegular():
			wc.Size, wc.Sector = fi.Size(), 512
		case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
			fd := int(f.Fd())
			if err := unix.IoctlSetPointerInt(fd, unix.BLKROSET, 1); err != nil {
				return fail(fmt.Errorf("set read-only (BLKROSET): %w", err))
			}
			var sz uint64
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptrOf(&sz)); e != 0 {
				return fail(fmt.Errorf("BLKGETSIZE64: %w", e))
			}
			ss, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
			if err != nil {
				return fail(fmt.Errorf("BLKSSZGET: %w", err))
			}
			wc.Size, wc.Sector = int64(sz), int64(ss)
		default:
			return fail(errors.New("neither a block device nor a regular file"))
		}
	case Dir:
		if !fi.IsDir() {
			return fail(errors.New("not a directory"))
		}
		wc.Source = srcDir
	case File:
		if !fi.Mode().IsRegular() {
			return fail(errors.New("not a regular file"))
		}
		wc.Source, wc.Name, wc.Size = srcFile, filepath.Base(src.Path), fi.Size()
	default:
		return fail(fmt.Errorf("unknown source kind %d", src.Kind))
	}
	return f, nil
}

// tracker knows which top-level files the worker is reading, to name them when it dies.
type tracker struct {
	mu       sync.Mutex
	inflight map[string]bool
	last     string
	deadline time.Duration // the run's, to name it when it passes
}

func newTracker() *tracker { return &tracker{inflight: map[string]bool{}} }

func (t *tracker) open(o wire.Open) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.inflight) < 64 {
		t.inflight[o.Path] = true
	}
	t.last = o.Path
}

func (t *tracker) done(p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inflight, p)
}

// reading lists the files being read, sorted.
func (t *tracker) reading() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for p := range t.inflight {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// tail keeps the last n bytes written.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.ToValidUTF8(string(t.buf), "?")
}

func (c *Config) ids() (int, int) {
	u, g := c.UID, c.GID
	if u <= 0 {
		u = DefaultID
	}
	if g <= 0 {
		g = DefaultID
	}
	return u, g
}

func (c *Config) runWorker(ctx context.Context, wc *workerConfig, src *os.File, rules *scanner.Rules, spool, tmp *os.File,
	spoolDir, tmpDir string, h wire.Handler, tr *tracker) (*wire.Stream, Confinement, error) {
	conf := Confinement{Sandboxed: true}
	var rulesFile *os.File
	if rules != nil {
		f, err := rulesMemfd(rules)
		if err != nil {
			return nil, conf, err
		}
		defer f.Close()
		rulesFile = f
	}
	wc.Confine, wc.Fault = true, c.fault
	wc.Memory, wc.NoFile = c.Memory, c.NoFile
	if wc.Memory <= 0 {
		wc.Memory = DefaultMemory
	}
	if wc.NoFile <= 0 {
		wc.NoFile = DefaultNoFile
	}
	root := os.Getuid() == 0
	wu, wg := c.ids()
	if root && tmpDir != "" {
		// The worker's uid must be able to write its scratch directory (removed afterwards).
		// The spool's files are created by the broker, as this process.
		if err := os.Chown(tmpDir, wu, wg); err != nil {
			return nil, conf, fmt.Errorf("sandbox: %w", err)
		}
	}
	var brokerEnd *os.File
	if wc.Source == srcDir || spoolDir != "" {
		// The worker looks nothing up in the tree and creates nothing in the spool itself:
		// the broker does, as this process (broker.go).
		var tree, spoolRoot *os.Root
		var err error
		if wc.Source == srcDir {
			if tree, err = os.OpenRoot(procFD + fmt.Sprint(src.Fd())); err != nil {
				return nil, conf, fmt.Errorf("sandbox: %w", err)
			}
			defer tree.Close()
			src = nil // nor does it get the tree's descriptor
		}
		if spoolDir != "" {
			if spoolRoot, err = os.OpenRoot(spoolDir); err != nil {
				return nil, conf, fmt.Errorf("sandbox: spool: %w", err)
			}
			defer spoolRoot.Close()
			spool = nil
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, conf, fmt.Errorf("sandbox: broker socket: %w", err)
		}
		mine := os.NewFile(uintptr(fds[0]), "broker")
		brokerEnd = os.NewFile(uintptr(fds[1]), "broker-worker")
		defer brokerEnd.Close()
		served := make(chan struct{})
		go func() { defer close(served); serveBroker(mine, tree, spoolRoot) }()
		// The server ends when the worker's end is closed (the worker exited and this
		// process closed its copy, below); root is closed only after it.
		defer func() { <-served; mine.Close() }()
		wc.Broker = true
	}
	cfgJSON, err := json.Marshal(wc)
	if err != nil {
		return nil, conf, err
	}
	exe := c.Executable
	if exe == "" {
		exe = "/proc/self/exe"
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, conf, err
	}
	defer pr.Close()
	stderr := &tail{n: 8 << 10}
	newCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, WorkerArg, string(cfgJSON))
		cmd.Env = []string{"GOTRACEBACK=single", "LANG=C"}
		cmd.ExtraFiles = []*os.File{pw, rulesFile, src, spool, tmp, brokerEnd}
		cmd.Stderr = stderr
		cmd.WaitDelay = 5 * time.Second
		return cmd
	}
	cmd := newCmd()
	cmd.SysProcAttr = procAttr(root, wu, wg, true)
	err = cmd.Start()
	conf.Namespaces = err == nil
	if err != nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EACCES)) {
		// The kernel refuses user namespaces to this caller (sysctl, LSM): run without them.
		cmd = newCmd()
		cmd.SysProcAttr = procAttr(root, wu, wg, false)
		err = cmd.Start()
	}
	pw.Close()
	if brokerEnd != nil {
		brokerEnd.Close() // the worker holds the only copy: its exit ends the broker
	}
	if err != nil {
		return nil, conf, &WorkerError{Reason: "could not start", Err: err}
	}
	// At the deadline the worker is killed; closing the pipe ends the read even if something
	// else still held its write end.
	stop := context.AfterFunc(ctx, func() { pr.Close() })
	st, perr := wire.NewReader(pr, wire.Limits{}, h).ReadAll()
	stop()
	if perr != nil {
		cmd.Process.Kill() // whatever it still does is void
	}
	werr := cmd.Wait()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			conf.PeakRSS = ru.Maxrss * 1024
			conf.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if st != nil {
		conf.PID, conf.UID, conf.Landlock, conf.Seccomp = st.Hello.PID, st.Hello.UID, st.Hello.Landlock, st.Hello.Seccomp
	}
	return judgeRun(ctx, st, perr, cmd.ProcessState, werr, stderr.String(), tr, conf)
}

// judgeRun turns how the worker ended into the run's outcome: only a complete stream from a
// worker that exited 0 counts.
func judgeRun(ctx context.Context, st *wire.Stream, perr error, ps *os.ProcessState, werr error, stderr string, tr *tracker, conf Confinement) (*wire.Stream, Confinement, error) {
	we := &WorkerError{Reading: tr.reading(), Stderr: stderr}
	if len(we.Reading) == 0 && tr.last != "" && perr != nil {
		we.Reading = []string{tr.last}
	}
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeout):
		we.Reason = fmt.Sprintf("timed out (killed after the %v deadline, sandbox.deadline)", tr.deadline)
		we.Err = ErrDeadline
		return nil, conf, we
	case ctx.Err() != nil:
		return nil, conf, context.Cause(ctx)
	}
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			switch {
			case ws.Signaled() && perr == nil:
				we.Reason = "killed by " + signalName(ws.Signal()) + " after its report"
				return nil, conf, we
			case ws.Signaled() && !errors.Is(perr, wire.ErrProtocol):
				we.Reason = "killed by " + signalName(ws.Signal()) + limitHint(ws.Signal())
				return nil, conf, we
			case ws.Exited() && ws.ExitStatus() != 0 && !errors.Is(perr, wire.ErrProtocol):
				we.Reason = fmt.Sprintf("exited with status %d", ws.ExitStatus())
				if line := fatalLine(stderr); line != "" {
					we.Reason += " (" + line + ")"
				}
				return nil, conf, we
			}
		}
	}
	if perr != nil {
		if errors.Is(perr, wire.ErrTruncated) {
			we.Reason = "exited before finishing its report"
		} else {
			we.Reason = "broke the protocol"
		}
		we.Err = perr
		return nil, conf, we
	}
	if werr != nil {
		we.Reason, we.Err = "failed", werr
		return nil, conf, we
	}
	if st.Err != nil {
		if st.Err.Refused {
			return nil, conf, refusedError(st.Err.Msg)
		}
		return nil, conf, errors.New(st.Err.Msg)
	}
	return st, conf, nil
}

// refusedError is the worker's refusal of the medium, in its words; it is ErrRefused.
type refusedError string

func (e refusedError) Error() string        { return string(e) }
func (e refusedError) Is(target error) bool { return target == ErrRefused }

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return s.String()
}

func limitHint(s syscall.Signal) string {
	switch s {
	case syscall.SIGXFSZ:
		return " (file size limit: the spool budget)"
	case syscall.SIGXCPU:
		return " (CPU limit)"
	case syscall.SIGSYS:
		return " (seccomp: a forbidden system call)"
	}
	return ""
}

// fatalLine picks the Go runtime's or a panic's headline out of stderr.
func fatalLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime: out of memory") {
			if len(l) > 200 {
				l = l[:200]
			}
			return l
		}
	}
	return ""
}

// workerCaps are the capabilities the worker starts with and drops before its first untrusted
// byte: CAP_SETPCAP, to empty its bounding set.
var workerCaps = []uintptr{unix.CAP_SETPCAP}

// procAttr is how the worker is cloned: new namespaces (withNS), its own uid and gid with no
// supplementary groups when the parent is root, CAP_SETPCAP kept across exec only so that it
// can drop its bounding set, and SIGKILL when the parent dies.
func procAttr(root bool, wu, wg int, withNS bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	uid, gid := os.Getuid(), os.Getgid()
	if root {
		a.Credential = &syscall.Credential{Uid: uint32(wu), Gid: uint32(wg), Groups: []uint32{}}
		a.AmbientCaps = workerCaps
	}
	if !withNS {
		if root {
			a.Cloneflags = syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNS
		}
		return a
	}
	a.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNS
	a.AmbientCaps = workerCaps
	if root {
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: wu, HostID: wu, Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: wg, HostID: wg, Size: 1}}
		a.GidMappingsEnableSetgroups = true
	} else {
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		a.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return a
}

// rulesMemfd saves the compiled rules into an anonymous memory file for the worker.
func rulesMemfd(rules *scanner.Rules) (*os.File, error) {
	fd, err := unix.MemfdCreate("airlock-rules", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sandbox: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "airlock-rules")
	if err := rules.Save(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox: save rules: %w", err)
	}
	return f, nil
}

// runInProcess runs the worker's code in a goroutine of this process (Config.Disabled), through
// the same pipe and parser.
func (c *Config) runInProcess(ctx context.Context, wc *workerConfig, src *os.File, rules *scanner.Rules, spool *os.File, tmpDir string,
	h wire.Handler, tr *tracker) (*wire.Stream, Confinement, error) {
	conf := Confinement{PID: os.Getpid(), UID: os.Getuid()}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, conf, err
	}
	defer pr.Close()
	job := &job{cfg: wc, src: src, rules: rules, tmpDir: tmpDir}
	if spool != nil {
		r, err := os.OpenRoot(spool.Name())
		if err != nil {
			pw.Close()
			return nil, conf, err
		}
		defer r.Close()
		job.create = rootCreate(r)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pw.Close()
		w := wire.NewWriter(pw)
		w.Send(wire.THello, wire.Hello{PID: conf.PID, UID: conf.UID})
		job.serve(ctx, w)
		w.Flush()
	}()
	st, perr := wire.NewReader(pr, wire.Limits{}, h).ReadAll()
	if perr != nil {
		io.Copy(io.Discard, pr)
	}
	wg.Wait()
	return judgeRun(ctx, st, perr, nil, nil, "", tr, conf)
}
