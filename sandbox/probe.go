package sandbox

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
)

// The probe: what an exploit inside the worker would try. It is reached only through faultHook,
// which only this package's test binary and builds with the airlock_probe tag (probe_tag.go; the
// QEMU test's probe binary) set, so the production binary does not contain it (the linker drops
// it as unreachable).

// probeTargets are what the probe tries; everything in Read and Write must fail inside the
// sandbox, Spool must work.
type probeTargets struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
	Spool string   `json:"spool"` // a file name to create in the spool (positive control)
}

// runProbe makes each attempt and reports it as an Entry "probe/NAME" of size 1 when it
// succeeded, 0 when it failed. Unconfined (the control) it makes only the file attempts: an exec
// that worked would replace the process.
func runProbe(t probeTargets, unconfined bool, w *wire.Writer, j *job) {
	h := j.hello
	h.PID, h.UID = os.Getpid(), os.Getuid()
	w.Send(wire.THello, h)
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
		report("read"+strconv.Itoa(i), err)
	}
	for i, p := range t.Write {
		report("write"+strconv.Itoa(i), os.WriteFile(p, []byte("x"), 0o644))
	}
	if !unconfined {
		// A new file, exclusively (what seccomp's openat rule lets through): only Landlock
		// keeps it out of directories other than the scratch directory.
		if len(t.Write) > 0 {
			f, err := os.OpenFile(t.Write[0]+".new", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				f.Close()
			}
			report("create-excl", err)
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
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		unix.Capget(&hdr, &data[0])
		var capErr error = unix.EPERM
		if (e == 0 && r == 1) || data[0].Effective|data[0].Permitted|data[1].Effective|data[1].Permitted != 0 {
			capErr = nil // capabilities left: the attempt "succeeded"
		}
		report("capabilities", capErr)
	}
	var spoolErr error = unix.ENOENT
	if j.create != nil {
		spoolErr = writeSpool(j, t.Spool, "ok")
	}
	report("spool-write", spoolErr)
	w.Send(wire.TDone, wire.Done{Entries: n})
	w.Flush()
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// probeAllocate allocates and touches memory until the address-space limit stops it (the Go
// runtime then dies "out of memory"); it exits 98 if 256 GiB were not enough.
func probeAllocate() {
	var keep [][]byte
	for i := 0; i < 1<<12; i++ {
		b := make([]byte, 64<<20)
		for k := 0; k < len(b); k += 4096 {
			b[k] = 1
		}
		keep = append(keep, b)
	}
	_ = keep
	os.Exit(98)
}

// writeSpool creates name in the spool with body, as the spooler would.
func writeSpool(j *job, name, body string) error {
	f, err := j.create(name)
	if err != nil {
		return err
	}
	_, err = f.WriteString(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
