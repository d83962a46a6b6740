package guix

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// DumpPath writes the NAR serialisation of the file system object at path to w, byte for byte
// what `nix-store --dump` and `guix archive` write: directory entries sorted by name bytes, a
// regular file executable iff its owner execute bit is set, symlinks not followed. Other file
// types (devices, sockets, FIFOs) are an error, as in Nix.
func DumpPath(w io.Writer, path string) error {
	nw := &narWriter{w: w}
	nw.str(narMagic)
	if err := nw.node(path); err != nil {
		return err
	}
	return nw.err
}

type narWriter struct {
	w   io.Writer
	err error
	buf [8]byte
}

func (nw *narWriter) write(b []byte) {
	if nw.err == nil {
		_, nw.err = nw.w.Write(b)
	}
}

func (nw *narWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(nw.buf[:], v)
	nw.write(nw.buf[:])
}

func (nw *narWriter) pad(n int64) {
	var zero [8]byte
	if p := (8 - n%8) % 8; p > 0 {
		nw.write(zero[:p])
	}
}

func (nw *narWriter) str(s string) {
	nw.u64(uint64(len(s)))
	nw.write([]byte(s))
	nw.pad(int64(len(s)))
}

func (nw *narWriter) node(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("nar dump: %w", err)
	}
	nw.str("(")
	nw.str("type")
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		nw.str("regular")
		if mode&0o100 != 0 {
			nw.str("executable")
			nw.str("")
		}
		nw.str("contents")
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("nar dump: %w", err)
		}
		defer f.Close()
		size := fi.Size()
		nw.u64(uint64(size))
		if nw.err == nil {
			n, err := io.Copy(nw.w, io.LimitReader(f, size))
			if err != nil {
				return fmt.Errorf("nar dump %s: %w", path, err)
			}
			if n != size {
				return fmt.Errorf("nar dump %s: file changed size while read (%d of %d bytes)", path, n, size)
			}
		}
		nw.pad(size)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("nar dump: %w", err)
		}
		nw.str("symlink")
		nw.str("target")
		nw.str(target)
	case mode.IsDir():
		nw.str("directory")
		d, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("nar dump: %w", err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("nar dump %s: %w", path, err)
		}
		sort.Slice(names, func(i, j int) bool { return bytes.Compare([]byte(names[i]), []byte(names[j])) < 0 })
		for _, name := range names {
			nw.str("entry")
			nw.str("(")
			nw.str("name")
			nw.str(name)
			nw.str("node")
			if err := nw.node(filepath.Join(path, name)); err != nil {
				return err
			}
			nw.str(")")
		}
	default:
		return fmt.Errorf("nar dump %s: unsupported file type %v", path, mode.Type())
	}
	nw.str(")")
	return nw.err
}
