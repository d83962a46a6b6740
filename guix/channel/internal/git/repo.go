package git

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Repo is a git directory on disk: loose objects, packs (through their .idx v2) and refs.
// Objects read from it are checked against their names.
type Repo struct {
	dir   string
	lim   Limits
	packs []*Pack
	files []*os.File
}

// OpenRepo opens the git directory of dir: dir/.git (a directory or a "gitdir:" file) or
// dir itself when bare.
func OpenRepo(dir string, lim Limits) (*Repo, error) {
	lim = lim.withDefaults()
	gitdir := dir
	if st, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		gitdir = filepath.Join(dir, ".git")
		if !st.IsDir() {
			b, err := os.ReadFile(gitdir)
			if err != nil {
				return nil, err
			}
			p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return nil, fmt.Errorf("%s: not a gitdir file: %w", gitdir, ErrCorrupt)
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			gitdir = p
		}
	}
	if _, err := os.Stat(filepath.Join(gitdir, "objects")); err != nil {
		return nil, fmt.Errorf("%s: not a git directory: %w", dir, err)
	}
	r := &Repo{dir: gitdir, lim: lim}
	idxs, _ := filepath.Glob(filepath.Join(gitdir, "objects", "pack", "*.idx"))
	sort.Strings(idxs)
	for _, idx := range idxs {
		p, err := r.openPack(idx)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.packs = append(r.packs, p)
	}
	return r, nil
}

// Close closes the pack files.
func (r *Repo) Close() error {
	var first error
	for _, f := range r.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.files = nil
	return first
}

func (r *Repo) openPack(idxPath string) (*Pack, error) {
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, err
	}
	packPath := strings.TrimSuffix(idxPath, ".idx") + ".pack"
	f, err := os.Open(packPath)
	if err != nil {
		return nil, err
	}
	r.files = append(r.files, f)
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	p := &Pack{name: packPath, r: f, size: st.Size(), lim: r.lim, lazy: true, byOff: map[int64]int{}, cache: newLRU(32 << 20)}
	p.lim.MaxWork = max(4<<30, 64*st.Size())
	if p.byOID, err = ParseIndex(idx, st.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	if len(p.byOID) > r.lim.MaxObjects {
		return nil, fmt.Errorf("%s: %d objects (max %d): %w", idxPath, len(p.byOID), r.lim.MaxObjects, ErrLimit)
	}
	return p, nil
}

// ParseIndex parses a pack index v2 (gitformat-pack.txt) for a pack of packSize bytes.
func ParseIndex(b []byte, packSize int64) (map[OID]int64, error) {
	if len(b) < 8+256*4+40 || string(b[:4]) != "\377tOc" || binary.BigEndian.Uint32(b[4:]) != 2 {
		return nil, fmt.Errorf("not a pack index v2: %w", ErrCorrupt)
	}
	fan := b[8 : 8+1024]
	n := int64(binary.BigEndian.Uint32(fan[1020:]))
	var prev uint32
	for i := 0; i < 256; i++ {
		v := binary.BigEndian.Uint32(fan[4*i:])
		if v < prev {
			return nil, fmt.Errorf("index fanout not monotonic: %w", ErrCorrupt)
		}
		prev = v
	}
	base := int64(8 + 1024)
	need := base + n*(20+4+4) + 40
	if n < 0 || need > int64(len(b)) {
		return nil, fmt.Errorf("index of %d objects truncated: %w", n, ErrCorrupt)
	}
	names := b[base : base+20*n]
	offs := b[base+24*n : base+28*n]
	large := b[base+28*n : len(b)-40]
	out := make(map[OID]int64, n)
	for i := int64(0); i < n; i++ {
		var o OID
		copy(o[:], names[20*i:])
		v := binary.BigEndian.Uint32(offs[4*i:])
		off := int64(v)
		if v&0x80000000 != 0 {
			j := int64(v & 0x7fffffff)
			if 8*j+8 > int64(len(large)) {
				return nil, fmt.Errorf("index large offset %d out of range: %w", j, ErrCorrupt)
			}
			off = int64(binary.BigEndian.Uint64(large[8*j:]))
		}
		if off < 12 || off >= packSize-20 {
			return nil, fmt.Errorf("index offset %d outside the pack: %w", off, ErrCorrupt)
		}
		out[o] = off
	}
	return out, nil
}

// Object implements Store: loose objects first, then packs.
func (r *Repo) Object(oid OID) (Type, []byte, error) {
	h := oid.String()
	f, err := os.Open(filepath.Join(r.dir, "objects", h[:2], h[2:]))
	if err == nil {
		defer f.Close()
		t, d, err := r.readLoose(f)
		if err != nil {
			return 0, nil, fmt.Errorf("loose object %s: %w", h, err)
		}
		got, err := hashObject(t, d)
		if err != nil {
			return 0, nil, err
		}
		if got != oid {
			return 0, nil, fmt.Errorf("loose object %s holds %s: %w", h, got, ErrCorrupt)
		}
		return t, d, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, nil, err
	}
	for _, p := range r.packs {
		if _, ok := p.byOID[oid]; ok {
			return p.Object(oid)
		}
	}
	return 0, nil, fmt.Errorf("%s: %s: %w", r.dir, h, ErrMissing)
}

func (r *Repo) readLoose(f io.Reader) (Type, []byte, error) {
	zr, err := zlib.NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, nil, fmt.Errorf("zlib: %w: %v", ErrCorrupt, err)
	}
	br := bufio.NewReader(io.LimitReader(zr, r.lim.MaxObjectSize+64))
	hdr, err := br.ReadString(0)
	if err != nil || len(hdr) > 32 {
		return 0, nil, fmt.Errorf("header: %w", ErrCorrupt)
	}
	ts, ss, ok := strings.Cut(strings.TrimSuffix(hdr, "\x00"), " ")
	t, tok := parseType(ts)
	size, serr := strconv.ParseInt(ss, 10, 64)
	if !ok || !tok || serr != nil || size < 0 {
		return 0, nil, fmt.Errorf("header %q: %w", hdr, ErrCorrupt)
	}
	if size > r.lim.MaxObjectSize {
		return 0, nil, fmt.Errorf("%d bytes (max %d): %w", size, r.lim.MaxObjectSize, ErrLimit)
	}
	d := make([]byte, size)
	if _, err := io.ReadFull(br, d); err != nil {
		return 0, nil, fmt.Errorf("body: %w: %v", ErrCorrupt, err)
	}
	return t, d, nil
}

// Refs lists the repository's refs (loose and packed; loose wins) and HEAD.
func (r *Repo) Refs() ([]Ref, error) {
	seen := map[string]OID{}
	if b, err := os.ReadFile(filepath.Join(r.dir, "packed-refs")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || line[0] == '#' || line[0] == '^' {
				continue
			}
			hex, name, ok := strings.Cut(line, " ")
			if o, err := ParseOID(hex); ok && err == nil {
				seen[name] = o
			}
		}
	}
	root := filepath.Join(r.dir, "refs")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if len(seen) >= r.lim.MaxRefs {
			return fmt.Errorf("more than %d refs: %w", r.lim.MaxRefs, ErrLimit)
		}
		rel, _ := filepath.Rel(r.dir, path)
		if o, err := r.readRef(filepath.ToSlash(rel), 0); err == nil {
			seen[filepath.ToSlash(rel)] = o
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if o, err := r.readRef("HEAD", 0); err == nil {
		seen["HEAD"] = o
	}
	out := make([]Ref, 0, len(seen))
	for n, o := range seen {
		out = append(out, Ref{Name: n, OID: o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *Repo) readRef(name string, depth int) (OID, error) {
	if depth > 5 {
		return OID{}, fmt.Errorf("ref %s: symbolic refs nest too deep: %w", name, ErrCorrupt)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		// a packed ref
		pb, perr := os.ReadFile(filepath.Join(r.dir, "packed-refs"))
		if perr == nil {
			for _, line := range bytes.Split(pb, []byte("\n")) {
				if hex, n, ok := strings.Cut(string(line), " "); ok && n == name {
					return ParseOID(hex)
				}
			}
		}
		return OID{}, err
	}
	s := strings.TrimSpace(string(b))
	if t, ok := strings.CutPrefix(s, "ref: "); ok {
		return r.readRef(t, depth+1)
	}
	return ParseOID(s)
}
