package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The directory broker: when the worker scans a directory tree (airlock scan DIR), it cannot
// look anything up in it itself. Every open, lstat and readlink is a request on an inherited
// SOCK_SEQPACKET socket to the parent, which performs it with its own credentials inside an
// os.Root of the tree (no escape by "..", absolute names or symlinks) and hands back an open
// descriptor or the metadata. The parent thereby reads no byte of any file's content (it opens,
// stats and reads link targets, as the kernel reports them); the worker reads the content
// through the descriptors. So a root-only tree scans as root sees it while the worker stays uid
// 65534 with no filesystem access at all (Landlock grants it nothing in the tree).
//
// The spool is created the same way: "c NAME" makes the parent create the spool file (and its
// directories) exclusively inside an os.Root of the spool and hand back the descriptor, so the
// worker holds no descriptor of any directory but its scratch directory: no openat relative to
// the tree or the spool (which, without Landlock, "../" would lead out of) is possible.
//
// Requests: one message "o NAME", "l NAME", "r NAME" or "c NAME" (NAME as fs.ValidPath). Replies: one
// message "+" (with the descriptor in SCM_RIGHTS for "o"), "+JSON" (for "l": brokerStat), "+TARGET"
// (for "r"), or "-ERROR".

// maxBrokerMsg bounds a request or reply (a path, a link target or a stat).
const maxBrokerMsg = 8 << 10

// errBroker is a broker reply the worker cannot make sense of.
var errBroker = errors.New("directory broker: bad reply")

// brokerStat is the metadata of one lstat.
type brokerStat struct {
	Name    string      `json:"name"`
	Size    int64       `json:"size"`
	Mode    fs.FileMode `json:"mode"`
	ModTime time.Time   `json:"mtime"`
}

// serveBroker answers the worker's requests on sock until the worker closes its end: lookups in
// tree and creations in spool (either may be nil: such requests are refused). A request it
// refuses gets an error reply; only a broken socket ends it early.
func serveBroker(sock *os.File, tree, spool *os.Root) {
	buf := make([]byte, maxBrokerMsg)
	fd := int(sock.Fd())
	for {
		// No control buffer: descriptors a hostile worker might send are dropped by the kernel.
		n, _, _, _, err := unix.Recvmsg(fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		reply, file := brokerAnswer(tree, spool, string(buf[:n]))
		var oob []byte
		if file != nil {
			oob = unix.UnixRights(int(file.Fd()))
		}
		err = unix.Sendmsg(fd, reply, oob, nil, 0)
		if file != nil {
			file.Close()
		}
		if err != nil {
			return
		}
	}
}

// brokerAnswer performs one request.
func brokerAnswer(root, spool *os.Root, req string) ([]byte, *os.File) {
	fail := func(err error) ([]byte, *os.File) {
		msg := err.Error()
		if len(msg) > maxBrokerMsg-1 {
			msg = msg[:maxBrokerMsg-1]
		}
		return []byte("-" + msg), nil
	}
	op, name, ok := strings.Cut(req, " ")
	if !ok || !fs.ValidPath(name) || (op == "c" && name == ".") {
		return fail(fmt.Errorf("bad request %q", req))
	}
	if op == "c" {
		if spool == nil {
			return fail(errors.New("no spool"))
		}
		if d := path.Dir(name); d != "." {
			if err := spool.MkdirAll(d, 0o700); err != nil {
				return fail(err)
			}
		}
		f, err := spool.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fail(err)
		}
		return []byte("+"), f
	}
	if root == nil {
		return fail(errors.New("no directory tree"))
	}
	switch op {
	case "o":
		// Only regular files and directories: a FIFO or device would block or act on open.
		fi, err := root.Stat(name)
		if err != nil {
			return fail(err)
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return fail(&fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file or directory")})
		}
		f, err := root.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(err)
		}
		if fi, err = f.Stat(); err != nil || (!fi.Mode().IsRegular() && !fi.IsDir()) {
			f.Close()
			return fail(&fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file or directory")})
		}
		return []byte("+"), f
	case "l":
		fi, err := root.Lstat(name)
		if err != nil {
			return fail(err)
		}
		b, _ := json.Marshal(brokerStat{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()})
		return append([]byte("+"), b...), nil
	case "r":
		t, err := root.Readlink(name)
		if err != nil {
			return fail(err)
		}
		if len(t) > maxBrokerMsg-1 {
			return fail(&fs.PathError{Op: "readlink", Path: name, Err: errors.New("target too long")})
		}
		return []byte("+" + t), nil
	}
	return fail(fmt.Errorf("bad request %q", req))
}

// brokerFS is the worker's view of a directory tree through the broker: fs.FS, fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS.
type brokerFS struct {
	mu   sync.Mutex // one request and its reply at a time
	sock int
}

func (b *brokerFS) call(op, name string) (string, *os.File, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := unix.Sendmsg(b.sock, []byte(op+" "+name), nil, nil, 0); err != nil {
		return "", nil, fmt.Errorf("directory broker: %w", err)
	}
	buf := make([]byte, maxBrokerMsg)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(b.sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return "", nil, fmt.Errorf("directory broker: %w", err)
	}
	var file *os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				file = os.NewFile(uintptr(fds[0]), name)
			}
		}
	}
	switch {
	case n > 0 && buf[0] == '+':
		return string(buf[1:n]), file, nil
	case n > 0 && buf[0] == '-':
		if file != nil {
			file.Close()
		}
		return "", nil, &fs.PathError{Op: op, Path: name, Err: errors.New(string(buf[1:n]))}
	}
	if file != nil {
		file.Close()
	}
	return "", nil, errBroker
}

// Create has the parent create the spool file name and returns it open for reading and writing.
func (b *brokerFS) Create(name string) (*os.File, error) {
	_, f, err := b.call("c", name)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: errBroker}
	}
	return f, nil
}

// Open implements fs.FS.
func (b *brokerFS) Open(name string) (fs.File, error) {
	_, f, err := b.call("o", name)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errBroker}
	}
	return f, nil
}

// ReadDir implements fs.ReadDirFS: the names come from the directory's descriptor, sorted; each
// entry's Info is a broker lstat.
func (b *brokerFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := b.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, ok := f.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = &brokerDirent{b: b, name: path.Join(name, e.Name()), base: e.Name(), typ: e.Type()}
	}
	slices.SortFunc(out, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	return out, nil
}

// Lstat implements fs.ReadLinkFS.
func (b *brokerFS) Lstat(name string) (fs.FileInfo, error) {
	s, _, err := b.call("l", name)
	if err != nil {
		return nil, err
	}
	var st brokerStat
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: errBroker}
	}
	return brokerInfo{st}, nil
}

// Stat implements fs.StatFS (following symlinks, as Open does).
func (b *brokerFS) Stat(name string) (fs.FileInfo, error) {
	f, err := b.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// ReadLink implements fs.ReadLinkFS.
func (b *brokerFS) ReadLink(name string) (string, error) {
	t, _, err := b.call("r", name)
	return t, err
}

type brokerDirent struct {
	b          *brokerFS
	name, base string
	typ        fs.FileMode
}

func (d *brokerDirent) Name() string               { return d.base }
func (d *brokerDirent) IsDir() bool                { return d.typ.IsDir() }
func (d *brokerDirent) Type() fs.FileMode          { return d.typ }
func (d *brokerDirent) Info() (fs.FileInfo, error) { return d.b.Lstat(d.name) }
func (d *brokerDirent) String() string             { return fs.FormatDirEntry(d) }

type brokerInfo struct{ s brokerStat }

func (i brokerInfo) Name() string       { return i.s.Name }
func (i brokerInfo) Size() int64        { return i.s.Size }
func (i brokerInfo) Mode() fs.FileMode  { return i.s.Mode }
func (i brokerInfo) ModTime() time.Time { return i.s.ModTime }
func (i brokerInfo) IsDir() bool        { return i.s.Mode.IsDir() }
func (i brokerInfo) Sys() any           { return nil }
