package testenv

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Guix vectors (set 2, "quux", see guix/testdata/vectors/README.md) are 18 MiB, almost all of
// it six copies of one 3 MiB pseudo-random file. The module carries 184 KiB: the small files as
// they are, and bundle.export without that file's bytes (bundle-sans-random.export). Everything
// else is derived here by the generator and the mutations the vectors themselves document
// (manifest.json, expected.json), and every file is checked against the vectors' SHA256SUMS, so
// the derived bytes are provably the real ones and not a re-creation that happens to pass.

// GuixVectorsSource is the committed part of the vectors, relative to the module root.
const GuixVectorsSource = "guix/testdata/vectors"

const (
	randomName   = "guixpub P1 random.bin" // manifest.json: items[P1].generator
	randomSize   = 3145728                 // README.md: tests/data/random.bin
	randomOffset = 8800                    // offset of its first content byte in bundle.export (expected.json: tampered-nar offset - offset_in_file)
	sansRandom   = "bundle-sans-random.export"
)

var guixVectors struct {
	once sync.Once
	dir  string
	err  error
}

// GuixVectors returns a directory holding the full set of real Guix test vectors, derived once
// per process into build/guix-vectors (or a temporary directory when the module is read-only).
// Tests must treat it as read-only.
func GuixVectors(t testing.TB) string {
	t.Helper()
	guixVectors.once.Do(func() {
		src := filepath.Join(RepoRoot(), GuixVectorsSource)
		dst := filepath.Join(RepoRoot(), "build", "guix-vectors")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			if dst, err = os.MkdirTemp("", "airlock-guix-vectors-"); err != nil {
				guixVectors.err = err
				return
			}
		}
		guixVectors.dir, guixVectors.err = dst, WriteGuixVectors(src, dst)
	})
	if guixVectors.err != nil {
		t.Fatalf("guix vectors: %v", guixVectors.err)
	}
	return guixVectors.dir
}

// ErrVectorSum is returned when a vector file's bytes differ from the vectors' SHA256SUMS.
var ErrVectorSum = errors.New("vector does not match SHA256SUMS")

// WriteGuixVectors makes dst hold every file listed in src's SHA256SUMS (plus README.md and
// SHA256SUMS), copying the committed ones and deriving the rest. Files already in dst with the
// right sum are kept, so concurrent test processes and repeated runs share the work; each file
// is written under a temporary name and renamed, so a reader never sees a partial file.
func WriteGuixVectors(src, dst string) error {
	sums, err := readSums(filepath.Join(src, "SHA256SUMS"))
	if err != nil {
		return err
	}
	v := &vectorSet{src: src, dst: dst, sums: sums, cache: map[string][]byte{}}
	for _, name := range []string{"README.md", "SHA256SUMS"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := v.put(name, b, false); err != nil {
			return err
		}
	}
	for name := range sums {
		if _, err := v.get(name); err != nil {
			return err
		}
	}
	return nil
}

type vectorSet struct {
	src, dst string
	sums     map[string]string
	cache    map[string][]byte
}

// get returns the checked bytes of name: from dst when already there, else committed or derived.
func (v *vectorSet) get(name string) ([]byte, error) {
	if b, ok := v.cache[name]; ok {
		return b, nil
	}
	if b, err := os.ReadFile(filepath.Join(v.dst, name)); err == nil && v.check(name, b) == nil {
		v.cache[name] = b
		return b, nil
	}
	b, err := os.ReadFile(filepath.Join(v.src, name))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = v.derive(name)
	}
	if err != nil {
		return nil, fmt.Errorf("guix vector %s: %w", name, err)
	}
	if err := v.put(name, b, true); err != nil {
		return nil, err
	}
	v.cache[name] = b
	return b, nil
}

func (v *vectorSet) check(name string, b []byte) error {
	want, ok := v.sums[name]
	if !ok {
		return fmt.Errorf("guix vector %s: not in SHA256SUMS", name)
	}
	got := sha256.Sum256(b)
	if hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("guix vector %s: sha256 %x, want %s: %w", name, got, want, ErrVectorSum)
	}
	return nil
}

func (v *vectorSet) put(name string, b []byte, checked bool) error {
	if checked {
		if err := v.check(name, b); err != nil {
			return err
		}
	}
	path := filepath.Join(v.dst, name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(name))
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o444)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// derive makes a vector that is not committed, from the committed ones and the documented
// generator and mutations.
func (v *vectorSet) derive(name string) ([]byte, error) {
	switch name {
	case "bundle.export":
		return v.bundle()
	case "p1.nar":
		return v.slice(func(it layoutItem) (int, int) { return it.NarStart, it.NarEnd }, 0)
	case "unsigned.export":
		return v.unsigned()
	}
	exp, err := v.expected()
	if err != nil {
		return nil, err
	}
	m := exp.Files[name].Mutation
	if m == nil {
		return nil, fmt.Errorf("no rule to derive it: %w", fs.ErrNotExist)
	}
	base, err := v.get(m.From)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(base)
	switch m.Op {
	case "flip": // one byte XORed: old -> new
		if m.Offset >= len(out) || fmt.Sprintf("%#x", out[m.Offset]) != m.Old {
			return nil, fmt.Errorf("flip at %d: byte is not %s", m.Offset, m.Old)
		}
		out[m.Offset] = parseByte(m.New)
	case "path": // one character of a store path replaced, length unchanged
		if !bytes.HasPrefix(out[m.Offset:], []byte(m.Old)) {
			return nil, fmt.Errorf("path at %d: byte is not %q", m.Offset, m.Old)
		}
		copy(out[m.Offset:], m.New)
		if !bytes.Contains(out, []byte(m.NewPath)) {
			return nil, fmt.Errorf("path at %d: %s not produced", m.Offset, m.NewPath)
		}
	case "truncate":
		if m.Length > len(out) {
			return nil, fmt.Errorf("truncate to %d: base has %d bytes", m.Length, len(out))
		}
		out = out[:m.Length]
	default:
		return nil, fmt.Errorf("unknown mutation %q", m.Op)
	}
	return out, nil
}

func parseByte(s string) byte {
	var b byte
	fmt.Sscanf(s, "0x%x", &b)
	return b
}

// bundle puts P1's tests/data/random.bin back into bundle-sans-random.export.
func (v *vectorSet) bundle() ([]byte, error) {
	sans, err := os.ReadFile(filepath.Join(v.src, sansRandom))
	if err != nil {
		return nil, err
	}
	if len(sans) < randomOffset {
		return nil, fmt.Errorf("%s: %d bytes, too short", sansRandom, len(sans))
	}
	out := make([]byte, 0, len(sans)+randomSize)
	out = append(out, sans[:randomOffset]...)
	var ctr [8]byte
	for i := uint64(0); len(out) < randomOffset+randomSize; i++ {
		binary.LittleEndian.PutUint64(ctr[:], i)
		h := sha256.Sum256(append([]byte(randomName), ctr[:]...))
		out = append(out, h[:min(len(h), randomOffset+randomSize-len(out))]...)
	}
	return append(out, sans[randomOffset:]...), nil
}

// unsigned is bundle.export as `nix-store --export` writes it: each item up to its signature
// flag, the flag 0 instead of 1 and the signature, then the end marker.
func (v *vectorSet) unsigned() ([]byte, error) {
	b, err := v.get("bundle.export")
	if err != nil {
		return nil, err
	}
	items, end, err := v.layout()
	if err != nil {
		return nil, err
	}
	var out []byte
	var zero [8]byte
	for _, it := range items {
		out = append(out, b[it.MarkerOffset:it.FlagOffset]...)
		out = append(out, zero[:]...)
	}
	if end != len(b)-8 {
		return nil, fmt.Errorf("end marker at %d in a %d-byte bundle", end, len(b))
	}
	return append(out, zero[:]...), nil
}

func (v *vectorSet) slice(span func(layoutItem) (int, int), index int) ([]byte, error) {
	b, err := v.get("bundle.export")
	if err != nil {
		return nil, err
	}
	items, _, err := v.layout()
	if err != nil {
		return nil, err
	}
	if index >= len(items) {
		return nil, fmt.Errorf("no item %d in the bundle layout", index)
	}
	s, e := span(items[index])
	if s < 0 || e > len(b) || s > e {
		return nil, fmt.Errorf("span [%d, %d) outside the bundle", s, e)
	}
	return bytes.Clone(b[s:e]), nil
}

type layoutItem struct {
	MarkerOffset    int  `json:"marker_offset"`
	NarStart        int  `json:"nar_start"`
	NarEnd          int  `json:"nar_end"`
	FlagOffset      int  `json:"flag_offset"`
	EndMarkerOffset *int `json:"end_marker_offset"`
}

// layout reads bundle_layout from manifest.json: the items, then the end marker's offset.
func (v *vectorSet) layout() ([]layoutItem, int, error) {
	b, err := v.get("manifest.json")
	if err != nil {
		return nil, 0, err
	}
	var m struct {
		Layout []layoutItem `json:"bundle_layout"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, 0, fmt.Errorf("manifest.json: %w", err)
	}
	var items []layoutItem
	for _, it := range m.Layout {
		if it.EndMarkerOffset != nil {
			return items, *it.EndMarkerOffset, nil
		}
		items = append(items, it)
	}
	return nil, 0, errors.New("manifest.json: bundle_layout has no end marker")
}

type mutation struct {
	Op      string `json:"op"`
	From    string `json:"from"`
	Offset  int    `json:"offset"`
	Old     string `json:"old"`
	New     string `json:"new"`
	NewPath string `json:"new_path"`
	Length  int    `json:"length"`
}

type expectedFile struct {
	Files map[string]struct {
		Mutation *mutation `json:"mutation"`
	} `json:"files"`
}

func (v *vectorSet) expected() (*expectedFile, error) {
	b, err := v.get("expected.json")
	if err != nil {
		return nil, err
	}
	var e expectedFile
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("expected.json: %w", err)
	}
	return &e, nil
}

func readSums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		sums[name] = sum
	}
	return sums, sc.Err()
}
