package burner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	dfile "github.com/diskfs/go-diskfs/backend/file"
	diso "github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/kdomanski/iso9660"
)

// listing is what a reader saw: every path (slash-separated, relative to the root) mapped to
// "dir" or the SHA-256 of the file's contents.
type listing map[string]string

func (l listing) diff(want listing) string {
	var b strings.Builder
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range l {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		if l[k] != want[k] && n < 20 {
			fmt.Fprintf(&b, "  %q: got %q want %q\n", k, short(l[k]), short(want[k]))
			n++
		}
	}
	return b.String()
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// listFS walks any fs.FS.
func listFS(fsys fs.FS) (listing, error) {
	out := listing{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			out[p] = "dir"
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h, err := hashReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[p] = h
		return nil
	})
	return out, err
}

// listDir walks a directory on disk (the source tree, or a peer's extraction).
func listDir(dir string) (listing, error) {
	return listFS(os.DirFS(dir))
}

type reader struct {
	name  string
	tools []string
	list  func(t *testing.T, img string) (listing, error)
	// lossy says which entries this peer is known to show under another name (a limitation of
	// the peer, documented at each use), given the entry's parent directory in the layout and its
	// name. Such entries must still all be there: their contents must match as a multiset.
	lossy func(parent *node, name string) bool
}

// noCE: readers that never follow Rock Ridge continuation areas show names too long to sit in
// the directory record (more than 155 bytes; see suspFor) by their ISO9660 names.
func noCE(_ *node, name string) bool { return len(name) > 150 }

var readers = []reader{
	{"ours", nil, readOurs, nil},
	// kdomanski/iso9660 v0.4.0 parses each directory sector into one reused buffer and keeps
	// slices of it, so the Rock Ridge entries of every sector but the last of a directory are
	// overwritten (xorriso's images show the same): names there come out as ISO9660 names.
	{"kdomanski", nil, readKdomanski, func(parent *node, _ string) bool { return parent.extSize > SectorSize }},
	// go-diskfs v1.9.4 drops a leading or trailing '.' of Rock Ridge names and mis-joins names
	// split over several NM entries (longer than 250 bytes).
	{"go-diskfs", nil, readDiskfs, func(_ *node, n string) bool {
		return strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") || len(n) > 250
	}},
	{"isoinfo", []string{"isoinfo"}, readIsoinfo, nil},
	{"xorriso", []string{"xorriso"}, func(t *testing.T, img string) (listing, error) {
		return extractWith(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", "{DIR}")
	}, nil},
	{"bsdtar", []string{"bsdtar"}, func(t *testing.T, img string) (listing, error) {
		return extractWith(t, "bsdtar", "-x", "-f", img, "-C", "{DIR}")
	}, nil},
	{"7z", []string{"7z"}, func(t *testing.T, img string) (listing, error) {
		return extractWith(t, "7z", "x", "-y", "-o{DIR}", img)
	}, func(p *node, n string) bool {
		// 7-Zip 16.02 never follows CE, and extracts "a." as "a" (Windows naming rules).
		return noCE(p, n) || strings.HasSuffix(n, ".") || strings.HasSuffix(n, " ")
	}},
}

func readOurs(t *testing.T, img string) (listing, error) {
	f, err := os.Open(img)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fsys, err := OpenISO(f, st.Size())
	if err != nil {
		return nil, err
	}
	return listFS(fsys)
}

func readKdomanski(t *testing.T, img string) (listing, error) {
	f, err := os.Open(img)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := iso9660.OpenImage(f)
	if err != nil {
		return nil, err
	}
	root, err := im.RootDir()
	if err != nil {
		return nil, err
	}
	out := listing{}
	var walk func(dir string, f *iso9660.File) error
	walk = func(dir string, f *iso9660.File) error {
		kids, err := f.GetChildren()
		if err != nil {
			return err
		}
		for _, k := range kids {
			p := path.Join(dir, k.Name())
			if k.IsDir() {
				out[p] = "dir"
				if err := walk(p, k); err != nil {
					return err
				}
				continue
			}
			h, err := hashReader(k.Reader())
			if err != nil {
				return err
			}
			out[p] = h
		}
		return nil
	}
	return out, walk("", root)
}

func readDiskfs(t *testing.T, img string) (listing, error) {
	f, err := os.Open(img)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fsys, err := diso.Read(dfile.New(f, true), st.Size(), 0, SectorSize)
	if err != nil {
		return nil, err
	}
	return listFS(fsys)
}

// readIsoinfo lists with `isoinfo -R -l` and extracts every file with `isoinfo -R -x`.
func readIsoinfo(t *testing.T, img string) (listing, error) {
	out, err := exec.Command("isoinfo", "-R", "-l", "-i", img).Output()
	if err != nil {
		return nil, fmt.Errorf("isoinfo -l: %w", err)
	}
	l := listing{}
	dir := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "Directory listing of /"); ok {
			dir = strings.TrimSuffix(d, "/")
			continue
		}
		i := strings.Index(line, "]  ")
		if i < 0 || len(line) < 10 {
			continue
		}
		name := strings.TrimSuffix(line[i+3:], " ")
		if name == "." || name == ".." {
			continue
		}
		p := path.Join(dir, name)
		if line[0] == 'd' {
			l[p] = "dir"
			continue
		}
		cmd := exec.Command("isoinfo", "-R", "-x", "/"+p, "-i", img)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		h, herr := hashReader(stdout)
		if err := cmd.Wait(); err != nil || herr != nil {
			return nil, fmt.Errorf("isoinfo -x %s: %v %v", p, err, herr)
		}
		l[p] = h
	}
	return l, nil
}

// extractWith runs a peer that extracts the whole image into {DIR}, then lists that.
func extractWith(t *testing.T, name string, args ...string) (listing, error) {
	dir := t.TempDir()
	t.Cleanup(func() { makeWritable(dir) })
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{DIR}", dir)
	}
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return listDir(dir)
}

func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// checkReaders reads img with every reader and compares with want.
func checkReaders(t *testing.T, img string, l *Layout, want listing) {
	t.Helper()
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			testenv.Need(t, r.tools...)
			got, err := r.list(t, img)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			compareListing(t, r, l, got, want, true)
		})
	}
}

// compareListing checks got against want: exactly, except for entries under names the reader is
// known to mangle, which must still all be there with their contents.
//
// With strict unset (random trees), two mangled names may collide in the peer and one shadow the
// other: then every file shown under a mangled name must still have contents from the tree.
func compareListing(t *testing.T, r reader, l *Layout, got, want listing, strict bool) {
	t.Helper()
	lossy := func(p string) bool {
		if r.lossy == nil {
			return false
		}
		d := l.root
		for _, c := range strings.Split(p, "/") {
			if d == nil || r.lossy(d, c) {
				return true
			}
			var next *node
			for _, k := range d.children {
				if k.name == c && k.dir {
					next = k
				}
			}
			d = next
		}
		return false
	}
	exactGot, exactWant := listing{}, listing{}
	var restGot, restWant, restPaths []string
	// Under mangled names only files are compared (as a multiset of contents): a peer that
	// applies Windows naming rules may show one directory under two names.
	for p, h := range want {
		if lossy(p) {
			if h != "dir" {
				restWant = append(restWant, h)
			}
		} else {
			exactWant[p] = h
		}
	}
	for p, h := range got {
		if _, ok := want[p]; ok && !lossy(p) {
			exactGot[p] = h
		} else if h != "dir" {
			restGot = append(restGot, h)
			restPaths = append(restPaths, p)
		}
	}
	if !strict {
		// A mangled name may have become an existing name and shadowed it.
		shadow := map[string]bool{}
		for _, h := range restWant {
			shadow[h] = true
		}
		for p, h := range exactGot {
			if h != exactWant[p] && shadow[h] {
				delete(exactGot, p)
				delete(exactWant, p)
			}
		}
		for p := range exactWant {
			if _, ok := exactGot[p]; !ok && shadow[want[p]] {
				delete(exactWant, p)
			}
		}
	}
	if d := exactGot.diff(exactWant); d != "" {
		t.Errorf("%s disagrees with the source tree (%d entries, want %d):\n%s", r.name, len(got), len(want), d)
	}
	sort.Strings(restGot)
	sort.Strings(restWant)
	if !strict && isSubset(restGot, restWant) {
		return
	}
	if strings.Join(restGot, ",") != strings.Join(restWant, ",") {
		sort.Strings(restPaths)
		t.Errorf("%s: entries under names it is known to mangle: %d, want %d, or their contents differ: %q",
			r.name, len(restGot), len(restWant), restPaths[:min(len(restPaths), 6)])
	}
	if len(restWant) > 0 {
		t.Logf("%s: %d entries under names it is known to show differently; contents all present", r.name, len(restWant))
	}
}

// isSubset reports whether the sorted multiset a is contained in the sorted multiset b.
func isSubset(a, b []string) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}
