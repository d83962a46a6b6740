package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
	"github.com/airlock-appliance/airlock/sealing"
)

// The importer with the real scanner (libyara), the real Guix verifier and the shared vectors.

const testRule = `rule EICAR_test_file {
  strings: $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition: $eicar
}
`

type setAllow map[[32]byte]int64

func (s setAllow) Allowed(sum [32]byte, size int64) bool { n, ok := s[sum]; return ok && n == size }

func newTestImporter(t *testing.T) *ScanImporter {
	t.Helper()
	rules, err := scanner.CompileString("test", testRule)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rules.Destroy)
	b, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "one-acl"))
	if err != nil {
		t.Fatal(err)
	}
	acl, err := guix.ParseACL(b)
	if err != nil {
		t.Fatal(err)
	}
	return &ScanImporter{Rules: rules, ACL: acl, SpoolMax: 64 << 20, MaxFiles: 10,
		Options: scanner.Options{Limits: scanner.DefaultLimits(), Workers: 1}}
}

func TestScanImporter(t *testing.T) {
	vec := testenv.GuixVectors(t)
	export, err := os.ReadFile(filepath.Join(vec, "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	unauth, _ := os.ReadFile(filepath.Join(vec, "unauthorized.export"))
	src := []byte("a source tarball, allowlisted\n")
	im := newTestImporter(t)
	im.Allowlist = setAllow{sha256.Sum256(src): int64(len(src))}
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
	fsys := fstest.MapFS{
		"quux.export":         {Data: export},
		"dir/src.tar":         {Data: src},
		"eicar.com":           {Data: []byte(eicar)},
		"unknown.txt":         {Data: []byte("nobody approved me\n")},
		"unauthorized.export": {Data: unauth},
	}
	spool := t.TempDir()
	var last int64
	dec, err := im.Read(context.Background(), fsys, spool, func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // path -> "" approved, or a piece of the reason
		"quux.export": "", "dir/src.tar": "", "eicar.com": "EICAR_test_file",
		"unknown.txt": "allowlist", "unauthorized.export": "unauthorized",
	}
	if len(dec.Files) != len(want) {
		t.Fatalf("%d verdicts, want %d: %+v", len(dec.Files), len(want), dec.Files)
	}
	for _, f := range dec.Files {
		w, ok := want[f.Path]
		if !ok {
			t.Errorf("unexpected file %q", f.Path)
			continue
		}
		if w == "" && !f.Approved {
			t.Errorf("%s rejected: %v", f.Path, f.Reasons)
		}
		if w != "" && (f.Approved || !strings.Contains(strings.Join(f.Reasons, "; "), w)) {
			t.Errorf("%s: approved=%v reasons %v, want rejected for %q", f.Path, f.Approved, f.Reasons, w)
		}
		// The spool holds exactly the bytes read, hashed in the same read.
		b, err := os.ReadFile(filepath.Join(spool, f.Path))
		if err != nil {
			t.Errorf("spool: %v", err)
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 || string(b) != string(fsys[f.Path].Data) {
			t.Errorf("%s: spooled copy differs from what was read", f.Path)
		}
	}
	if dec.Approved() {
		t.Error("a stick with rejected files approved")
	}
	var total int64
	for _, f := range fsys {
		total += int64(len(f.Data))
	}
	if last != total {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	if !strings.Contains(string(dec.Report), `"decisions"`) {
		t.Errorf("report.json lacks the decisions: %.200s", dec.Report)
	}
}

func TestScanImporterBounds(t *testing.T) {
	im := newTestImporter(t)
	im.SpoolMax = 10
	fsys := fstest.MapFS{"big": {Data: make([]byte, 11)}}
	if _, err := im.Read(context.Background(), fsys, t.TempDir(), func(int64, int64) {}); err == nil || !strings.Contains(err.Error(), "spool_max") {
		t.Errorf("spool bound: %v", err)
	}
	im.SpoolMax = 1 << 20
	im.MaxFiles = 2
	fsys = fstest.MapFS{"a": {Data: []byte("a")}, "b": {Data: []byte("b")}, "c": {Data: []byte("c")}}
	if _, err := im.Read(context.Background(), fsys, t.TempDir(), func(int64, int64) {}); err == nil || !strings.Contains(err.Error(), "max_stick_files") {
		t.Errorf("file count bound: %v", err)
	}
	// An empty stick is never approved.
	dec, err := im.Read(context.Background(), fstest.MapFS{}, t.TempDir(), func(int64, int64) {})
	if err != nil || dec.Approved() {
		t.Errorf("empty stick: %v, approved %v", err, dec.Approved())
	}
}

func TestCheckSealed(t *testing.T) {
	a := sealing.File{Path: "bundle/a", Sum: sha256.Sum256([]byte("a"))}
	meta := sealing.File{Path: "AIRLOCK/report.json", Sum: sha256.Sum256([]byte("{}"))}
	ha := hex.EncodeToString(a.Sum[:])
	if err := checkSealed([]sealing.File{a, meta}, map[string]string{"bundle/a": ha}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		files []sealing.File
		want  map[string]string
	}{
		"extra":   {[]sealing.File{a, {Path: "bundle/b"}}, map[string]string{"bundle/a": ha}},
		"missing": {[]sealing.File{meta}, map[string]string{"bundle/a": ha}},
		"changed": {[]sealing.File{a}, map[string]string{"bundle/a": hex.EncodeToString(make([]byte, 32))}},
	} {
		if err := checkSealed(tc.files, tc.want); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// fatImage makes a FAT superfloppy image holding files (name -> content).
func fatImage(t *testing.T, files map[string][]byte) string {
	t.Helper()
	testenv.Need(t, "mkfs.vfat", "mcopy")
	dir := t.TempDir()
	img := filepath.Join(dir, "stick.img")
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("mkfs.vfat", "-C", img, "8192")
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		run("mcopy", "-i", img, p, "::"+name)
	}
	return img
}

// The station's import through the sandboxed worker: the same verdicts as in-process, the spool
// holds exactly what was hashed, and a worker that dies fails the read naming why.
func TestScanImporterDevice(t *testing.T) {
	vec := testenv.GuixVectors(t)
	export, err := os.ReadFile(filepath.Join(vec, "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	unauth, _ := os.ReadFile(filepath.Join(vec, "unauthorized.export"))
	src := []byte("a source tarball, allowlisted\n")
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
	files := map[string][]byte{"quux.export": export, "src.tar": src, "eicar.com": []byte(eicar),
		"unknown.txt": []byte("nobody approved me\n"), "unauth.export": unauth}
	img := fatImage(t, files)
	im := newTestImporter(t)
	im.Allowlist = setAllow{sha256.Sum256(src): int64(len(src))}
	for _, noSandbox := range []bool{false, true} {
		im.Sandbox = &sandbox.Config{Disabled: noSandbox}
		spool := t.TempDir()
		var last, total int64
		dec, err := im.ReadDevice(context.Background(), img, spool, func(done, all int64) { last, total = done, all })
		if err != nil {
			t.Fatalf("no-sandbox=%v: %v", noSandbox, err)
		}
		want := map[string]string{"quux.export": "", "src.tar": "", "eicar.com": "EICAR_test_file",
			"unknown.txt": "allowlist", "unauth.export": "unauthorized"}
		if len(dec.Files) != len(want) {
			t.Fatalf("%d verdicts: %+v", len(dec.Files), dec.Files)
		}
		for _, f := range dec.Files {
			w := want[f.Path]
			if w == "" && !f.Approved {
				t.Errorf("%s rejected: %v", f.Path, f.Reasons)
			}
			if w != "" && (f.Approved || !strings.Contains(strings.Join(f.Reasons, "; "), w)) {
				t.Errorf("%s: approved=%v reasons %v, want rejected for %q", f.Path, f.Approved, f.Reasons, w)
			}
			b, err := os.ReadFile(filepath.Join(spool, f.Path))
			sum := sha256.Sum256(b)
			if err != nil || hex.EncodeToString(sum[:]) != f.SHA256 || string(b) != string(files[f.Path]) {
				t.Errorf("%s: spooled copy differs from what was read (%v)", f.Path, err)
			}
		}
		if last == 0 || last != total {
			t.Errorf("progress ended at %d of %d", last, total)
		}
		if want := "seccomp true, no capabilities"; noSandbox {
			if !strings.Contains(dec.Worker, "NOT sandboxed") {
				t.Errorf("worker %q", dec.Worker)
			}
		} else if !strings.Contains(dec.Worker, want) {
			t.Errorf("worker %q, want %q", dec.Worker, want)
		}
	}
	// A worker that is not one (exits 1 at once) fails the read; nothing is decided.
	im.Sandbox = &sandbox.Config{Executable: "/bin/false"}
	if dec, err := im.ReadDevice(context.Background(), img, t.TempDir(), nil); err == nil || dec != nil ||
		!strings.Contains(err.Error(), "scan worker exited with status 1") {
		t.Errorf("failed worker: %v, %v", dec, err)
	}
}

// TestScanImporterKnownStorePaths: the policy's import.known_store_paths reach the judge, both
// in process and after a sandboxed read, so an export whose references the high side already
// holds is accepted at the station as `airlock guix verify --present` accepts it (it was refused
// as "missing-reference" before).
func TestScanImporterKnownStorePaths(t *testing.T) {
	vec := testenv.GuixVectors(t)
	partial, err := os.ReadFile(filepath.Join(vec, "partial-closure.export"))
	if err != nil {
		t.Fatal(err)
	}
	two, _ := os.ReadFile(filepath.Join(vec, "two-acl"))
	acl, err := guix.ParseACL(two)
	if err != nil {
		t.Fatal(err)
	}
	im := newTestImporter(t)
	im.ACL = acl
	img := fatImage(t, map[string][]byte{"partial.export": partial})
	read := func() *Decision {
		t.Helper()
		dec, err := im.ReadDevice(context.Background(), img, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		mem, err := im.Read(context.Background(), fstest.MapFS{"partial.export": {Data: partial}}, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Approved() != mem.Approved() {
			t.Fatalf("sandboxed read approved=%v, in-process approved=%v", dec.Approved(), mem.Approved())
		}
		return dec
	}
	if dec := read(); dec.Approved() || !strings.Contains(strings.Join(dec.Files[0].Reasons, "; "), "missing-reference") {
		t.Fatalf("without known store paths: %+v", dec.Files)
	}
	im.Present = []string{"/gnu/store/hfj39pdgk5syajdqf8w4ibp7766cfsv3-quux-checkout",
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.1.tar.xz"}
	if dec := read(); !dec.Approved() {
		t.Fatalf("with P1 and P2 known: %+v", dec.Files)
	}
}

// TestScanImporterRefusesNamesTheDiscCannotCarry: a name some disc reader would change (here a
// trailing dot, which 7z drops) is a rejection of that file with the writer's reason, in the
// decision and in the report, not a failure when the image is laid out.
func TestScanImporterRefusesNamesTheDiscCannotCarry(t *testing.T) {
	src := []byte("allowlisted\n")
	im := newTestImporter(t)
	im.Allowlist = setAllow{sha256.Sum256(src): int64(len(src))}
	dec, err := im.Read(context.Background(), fstest.MapFS{"a.txt.": {Data: src}, "b.txt": {Data: src}}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range dec.Files {
		switch {
		case f.Path == "b.txt" && !f.Approved:
			t.Errorf("b.txt rejected: %v", f.Reasons)
		case f.Path == "a.txt." && (f.Approved || !strings.Contains(strings.Join(f.Reasons, "; "), "a.txt.")):
			t.Errorf("a.txt.: approved=%v %v", f.Approved, f.Reasons)
		}
	}
	if !strings.Contains(string(dec.Report), "which 7-Zip drops") {
		t.Errorf("report does not show the rejection: %s", dec.Report)
	}
}
