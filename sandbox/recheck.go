package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/airlock-appliance/airlock/scanner"
)

// Recheck is the parent's own check of a worker's results against the spool, before any
// decision: every spooled file is hashed here, and each result must name a regular file of the
// spool with exactly the size and SHA-256 the worker reported; the spool must hold nothing else.
// Each result's Sum, SHA256 and Size are then the parent's, and every Guix verdict is dropped:
// the caller re-verifies each Guix export over the spooled bytes. The bytes hashed here are the
// bytes that will be burned.
func Recheck(results []scanner.Result, spoolDir string) error {
	root, err := os.OpenRoot(spoolDir)
	if err != nil {
		return fmt.Errorf("recheck: %w", err)
	}
	defer root.Close()
	want := map[string]bool{}
	for i := range results {
		r := &results[i]
		r.Guix = nil
		if r.Type != scanner.TypeRegular {
			// A link or special file on the stick: never spooled, never approved.
			continue
		}
		want[r.Path] = true
		fi, err := root.Lstat(r.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRecheck, r.Path, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file in the spool (%s)", ErrRecheck, r.Path, fi.Mode().Type())
		}
		f, err := root.OpenFile(r.Path, os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRecheck, r.Path, err)
		}
		h := newHash()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("recheck: %s: %w", r.Path, err)
		}
		sum := h.hex()
		if r.SHA256 != "" && (sum != r.SHA256 || n != r.Size) {
			return fmt.Errorf("%w: %s: the worker reported SHA-256 %s size %d, the spool holds %s size %d",
				ErrRecheck, r.Path, r.SHA256, r.Size, sum, n)
		}
		if r.SHA256 == "" {
			// Not read whole (the worker says): it stays unhashed, and so unapproved.
			continue
		}
		r.Size, r.SHA256 = n, sum
		hex.Decode(r.Sum[:], []byte(sum))
	}
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("recheck: %w", err)
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%w: %s: %s in the spool", ErrRecheck, p, d.Type())
		case !want[p]:
			return fmt.Errorf("%w: %s is in the spool but not in the report", ErrRecheck, p)
		}
		return nil
	})
}

type hasher struct{ hash.Hash }

func newHash() hasher { return hasher{sha256.New()} }

func (h hasher) hex() string { return hex.EncodeToString(h.Sum(nil)) }
