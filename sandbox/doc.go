// Package sandbox runs everything that touches untrusted bytes (the medium's partition table and
// filesystems, the recursive walk, the decompressors, libyara) in a confined worker process, and
// re-checks in the parent every fact an approval rests on.
//
// # The worker
//
// The worker is the airlock binary itself, re-executed (/proc/self/exe) with the hidden first
// argument WorkerArg; the program's main must call [MaybeWorker] first. It gets, as inherited
// descriptors, the medium (or image or file) already opened read-only by the parent, the
// compiled rules, a scratch directory, and the socket of the directory broker (broker.go),
// through which the parent opens a scanned directory tree's files and creates the spool's
// files for it, so the worker holds no other directory's descriptor. It writes its results on a
// pipe in the strict format of package sandbox/internal/wire. Before it reads the first untrusted
// byte it confines itself, in this order:
//
//   - rlimits: address space, open files, file size (the spool budget), no core dumps;
//   - every capability dropped: bounding set, ambient, permitted, effective, on every thread;
//   - PR_SET_NO_NEW_PRIVS;
//   - Landlock: no filesystem access but its scratch directory (where the scanner spills large
//     inner files); no TCP; no signals or abstract sockets out of the domain;
//   - seccomp: an allowlist of the system calls the Go runtime, libyara and the scan need; no
//     socket, exec, ptrace, mount, ioctl, prctl or the like (they fail with EPERM); openat only
//     with O_CREAT|O_EXCL, so that no existing file can be opened even where the kernel lacks
//     Landlock (there, uid 65534 could still create new files where file permissions allow).
//
// The parent starts it in new user, network, IPC and mount namespaces, as uid/gid 65534 with no
// supplementary groups when the parent is root (the kernel refuses namespaces to some callers;
// then the worker runs without them, and Confinement, which the station writes into the audit
// log's verdict record, says so), and kills it when
// the wall-clock deadline passes or its parent dies.
//
// # The worker can only reject
//
// The worker's results are claims. [Recheck] re-hashes every spooled file in the parent, refuses
// a spool that holds anything the worker did not report or a hash that differs, and drops every
// Guix verdict so the caller re-verifies each export over the spooled bytes itself (pure Go).
// The allowlist is looked up with the parent's own hash. A compromised worker can therefore hide
// a YARA match, but never get a file approved that the approver's allowlist or the Guix ACL does
// not approve: those bases are decided from bytes the parent hashed, and those bytes are what
// is burned.
//
// # Failure
//
// A worker that crashes, is killed by a limit, times out, writes anything but a well-formed
// stream, or exits before its Done frame fails the whole read with a [*WorkerError] that names
// the cause and the file it was reading ("scan worker killed by SIGSEGV while reading
// EFI/x.zip"). No partial result is ever used.
package sandbox
