package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
)

// allowedSyscalls is the worker's seccomp allowlist: what the Go runtime (threads, signals,
// memory, timers, netpoll on pipes), glibc and libyara through cgo, and the scan itself (reading
// inherited descriptors, writing into the spool and scratch directories, which Landlock confines)
// need. Everything else fails with EPERM: socket, connect, execve, execveat, ptrace, mount,
// umount2, pivot_root, chroot, unshare, setns, ioctl, prctl, bpf, keyctl, process_vm_*, kill of
// other processes, and the rest. openat is allowed only with O_CREAT and O_EXCL, which never
// opens an existing file (nor follows a symlink): even on a kernel without Landlock, the
// worker cannot open the keys, the policy or anything else that exists; it can only create new
// files where uid 65534 may (Landlock, where present, confines that to the scratch directory).
var allowedSyscalls = []string{
	// I/O on descriptors.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
	// sendmsg and recvmsg only work on the directory broker's socket: the worker can make no
	// other (socket and socketpair are not allowed).
	"sendmsg", "recvmsg",
	"close", "close_range", "lseek", "fstat", "newfstatat", "statx", "fcntl", "dup", "dup3", "fadvise64",
	"ftruncate", "fsync", "fdatasync", "getdents64", "pipe2", "eventfd2",
	// Paths: openat only to create a new file (O_CREAT|O_EXCL, below: the scanner's spill files
	// in the scratch directory), and unlinking it. The tree and the spool go through the
	// directory broker, so no path-based read, lookup or mkdir is needed after setup.
	"unlinkat",
	// Memory.
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mlock", "munlock",
	// Threads, signals, scheduling, time.
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"exit", "exit_group", "gettid", "getpid", "getppid", "tgkill", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack", "sched_yield", "sched_getaffinity",
	"nanosleep", "clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time", "restart_syscall",
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "ppoll", "poll",
	"timer_create", "timer_settime", "timer_delete", "setitimer", "getitimer",
	// Identity and limits, read only.
	"getuid", "geteuid", "getgid", "getegid", "getgroups", "getrlimit", "prlimit64", "uname", "sysinfo",
	"getrandom", "capget", "membarrier", "getcpu",
}

// nsFlags are the clone flags that would make new namespaces (a fresh user namespace would hand
// the worker capabilities in it); clone is allowed without them, and only for threads
// (CLONE_THREAD): a process of its own could outlive the worker's death and keep its pipe open.
const nsFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWPID |
	unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// seccompPolicy is the worker's filter: the allowlist; clone of threads without namespace flags; clone3,
// whose flags a filter cannot see, answered ENOSYS so that glibc falls back to clone; everything
// else EPERM.
func seccompPolicy() seccomp.Policy {
	return seccomp.Policy{
		DefaultAction: seccomp.ActionErrno,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionAllow, Names: allowedSyscalls},
			{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{{Name: "clone",
				Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.BitsNotSet, Value: nsFlags},
					{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD},
				}}}},
			{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{{Name: "openat",
				Conditions: seccomp.ArgumentConditions{
					{Argument: 2, Operation: seccomp.BitsSet, Value: unix.O_CREAT},
					{Argument: 2, Operation: seccomp.BitsSet, Value: unix.O_EXCL},
				}}}},
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
		},
	}
}

// confine applies the sandbox to this process, every thread: rlimits, capabilities, no new
// privileges, Landlock, seccomp. It runs after the trusted inputs were opened and before the
// first untrusted byte is read.
func confine(cfg *workerConfig) (wire.Hello, error) {
	h := wire.Hello{PID: os.Getpid(), UID: os.Getuid()}
	lim := func(res int, v uint64) error {
		return unix.Setrlimit(res, &unix.Rlimit{Cur: v, Max: v})
	}
	if err := lim(unix.RLIMIT_CORE, 0); err != nil {
		return h, fmt.Errorf("RLIMIT_CORE: %w", err)
	}
	if cfg.NoFile > 0 {
		if err := lim(unix.RLIMIT_NOFILE, uint64(cfg.NoFile)); err != nil {
			return h, fmt.Errorf("RLIMIT_NOFILE: %w", err)
		}
	}
	if cfg.Memory > 0 {
		if err := lim(unix.RLIMIT_AS, uint64(cfg.Memory)); err != nil {
			return h, fmt.Errorf("RLIMIT_AS: %w", err)
		}
	}
	if cfg.SpoolMax > 0 {
		// One file never exceeds the spool budget; the scratch copies of inner files are
		// bounded by the entry size limit.
		fsz := max(cfg.SpoolMax, cfg.Limits.MaxEntrySize)
		if err := lim(unix.RLIMIT_FSIZE, uint64(fsz)); err != nil {
			return h, fmt.Errorf("RLIMIT_FSIZE: %w", err)
		}
	}
	if err := dropCaps(); err != nil {
		return h, err
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return h, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	abi, err := 0, error(nil)
	if !cfg.NoLandlock || faultHook == nil { // test builds only: as on a kernel without Landlock
		abi, err = landlockSelf(cfg)
	}
	if err != nil {
		return h, fmt.Errorf("landlock: %w", err)
	}
	h.Landlock = abi
	filter := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy:     seccompPolicy(),
	}
	if err := seccomp.LoadFilter(filter); err != nil {
		return h, fmt.Errorf("seccomp: %w", err)
	}
	h.Seccomp = true
	return h, nil
}

func allThreads(trap, a1, a2, a3 uintptr) error {
	if _, _, e := psx.Syscall6(trap, a1, a2, a3, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// dropCaps empties the bounding and ambient sets, then the permitted, effective and
// inheritable sets, on every thread. The worker holds CAP_SETPCAP (ambient, from the parent)
// only to be able to empty its bounding set.
func dropCaps() error {
	for c := 0; c <= 63; c++ {
		if _, _, e := psx.Syscall3(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0); e != 0 {
			break // past the kernel's last capability
		}
		if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil && err != unix.EPERM {
			return fmt.Errorf("PR_CAPBSET_DROP %d: %w", c, err)
		}
	}
	if _, _, e := psx.Syscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("PR_CAP_AMBIENT_CLEAR_ALL: %w", e)
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{}
	err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0)
	runtime.KeepAlive(hdr)
	runtime.KeepAlive(data)
	if err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	// Verify: nothing effective or permitted is left, nor in the bounding set.
	if err := unix.Capget(hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if data[0].Effective|data[0].Permitted|data[1].Effective|data[1].Permitted != 0 {
		return fmt.Errorf("capabilities left after capset: %#x", data[0].Effective)
	}
	if r, _, _ := unix.Syscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, unix.CAP_SYS_ADMIN, 0); r != 0 {
		return fmt.Errorf("CAP_SYS_ADMIN still in the bounding set (the worker lacked CAP_SETPCAP to drop it)")
	}
	return nil
}

// Landlock rights in the spool and scratch directories: create, write, read back and remove
// files and directories; no links, devices, sockets, fifos or symlinks.
const spoolRights = ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSReadDir | ll.AccessFSRemoveDir |
	ll.AccessFSRemoveFile | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSTruncate

// landlockSelf restricts the filesystem to the spool and scratch directories (and the scanned
// directory, read only), TCP to nothing, and signals and abstract sockets to the domain. It
// returns the ABI version enforced, 0 when the kernel has no Landlock.
func landlockSelf(cfg *workerConfig) (int, error) {
	abi, _ := landlockABI()
	if abi < 1 {
		return 0, nil // the kernel lacks Landlock; the Hello frame (and so the log) says so
	}
	var rules []landlock.Rule
	if cfg.Mode == modeScan {
		rules = append(rules, landlock.PathAccess(spoolRights, procFD+fmt.Sprint(fdTemp)))
	}
	// A scanned directory gets no rule: the worker reads it only through the broker's
	// descriptors (broker.go), never by a path.
	if err := landlock.V6.BestEffort().Restrict(rules...); err != nil {
		return 0, err
	}
	return min(abi, 6), nil
}

// landlockABI is the kernel's Landlock ABI version, 0 when it has none.
func landlockABI() (int, error) {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return 0, err
	}
	return abi, nil
}
