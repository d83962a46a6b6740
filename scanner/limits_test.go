package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// zeroTar returns a tar stream holding one file of n zero bytes, written to w as it is made.
func zeroTar(w io.Writer, n int64) error {
	hdr := make([]byte, 512)
	copy(hdr, "zeros")
	copy(hdr[100:], "0000644\x00")
	copy(hdr[108:], "0000000\x00")
	copy(hdr[116:], "0000000\x00")
	copy(hdr[124:], fmt.Sprintf("%011o\x00", n))
	copy(hdr[136:], "00000000000\x00")
	hdr[156] = '0'
	copy(hdr[257:], "ustar\x0000")
	copy(hdr[148:], "        ")
	sum := 0
	for _, b := range hdr {
		sum += int(b)
	}
	copy(hdr[148:], fmt.Sprintf("%06o\x00 ", sum))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(w, zeroReader{}, n+1024); err != nil { // contents + end blocks
		return err
	}
	return nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// measure runs f and returns its wall time and the bytes it allocated.
func measure(f func()) (time.Duration, uint64) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	start := time.Now()
	f()
	d := time.Since(start)
	runtime.ReadMemStats(&b)
	return d, b.TotalAlloc - a.TotalAlloc
}

func TestBombs(t *testing.T) {
	const expanded = 128 << 20
	gzBomb := func() []byte {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(zeroTar(pw, expanded)) }()
		cmd := exec.Command("gzip", "-1", "-c")
		cmd.Stdin = pr
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("gzip: %v", err)
		}
		return out
	}
	xzBomb := func() []byte {
		cmd := exec.Command("xz", "-T1", "-1", "-c")
		cmd.Stdin = io.LimitReader(zeroReader{}, expanded)
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("xz: %v", err)
		}
		return out
	}
	zipBomb := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, _ := zw.Create("zeros.bin")
		io.CopyN(w, zeroReader{}, 64<<20)
		zw.Close()
		return b.Bytes()
	}
	nested := func() []byte {
		data := []byte("innermost\n")
		name := "leaf.txt"
		for i := range 20 {
			data = gz(t, mkTar(t, entry{name, data}))
			name = fmt.Sprintf("level%02d.tar.gz", 19-i)
		}
		return data
	}
	cases := []struct {
		name, file string
		make       func() []byte
		limit      string
	}{
		{"gzip-zeros", "bomb.tar.gz", gzBomb, LimitRatio},
		{"xz-zeros", "bomb.xz", xzBomb, LimitRatio},
		{"zip-zeros", "bomb.zip", zipBomb, LimitRatio},
		{"nested-20", "nest.tar.gz", nested, LimitDepth},
	}
	s := testScanner(t, Options{Workers: 1, TempDir: t.TempDir()})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.make()
			var r Result
			d, alloc := measure(func() { r = scanOne(t, s, c.file, data) })
			t.Logf("%s: %d bytes, refused in %v, %d MiB allocated", c.name, len(data), d, alloc>>20)
			if r.Worst() != LimitHit {
				t.Fatalf("worst %s, want limit; %v", r.Worst(), r.Problems())
			}
			found := false
			for _, f := range append([]File{r.File}, r.Inner...) {
				if f.Verdict == LimitHit {
					found = found || f.Limit == c.limit
					if f.Reason == "" {
						t.Errorf("%s: limit without a reason", f.Path)
					}
				}
			}
			if !found {
				t.Fatalf("no %s limit in %v", c.limit, r.Problems())
			}
			if d > 10*time.Second && !raceEnabled {
				t.Errorf("took %v", d)
			}
			if alloc > 160<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if c.limit == LimitDepth {
				deepest := 0
				for _, f := range r.Inner {
					deepest = max(deepest, f.Depth)
				}
				if deepest != 8 {
					t.Errorf("deepest inner file at %d, want 8", deepest)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tarball := mkTar(t, entry{"a", bytes.Repeat([]byte("a"), 5000)}, entry{"b", []byte("b")}, entry{"c", []byte("c")})
	cases := []struct {
		name  string
		lim   Limits
		data  []byte
		limit string
	}{
		{"entry-size", Limits{MaxEntrySize: 4096}, tarball, LimitEntrySize},
		{"entries", Limits{MaxEntries: 2}, tarball, LimitEntries},
		{"expanded", Limits{MaxExpanded: 4096, RatioFloor: 1 << 30}, gz(t, tarball), LimitExpanded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testScanner(t, Options{Limits: c.lim})
			r := scanOne(t, s, "x", c.data)
			if r.Worst() != LimitHit {
				t.Fatalf("worst %s: %v", r.Worst(), r.Problems())
			}
			if p := strings.Join(r.Problems(), "\n"); !strings.Contains(p, "(limit "+c.limit+")") {
				t.Fatalf("want limit %s in %s", c.limit, p)
			}
		})
	}
	t.Run("xz-dictionary", func(t *testing.T) {
		var b bytes.Buffer
		w, err := xz.WriterConfig{DictCap: 32 << 20}.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("small"))
		w.Close()
		s := testScanner(t, Options{Limits: Limits{MaxDecoderMemory: 8 << 20}})
		r := scanOne(t, s, "x.xz", b.Bytes())
		if r.Verdict != LimitHit || r.Limit != LimitDictionary {
			t.Fatalf("%+v", r.File)
		}
	})
}

func TestUnscannable(t *testing.T) {
	s := testScanner(t, Options{})
	good := gz(t, mkTar(t, entry{"a", bytes.Repeat([]byte("hello "), 4000)}))
	truncated := good[:len(good)/2]
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "secret.txt", Method: zip.Store, Flags: 1})
	w.Write([]byte("ciphertext"))
	zw.Close()
	trailing := gz(t, append(mkTar(t, entry{"a", []byte("x")}), []byte("hidden payload")...))
	cases := []struct{ name, file, want string }{
		{"truncated gzip", "t.tar.gz", "corrupt or unsupported gzip"},
		{"encrypted zip", "e.zip", "encrypted zip entry"},
		{"data after tar", "d.tar.gz", "after the end of the tar archive"},
	}
	inputs := [][]byte{truncated, zb.Bytes(), trailing}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := scanOne(t, s, c.file, inputs[i])
			if r.Worst() != Unscannable {
				t.Fatalf("worst %s: %v", r.Worst(), r.Problems())
			}
			if p := strings.Join(r.Problems(), "\n"); !strings.Contains(p, c.want) {
				t.Fatalf("want %q in %s", c.want, p)
			}
		})
	}
}

func TestLinksRecordedNotFollowed(t *testing.T) {
	var b bytes.Buffer
	tw := newTarWriter(&b)
	tw.link("etc/passwd-link", "/etc/passwd", '2')
	tw.link("hard", "etc/passwd-link", '1')
	tw.link("dev/sda", "", '4')
	tw.close()
	s := testScanner(t, Options{})
	r := scanOne(t, s, "l.tar", b.Bytes())
	if r.Worst() != Clean || len(r.Inner) != 3 {
		t.Fatalf("%+v", r)
	}
	want := []struct{ typ, target string }{{TypeSymlink, "/etc/passwd"}, {TypeHardlink, "etc/passwd-link"}, {TypeSpecial, ""}}
	for i, w := range want {
		if r.Inner[i].Type != w.typ || r.Inner[i].Target != w.target {
			t.Errorf("%d: %+v", i, r.Inner[i])
		}
	}
}

func TestCancel(t *testing.T) {
	s := testScanner(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fsys := map[string][]byte{"a": []byte("x")}
	_ = fsys
	if _, err := s.ScanAll(ctx, mapFS(map[string][]byte{"a": []byte("x")}), "."); err == nil {
		t.Fatal("no error after cancel")
	}
}

// TestSparseTarBomb: a GNU sparse entry whose holes make a few hundred bytes of tar declare a
// 1 GiB file must stop at the ratio limit, not be unpacked.
func TestSparseTarBomb(t *testing.T) {
	testenv.Need(t, "tar")
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.WriteAt([]byte("end"), 1<<30-3)
	f.Close()
	out, err := exec.Command("tar", "-C", dir, "--sparse", "-cf", "-", "holes").Output()
	if err != nil {
		t.Fatalf("tar --sparse: %v", err)
	}
	s := testScanner(t, Options{TempDir: t.TempDir()})
	var r Result
	d, alloc := measure(func() { r = scanOne(t, s, "sparse.tar", out) })
	t.Logf("%d-byte tar refused in %v, %d MiB allocated", len(out), d, alloc>>20)
	if r.Worst() != LimitHit || !strings.Contains(strings.Join(r.Problems(), " "), "(limit "+LimitRatio+")") {
		t.Fatalf("%v", r.Problems())
	}
}

// TestTimeout: a file on which the rules run longer than Options.Timeout is a limit verdict.
func TestTimeout(t *testing.T) {
	r, err := CompileString("slow", `rule slow { condition: for all i in (0..filesize-1) : ( for all j in (0..filesize-1) : ( uint8(i) != 0x100 or uint8(j) == 0 ) ) }`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Destroy()
	s := New(r, Options{Timeout: time.Second})
	start := time.Now()
	res := scanOne(t, s, "slow.bin", bytes.Repeat([]byte{1}, 64<<10))
	if res.Verdict != LimitHit || res.Limit != LimitTimeout || time.Since(start) > 30*time.Second {
		t.Fatalf("%+v after %v", res.File, time.Since(start))
	}
}

// TestOpaqueContainersRefused: archives and compressed streams the walker cannot open, made by
// the real 7z (whose LZMA hides EICAR from a scan of the bytes) and lz4, and the headers of the others it knows, are unscannable at the top and inside a tar.gz, so
// the import decision refuses them even when allowlisted; text that merely starts with a
// similar word stays clean.
func TestOpaqueContainersRefused(t *testing.T) {
	testenv.Need(t, "7z", "lz4")
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload.txt")
	if err := os.WriteFile(payload, append(bytes.Repeat([]byte("filler line\n"), 500), eicar()...), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) []byte {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return out
	}
	run("7z", "a", "-bd", "-mx=5", filepath.Join(dir, "p.7z"), payload)
	run("lz4", "-q", "-f", payload, filepath.Join(dir, "p.lz4"))
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bytes.Contains(read("p.7z"), eicar()) {
		t.Fatal("p.7z holds EICAR in the clear: it would not show what a scan of the bytes misses")
	}
	junk := bytes.Repeat([]byte{0x5a, 0xa5, 0x33}, 300)
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"p.7z", "7z archive", read("p.7z")},
		{"p.lz4", "LZ4 frame", read("p.lz4")},
		{"p.rar", "RAR archive", append([]byte("Rar!\x1a\x07\x01\x00"), junk...)},
		{"p.cab", "cabinet (CAB) archive", append([]byte("MSCF\x00\x00\x00\x00"), junk...)},
		{"p.lz", "lzip stream", append([]byte("LZIP\x01\x0c"), junk...)},
		{"p.Z", "compress (.Z) stream", append([]byte{0x1f, 0x9d, 0x90}, junk...)},
		{"p.squashfs", "squashfs image", append([]byte("hsqs"), junk...)},
		{"p.rpm", "RPM package", append([]byte{0xed, 0xab, 0xee, 0xdb, 3, 0}, junk...)},
	}
	s := testScanner(t, Options{})
	for _, c := range cases {
		r := scanOne(t, s, c.name, c.data)
		// Unscannable, or a match (which ranks above) when the bytes show one, as lz4's do.
		refused := func(f File) bool {
			return (f.Verdict == Unscannable || f.Verdict == Match) && strings.Contains(f.Reason, c.want+": airlock cannot open it")
		}
		if !refused(r.File) {
			t.Errorf("%s: %v %q, want unscannable naming %s", c.name, r.Verdict, r.Reason, c.want)
		}
		nested := scanOne(t, s, "outer.tar.gz", gz(t, mkTar(t, entry{"in/" + c.name, c.data})))
		if len(nested.Inner) != 1 || !refused(nested.Inner[0]) || nested.Worst() == Clean {
			t.Errorf("%s inside a tar.gz: %+v", c.name, nested)
		}
		d := Decide([]Result{r}, mapAllow{r.Sum: r.Size})
		if len(d) != 1 || d[0].Approved {
			t.Errorf("%s allowlisted: decision %+v, want refused", c.name, d)
		}
	}
	for _, text := range []string{"LZIP is a compressor\n", "hsq\n", "Rar! is a word\n", "MSCF"} {
		if r := scanOne(t, s, "note.txt", []byte(text)); r.Verdict != Clean {
			t.Errorf("%q: %v %q, want clean", text, r.Verdict, r.Reason)
		}
	}
}
