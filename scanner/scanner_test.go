package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// eicar builds the EICAR test string at run time, so no source file carries it whole.
func eicar() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*")
}

const testRules = `
rule eicar : test {
  strings:
    $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
    $head = "X5O!P%@AP"
  condition:
    $eicar and $head at 0
}
rule eicar_anywhere {
  strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition: $a
}
`

func testScanner(t testing.TB, opt Options) *Scanner {
	t.Helper()
	r, err := CompileString("test", testRules)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Destroy)
	return New(r, opt)
}

type entry struct {
	name string
	data []byte
}

func mkTar(t testing.TB, es ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

func mkZip(t testing.TB, es ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func xzc(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zst(t testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

// bz2 uses the real bzip2 tool: Go has no bzip2 writer.
func bz2(t testing.TB, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("bzip2: %v", err)
	}
	return out
}

func scanOne(t testing.TB, s *Scanner, name string, data []byte) Result {
	t.Helper()
	fsys := fstest.MapFS{name: {Data: data, Mode: 0o644}}
	res, err := s.ScanAll(context.Background(), fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	return res[0]
}

func findInner(r Result, path string) *File {
	for i := range r.Inner {
		if r.Inner[i].Path == path {
			return &r.Inner[i]
		}
	}
	return nil
}

func TestEICAREverywhere(t *testing.T) {
	s := testScanner(t, Options{})
	e := eicar()
	plain := []byte("just some text\n")
	tarball := mkTar(t, entry{"pkg/README", plain}, entry{"pkg/bad.com", e})
	zipped := mkZip(t, entry{"docs/a.txt", plain}, entry{"x/eicar.com", e})
	cases := []struct {
		name, file, inner string
	}{
		{"direct", "eicar.com", ""},
		{"tar.gz", "p.tar.gz", "p.tar.gz!pkg/bad.com"},
		{"tar.xz", "p.tar.xz", "p.tar.xz!pkg/bad.com"},
		{"tar.zst", "p.tar.zst", "p.tar.zst!pkg/bad.com"},
		{"tar.bz2", "p.tar.bz2", "p.tar.bz2!pkg/bad.com"},
		{"tar", "p.tar", "p.tar!pkg/bad.com"},
		{"zip", "p.zip", "p.zip!x/eicar.com"},
		{"zip-in-tar.gz", "outer.tar.gz", "outer.tar.gz!in/p.zip!x/eicar.com"},
		{"gz single", "eicar.com.gz", "eicar.com.gz!eicar.com"},
	}
	data := map[string][]byte{
		"direct":        e,
		"tar.gz":        gz(t, tarball),
		"tar.xz":        xzc(t, tarball),
		"tar.zst":       zst(t, tarball),
		"tar.bz2":       bz2(t, tarball),
		"tar":           tarball,
		"zip":           zipped,
		"zip-in-tar.gz": gz(t, mkTar(t, entry{"in/p.zip", zipped}, entry{"in/ok", plain})),
		"gz single":     gz(t, e),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := scanOne(t, s, c.file, data[c.name])
			if r.Worst() != Match {
				t.Fatalf("worst verdict %s, want match; %v", r.Worst(), r.Problems())
			}
			f := &r.File
			if c.inner != "" {
				f = findInner(r, c.inner)
				if f == nil {
					t.Fatalf("no inner file %s in %+v", c.inner, r.Inner)
				}
			}
			if f.Verdict != Match || len(f.Rules) != 2 || f.Rules[0].Rule != "eicar" ||
				f.Rules[0].Namespace != "test" || strings.Join(f.Rules[0].Strings, ",") != "$eicar,$head" {
				t.Fatalf("%s: %+v", f.Path, f)
			}
			for _, g := range r.Inner {
				if g.Verdict == Unscannable || g.Verdict == LimitHit {
					t.Errorf("%s: %s %s", g.Path, g.Verdict, g.Reason)
				}
			}
		})
	}
}

func TestCleanArchive(t *testing.T) {
	s := testScanner(t, Options{})
	r := scanOne(t, s, "ok.tar.gz", gz(t, mkTar(t, entry{"a", []byte("hello")}, entry{"b/c", bytes.Repeat([]byte("x"), 1000)})))
	if r.Worst() != Clean || len(r.Inner) != 2 || r.Format != "gzip+tar" {
		t.Fatalf("%+v", r)
	}
	if r.Inner[0].SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("inner sha256 %s", r.Inner[0].SHA256)
	}
}

var _ = io.EOF

type tarWriter struct{ tw *tar.Writer }

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{tar.NewWriter(w)} }

func (t *tarWriter) link(name, target string, typ byte) {
	t.tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Typeflag: typ, Mode: 0o777})
}

func (t *tarWriter) close() { t.tw.Close() }

func mapFS(m map[string][]byte) fstest.MapFS {
	fsys := fstest.MapFS{}
	for k, v := range m {
		fsys[k] = &fstest.MapFile{Data: v, Mode: 0o644}
	}
	return fsys
}

// TestBlockScanOverlap checks the memory-block policy the package doc describes: a string in
// the overlap of two blocks is counted once, and one straddling a block edge is found.
func TestBlockScanOverlap(t *testing.T) {
	r, err := CompileString("b", `
rule once { strings: $a = "NEEDLE-0123456789" condition: #a == 1 and @a[1] == 13312 }
rule straddle { strings: $b = "STRADDLE-abcdefgh" condition: $b }
rule size_and_offset { condition: filesize == 102400 and uint32(50000) == 0x41424344 }
`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Destroy()
	data := bytes.Repeat([]byte{'.'}, 100<<10)
	copy(data[13<<10:], "NEEDLE-0123456789")     // in blocks 0 [0,16K) and 1 [12K,28K)
	copy(data[(28<<10)-8:], "STRADDLE-abcdefgh") // across block 1's end, inside block 2
	copy(data[50000:], "DCBA")
	s := New(r, Options{MemoryBudget: 8 << 10, BlockSize: 16 << 10, BlockOverlap: 4 << 10, TempDir: t.TempDir()})
	res := scanOne(t, s, "big", data)
	var got []string
	for _, m := range res.Rules {
		got = append(got, m.Rule)
	}
	if strings.Join(got, " ") != "once straddle size_and_offset" {
		t.Fatalf("block scan matched %q; %v", got, res.Problems())
	}
}

// TestPrecompiledRules loads rules compiled by the real yarac and by Save, and checks compile
// errors name file:line.
func TestPrecompiledRules(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "r.yar")
	writeFile(t, src, []byte(testRules))
	var paths []string
	if _, err := exec.LookPath("yarac"); err == nil {
		p := filepath.Join(dir, "yarac.yarc")
		if out, err := exec.Command("yarac", src, p).CombinedOutput(); err != nil {
			t.Fatalf("yarac: %v %s", err, out)
		}
		paths = append(paths, p)
	}
	r, err := CompileFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "saved.yarc")
	if err := r.Save(saved); err != nil {
		t.Fatal(err)
	}
	r.Destroy()
	paths = append(paths, saved)
	for _, p := range paths {
		rc, err := LoadCompiled(p)
		if err != nil {
			t.Fatal(err)
		}
		res := scanOne(t, New(rc, Options{}), "e", eicar())
		rc.Destroy()
		if res.Verdict != Match || len(res.Rules) != 2 {
			t.Fatalf("%s: %+v", p, res.File)
		}
	}
	if _, err := LoadCompiled(src); err == nil {
		t.Fatal("source text loaded as compiled rules")
	}
	bad := filepath.Join(dir, "bad.yar")
	writeFile(t, bad, []byte("rule a { condition: true }\n\nrule b { strings: $x = \"x\" condition: $y }\n"))
	if _, err := CompileFiles(src, bad); !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), "bad.yar:3: undefined string") {
		t.Fatalf("compile error: %v", err)
	}
}

// TestXZMultiBlock: an .xz written in many blocks by the real xz (decoded on several threads)
// gives the same inner files, hashes and matches as the same tar in one block, and a byte
// flipped in a middle block makes the archive unscannable.
func TestXZMultiBlock(t *testing.T) {
	testenv.Need(t, "xz")
	rng := rand.NewChaCha8([32]byte{5})
	var es []entry
	for i := range 40 {
		data := make([]byte, 100<<10)
		rng.Read(data)
		if i%9 == 4 {
			copy(data[i*1000:], eicar())
		}
		es = append(es, entry{fmt.Sprintf("f%02d", i), data})
	}
	tarball := mkTar(t, es...)
	compress := func(args ...string) []byte {
		cmd := exec.Command("xz", append([]string{"-c", "-1"}, args...)...)
		cmd.Stdin = bytes.NewReader(tarball)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", args, err)
		}
		return out
	}
	single, multi := compress("-T1"), compress("-T2", "--block-size=65536")
	tmp := filepath.Join(t.TempDir(), "multi.xz") // xz --list reads files only
	if err := os.WriteFile(tmp, multi, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xz", "--robot", "--list", tmp).Output()
	if err != nil {
		t.Fatalf("xz --list: %v", err)
	}
	var blocks int
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "file" {
			fmt.Sscan(f[2], &blocks)
		}
	}
	if blocks < 10 {
		t.Fatalf("xz wrote %d blocks, want many:\n%s", blocks, out)
	}
	s := testScanner(t, Options{Workers: 2})
	ref, got := scanOne(t, s, "t.tar.xz", single), scanOne(t, s, "t.tar.xz", multi)
	if len(ref.Inner) != len(es) || !reflect.DeepEqual(ref.Inner, got.Inner) {
		t.Fatalf("multi-block inner files differ from single-block:\n%+v\n%+v", got.Inner, ref.Inner)
	}
	matches := 0
	for _, f := range got.Inner {
		if f.Verdict == Match {
			matches++
		}
	}
	if matches != 4 { // f04, f13, f22, f31
		t.Errorf("%d matches, want 4", matches)
	}
	bad := bytes.Clone(multi)
	bad[len(bad)/2] ^= 0x40
	if r := scanOne(t, s, "bad.tar.xz", bad); r.Verdict != Unscannable || !strings.Contains(r.Reason, "corrupt or unsupported xz") {
		t.Errorf("corrupt multi-block xz: %v %q, want unscannable: corrupt or unsupported xz", r.Verdict, r.Reason)
	}
}

// TestZipAppended: a zip after other bytes (a real program followed by a real zip, raw and with
// offsets adjusted by zip -A as self-extractors are) is walked and EICAR deflated inside it is
// found; a zip end record whose directory is broken makes the file unscannable; programs that
// merely contain the signature bytes stay plain files.
func TestZipAppended(t *testing.T) {
	testenv.Need(t, "zip")
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload.txt")
	if err := os.WriteFile(payload, append(bytes.Repeat([]byte("filler line\n"), 500), eicar()...), 0o644); err != nil {
		t.Fatal(err)
	}
	zipped := filepath.Join(dir, "p.zip")
	if out, err := exec.Command("zip", "-q", "-j", "-9", zipped, payload).CombinedOutput(); err != nil {
		t.Fatalf("zip: %v %s", err, out)
	}
	prog, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	z, err := os.ReadFile(zipped)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(z, eicar()) {
		t.Fatal("the zip holds EICAR in the clear: it would not show what a scan of the bytes misses")
	}
	sfx := filepath.Join(dir, "sfx")
	if err := os.WriteFile(sfx, append(bytes.Clone(prog), z...), 0o755); err != nil {
		t.Fatal(err)
	}
	raw := bytes.Clone(append(bytes.Clone(prog), z...))
	if out, err := exec.Command("zip", "-q", "-A", sfx).CombinedOutput(); err != nil {
		t.Fatalf("zip -A: %v %s", err, out)
	}
	adjusted, err := os.ReadFile(sfx)
	if err != nil {
		t.Fatal(err)
	}
	s := testScanner(t, Options{})
	for name, data := range map[string][]byte{"raw": raw, "adjusted": adjusted} {
		r := scanOne(t, s, name, data)
		if r.Format != FormatZipAppended || len(r.Inner) != 1 || r.Inner[0].Path != name+"!payload.txt" || r.Inner[0].Verdict != Match {
			t.Errorf("%s: %+v", name, r)
		}
	}
	broken := bytes.Clone(raw)
	copy(broken[len(prog):], "XXXX") // the local header the directory points at
	end := bytes.LastIndex(broken, []byte("PK\x01\x02"))
	copy(broken[end:], "XXXX") // and the directory itself
	if r := scanOne(t, s, "broken", broken); r.Verdict != Unscannable || !strings.Contains(r.Reason, "zip-appended") {
		t.Errorf("broken appended zip: %v %q, want unscannable", r.Verdict, r.Reason)
	}
	for _, p := range []string{"/usr/bin/zip", "/usr/bin/unzip", "/usr/bin/7z"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if r := scanOne(t, s, filepath.Base(p), b); r.Format != "" || r.Verdict != Clean {
			t.Errorf("%s: format %q verdict %v %q, want a plain clean file", p, r.Format, r.Verdict, r.Reason)
		}
	}
}
