package sandbox

import (
	"encoding/json"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
	"github.com/airlock-appliance/airlock/scanner"
)

// Faults a test worker injects (this file is compiled only into the test binary, which is the
// worker of these tests). The parent selects one with Config.fault.
func init() { faultHook = injectFault }

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
		probeAllocate()
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
		if j.create != nil {
			writeSpool(j, "planted", "not scanned")
		}
	case "probe", "unconfined-probe":
		var t probeTargets
		json.Unmarshal([]byte(arg), &t)
		runProbe(t, name == "unconfined-probe", w, j)
		return true
	}
	return false
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
