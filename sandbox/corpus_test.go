package sandbox

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/scanner"
)

// The scanner's hostile corpus (scanner/difftest/testdata/hostile, the files the differential
// against the real extractors judged) gives the same verdicts through the sandboxed worker as
// in-process: same files, same verdicts, same reasons, rules, limits, formats and hashes, inner
// files included. EICAR as a file and inside a zip make sure a Match crosses the pipe too.
func TestHostileCorpusThroughWorker(t *testing.T) {
	corpus := filepath.Join(testenv.RepoRoot(), "scanner", "difftest", "testdata", "hostile")
	ents, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"eicar.com": eicar, "eicar.zip": zipOf(t, "x/eicar.com", eicar)}
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != "README.md" {
			b, err := os.ReadFile(filepath.Join(corpus, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = string(b)
		}
	}
	if len(files) < 30 {
		t.Fatalf("only %d corpus files in %s", len(files), corpus)
	}
	rules, err := scanner.CompileFiles(filepath.Join(testenv.RepoRoot(), "scanner", "rules", "airlock.yar"))
	if err != nil {
		t.Fatal(err)
	}
	defer rules.Destroy()
	dir := writeTree(t, files)
	for name, target := range map[string]string{"link-in": "eicar.com", "link-out": "/etc/passwd"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		files[name] = target
	}
	opts := scanner.Options{Workers: 2}
	want, err := scanner.New(rules, opts).ScanAll(context.Background(), os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	got, conf, err := (&Config{}).Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: rules,
		Options: opts, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !conf.Seccomp {
		t.Errorf("not confined: %v", conf)
	}
	w, g := resultMap(t, want), resultMap(t, got)
	if len(w) != len(files) || len(g) != len(w) {
		t.Errorf("%d files, %d results in-process, %d through the worker", len(files), len(w), len(g))
	}
	classes := map[scanner.Verdict]int{}
	for p, wr := range w {
		classes[scanner.Verdict(wr.worst)]++
		if g[p].json != wr.json {
			t.Errorf("%s:\n in-process %s\n worker     %s", p, wr.json, g[p].json)
		}
	}
	t.Logf("%d files, verdicts %v", len(w), classes)
	if classes[scanner.Match] < 2 || classes[scanner.Clean] == len(w) {
		t.Errorf("verdicts %v: the corpus exercised too little", classes)
	}
}

type judged struct {
	json  string
	worst scanner.Verdict
}

// resultMap keys each result by path with everything it says (the top-level file and every
// inner file) as JSON.
func resultMap(t *testing.T, res []scanner.Result) map[string]judged {
	t.Helper()
	out := map[string]judged{}
	for _, r := range res {
		b, err := json.Marshal(append([]scanner.File{r.File}, r.Inner...))
		if err != nil {
			t.Fatal(err)
		}
		// The wire carries JSON, which (as `airlock scan --json` does) spells an invalid
		// UTF-8 byte of an archive member's name as U+FFFD: compare both sides as JSON sees
		// them, after one round trip.
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		out[r.Path] = judged{string(b), r.Worst()}
	}
	return out
}

func zipOf(t *testing.T, name, body string) string {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Media's corrupt images (the mutations of media/corrupt_test.go, rebuilt here with the same
// real tools: mkfs.vfat, mcopy, sfdisk, xorriso) are refused through the worker with the
// very class and message media.ReadFS gives in-process; and the intact images read the same.
func TestCorruptMediaThroughWorker(t *testing.T) {
	testenv.Need(t, "mkfs.vfat", "mcopy", "sfdisk", "xorriso")
	cases := corruptMedia(t)
	if len(cases) < 10 {
		t.Fatalf("%d cases", len(cases))
	}
	rules := testRules(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			img := filepath.Join(t.TempDir(), "img")
			if err := os.WriteFile(img, c.img, 0o644); err != nil {
				t.Fatal(err)
			}
			_, inErr := media.ReadFS(context.Background(), bytes.NewReader(c.img), int64(len(c.img)), 512)
			res, _, wErr := (&Config{}).Scan(context.Background(), &ScanRequest{Source: Source{Path: img, Kind: Medium}, Rules: rules, SpoolDir: t.TempDir()})
			if c.intact {
				if inErr != nil || wErr != nil || len(res) == 0 {
					t.Fatalf("intact image: in-process %v, worker %v (%d results)", inErr, wErr, len(res))
				}
				return
			}
			if !errors.Is(inErr, media.ErrCorrupt) {
				t.Fatalf("in-process: %v, want ErrCorrupt (the mutation no longer applies)", inErr)
			}
			if !errors.Is(wErr, ErrRefused) || wErr.Error() != inErr.Error() {
				t.Errorf("worker: %v\nin-process: %v", wErr, inErr)
			}
		})
	}
}

type mediaCase struct {
	name   string
	img    []byte
	intact bool
}

func corruptMedia(t *testing.T) []mediaCase {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for p, s := range map[string]string{"README.TXT": "read me\n", "x.nar": "nar bytes\n", "sub/deeper/f.txt": "deep\n"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), []byte(s), 0o644)
	}
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	fat := func(bits, mib int, table string) []byte {
		img := filepath.Join(dir, fmt.Sprintf("fat%d%s.img", bits, table))
		run("truncate", "-s", fmt.Sprintf("%dM", mib), img)
		args, target := []string{"-F", fmt.Sprint(bits), "-n", "VOL"}, img
		if table != "" {
			run("sh", "-c", fmt.Sprintf("echo 'start=2048, size=%d, type=c' | sfdisk -q --label dos %s", (mib-2)<<11, img))
			args = append(args, "--offset", "2048", img, fmt.Sprint((mib-2)<<11/2))
			target = img + "@@" + fmt.Sprint(2048*512)
		} else {
			args = append(args, img)
		}
		run("mkfs.vfat", args...)
		for _, e := range []string{"README.TXT", "x.nar", "sub"} {
			run("mcopy", "-s", "-i", target, filepath.Join(src, e), "::")
		}
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	entryOf := func(img []byte, name11 string) int {
		for i := 0; i+32 <= len(img) && i < 4<<20; i += 32 {
			if string(img[i:i+11]) == name11 && img[i+11]&0x0f != 0x0f {
				return i
			}
		}
		t.Fatalf("no entry %q", name11)
		return 0
	}
	cluster := func(b []byte, e int) uint32 {
		return uint32(binary.LittleEndian.Uint16(b[e+26:])) | uint32(binary.LittleEndian.Uint16(b[e+20:]))<<16
	}
	setCluster := func(b []byte, e int, c uint32) {
		binary.LittleEndian.PutUint16(b[e+26:], uint16(c))
		binary.LittleEndian.PutUint16(b[e+20:], uint16(c>>16))
	}
	var cases []mediaCase
	add := func(name string, orig []byte, mutate func(b []byte) []byte) {
		cases = append(cases, mediaCase{name: name, img: mutate(append([]byte(nil), orig...))})
	}
	for _, bits := range []int{12, 16, 32} {
		orig := fat(bits, map[int]int{12: 2, 16: 20, 32: 40}[bits], "")
		n := fmt.Sprintf("fat%d-", bits)
		cases = append(cases, mediaCase{name: n + "intact", img: orig, intact: true})
		add(n+"cross-linked", orig, func(b []byte) []byte {
			setCluster(b, entryOf(b, "X       NAR"), cluster(b, entryOf(b, "README  TXT")))
			return b
		})
		add(n+"directory-loop", orig, func(b []byte) []byte {
			setCluster(b, entryOf(b, "DEEPER     "), cluster(b, entryOf(b, "SUB        ")))
			return b
		})
		add(n+"file-larger-than-chain", orig, func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[entryOf(b, "README  TXT")+28:], 1<<30)
			return b
		})
		add(n+"cluster-out-of-range", orig, func(b []byte) []byte {
			setCluster(b, entryOf(b, "README  TXT"), 0x0ffffff0&(1<<bits-1)-16)
			return b
		})
		add(n+"name-slash", orig, func(b []byte) []byte {
			b[entryOf(b, "README  TXT")+2] = '/'
			return b
		})
		add(n+"volume-past-partition", orig, func(b []byte) []byte { return b[:len(b)/2] })
	}
	part := fat(16, 20, "dos")
	add("mbr-partition-past-end", part, func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[446+12:], 1<<30)
		return b
	})
	iso := filepath.Join(dir, "d.iso")
	run("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", iso, src)
	isoB, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, mediaCase{name: "iso-intact", img: isoB, intact: true})
	add("iso-rock-ridge-name-with-slash", isoB, func(b []byte) []byte {
		i := bytes.Index(b, []byte("NM\x0f\x01\x00README.TXT"))
		if i < 0 {
			t.Fatal("no Rock Ridge NM entry for README.TXT")
		}
		b[i+5+3] = '/'
		return b
	})
	add("iso-truncated-half", isoB, func(b []byte) []byte { return b[:len(b)/2] })
	add("iso-truncated-vd", isoB, func(b []byte) []byte { return b[:17*2048] })
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	return cases
}

// Inner files larger than the memory budget spill into the scratch directory: the one path the
// worker still opens after setup (openat with O_CREAT|O_EXCL, allowed by seccomp).
func TestSpillThroughWorker(t *testing.T) {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	body := make([]byte, 3<<20) // incompressible, within the expansion ratio
	rand.NewChaCha8([32]byte{1}).Read(body)
	body = append(body, eicar...)
	tw.WriteHeader(&tar.Header{Name: "big/inner.bin", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	gz.Close()
	dir := writeTree(t, map[string]string{"big.tar.gz": b.String()})
	res, _, err := (&Config{}).Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: testRules(t),
		Options: scanner.Options{MemoryBudget: 1 << 20}, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Worst() != scanner.Match {
		t.Fatalf("results %+v", res)
	}
}
