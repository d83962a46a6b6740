package sandbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
	"github.com/airlock-appliance/airlock/scanner"
)

// Faults a test worker injects (this file is compiled only into the test binary, which is the
// worker of these tests). The parent selects one with Config.fault.
func init() { faultHook = injectFault }

// probeTargets are what the probe tries; everything in Read and Write must fail inside the
// sandbox, Spool must work.
type probeTargets struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
	Spool string   `json:"spool"` // a file name to create in the spool (positive control)
}

func injectFault(fault string, w *wire.Writer, j *job) bool {
	name, arg, _ := strings.Cut(fault, ":")
	hello := wire.Hello{PID: os.Getpid(), UID: os.Getuid()}
	reading := func() {
		w.Send(wire.THello, hello)
		w.Send(wire.TOpen, wire.Open{Path: "EFI/x.zip", Size: 1})
	}
	switch name {
	case "crash":
		reading()
		// A real SIGSEGV death, as a memory fault in libyara would give without Go's handler.
		var sa [4]uintptr // struct kernel_sigaction: handler SIG_DFL, flags, restorer, mask
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSEGV), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
		unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSEGV)
		time.Sleep(time.Second)
		os.Exit(99)
	case "hang":
		reading()
		for {
			time.Sleep(time.Hour)
		}
	case "garbage":
		f := os.NewFile(fdResults, "results")
		f.Write([]byte("ALWK\x01H\x00\x00\x00\x02{}O\xff\xff\xff\xffnot json at all"))
		os.Exit(0)
	case "early":
		reading()
		w.Flush()
		os.Exit(0)
	case "oom":
		reading()
		var keep [][]byte
		for i := 0; i < 1<<12; i++ {
			b := make([]byte, 64<<20)
			for k := 0; k < len(b); k += 4096 {
				b[k] = 1
			}
			keep = append(keep, b)
			_ = keep[len(keep)-1][0]
		}
		os.Exit(98)
	case "lie-clean":
		// Everything clean, no rule ever matched.
		j.rewrite = func(r *scanner.Result) {
			r.Verdict, r.Rules, r.Reason, r.Limit = scanner.Clean, nil, "", ""
			for i := range r.Inner {
				r.Inner[i].Verdict, r.Inner[i].Rules, r.Inner[i].Reason, r.Inner[i].Limit = scanner.Clean, nil, "", ""
			}
		}
	case "lie-hash":
		// Claims every file has the hash and size given (an allowlisted file's).
		sum, size, _ := strings.Cut(arg, "/")
		var n int64
		json.Unmarshal([]byte(size), &n)
		j.rewrite = func(r *scanner.Result) { r.Verdict, r.Rules, r.SHA256, r.Size = scanner.Clean, nil, sum, n }
	case "lie-extra":
		// Plants a file in the spool it does not report.
		if j.spool != nil {
			j.spool.WriteFile("planted", []byte("not scanned"), 0o600)
		}
	case "probe", "unconfined-probe":
		var t probeTargets
		json.Unmarshal([]byte(arg), &t)
		w.Send(wire.THello, hello)
		n := 0
		report := func(what string, err error) {
			size := int64(0) // 0: the attempt failed
			if err == nil {
				size = 1
			}
			w.Send(wire.TEntry, wire.Entry{Path: "probe/" + what, Size: size})
			n++
		}
		for i, p := range t.Read {
			f, err := os.Open(p)
			if err == nil {
				f.Close()
			}
			report("read"+itoa(i), err)
		}
		for i, p := range t.Write {
			report("write"+itoa(i), os.WriteFile(p, []byte("x"), 0o644))
		}
		if name == "unconfined-probe" {
			// The control only shows the file targets are reachable by the worker's uid;
			// an exec that worked would replace the process.
			report("spool-write", j.spool.WriteFile(t.Spool, []byte("ok"), 0o600))
			w.Send(wire.TDone, wire.Done{Entries: n})
			w.Flush()
			return true
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		report("socket-inet", err)
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		report("socket-unix", err)
		report("exec-sh", exec.Command("/bin/sh", "-c", "true").Run())
		report("execve", syscall.Exec("/bin/sh", []string{"sh", "-c", "true"}, nil))
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0, 0, 0)
		report("ptrace", errnoErr(e))
		report("mount", unix.Mount("none", "/mnt", "tmpfs", 0, ""))
		report("unshare", unix.Unshare(unix.CLONE_NEWUSER))
		// A raw clone into a new user namespace (the child, if any, exits at once).
		pid, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if e == 0 && pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		report("clone-newuser", errnoErr(e))
		// fork: a process that could outlive the worker.
		pid, _, e = unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if e == 0 && pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		report("fork", errnoErr(e))
		report("setuid0", unix.Setresuid(0, 0, 0))
		// prctl is forbidden inside; the confinement verified the bounding set before seccomp.
		r, _, e := unix.Syscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, unix.CAP_SYS_ADMIN, 0)
		var capErr error
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		unix.Capget(&hdr, &data[0])
		if (e == 0 && r == 1) || data[0].Effective|data[0].Permitted|data[1].Effective|data[1].Permitted != 0 {
			capErr = nil // capabilities left: the attempt "succeeded"
		} else {
			capErr = unix.EPERM
		}
		report("capabilities", capErr)
		var spoolErr error = unix.ENOENT
		if j.spool != nil {
			spoolErr = j.spool.WriteFile(t.Spool, []byte("ok"), 0o600)
		}
		report("spool-write", spoolErr)
		w.Send(wire.TDone, wire.Done{Entries: n})
		w.Flush()
		return true
	}
	return false
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
