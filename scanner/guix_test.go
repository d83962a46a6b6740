package scanner

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// wireStr appends a NAR/export wire string: u64 length, bytes, zero padding to 8.
func wireStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	b = append(b, s...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// unsignedExport frames NARs as an unsigned one-item-per-NAR export stream (GUIX-FORMATS.md).
func unsignedExport(nars map[string][]byte, order []string) []byte {
	var b []byte
	for _, path := range order {
		b = binary.LittleEndian.AppendUint64(b, 1)
		b = append(b, nars[path]...)
		b = binary.LittleEndian.AppendUint64(b, 0x4558494e)
		b = wireStr(b, path)
		b = binary.LittleEndian.AppendUint64(b, 0) // no references
		b = wireStr(b, "")                         // no deriver
		b = binary.LittleEndian.AppendUint64(b, 0) // unsigned
	}
	return binary.LittleEndian.AppendUint64(b, 0)
}

func dumpDir(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	var b bytes.Buffer
	if err := guix.DumpPath(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEICARInNAR(t *testing.T) {
	s := testScanner(t, Options{})
	files := map[string][]byte{"bin/hello": []byte("#!/bin/sh\necho hello\n"), "share/x/eicar.com": eicar()}
	t.Run("guix.DumpPath", func(t *testing.T) {
		r := scanOne(t, s, "h.nar", dumpDir(t, files))
		if f := findInner(r, "h.nar!/share/x/eicar.com"); f == nil || f.Verdict != Match {
			t.Fatalf("%+v", r.Inner)
		}
		if f := findInner(r, "h.nar!/bin/hello"); f == nil || f.Verdict != Clean {
			t.Fatalf("%+v", r.Inner)
		}
	})
	t.Run("nix-store --dump", func(t *testing.T) {
		testenv.Need(t, "nix-store")
		dir := t.TempDir()
		for name, data := range files {
			writeFile(t, filepath.Join(dir, name), data)
		}
		nar, err := exec.Command("nix-store", "--dump", dir).Output()
		if err != nil {
			t.Fatalf("nix-store --dump: %v", err)
		}
		r := scanOne(t, s, "n.nar", nar)
		if f := findInner(r, "n.nar!/share/x/eicar.com"); f == nil || f.Verdict != Match || r.Format != FormatNAR {
			t.Fatalf("%+v %+v", r.File, r.Inner)
		}
	})
}

func loadACL(t *testing.T, name string) *guix.ACL {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), name))
	if err != nil {
		t.Fatal(err)
	}
	acl, err := guix.ParseACL(b)
	if err != nil {
		t.Fatal(err)
	}
	return acl
}

// TestEICARInSignedExport builds an export from a NAR holding EICAR, signs it with the vectors'
// signer1 key, and checks the same read yields both the match and the per-item Guix verdict.
func TestEICARInSignedExport(t *testing.T) {
	vec := testenv.GuixVectors(t)
	keyText, err := os.ReadFile(filepath.Join(vec, "keys", "signer1", "signing-key.sec"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := guix.ParsePrivateKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	const infected, clean = "/gnu/store/00000000000000000000000000000000-infected-1.0", "/gnu/store/11111111111111111111111111111111-hello-2.12"
	nars := map[string][]byte{
		infected: dumpDir(t, map[string][]byte{"share/eicar.com": eicar()}),
		clean:    dumpDir(t, map[string][]byte{"bin/hello": []byte("\x7fELF hello")}),
	}
	sign := func(order ...string) []byte {
		var signed bytes.Buffer
		if err := guix.ResignExport(context.Background(), &signed, bytes.NewReader(unsignedExport(nars, order)), key); err != nil {
			t.Fatal(err)
		}
		return signed.Bytes()
	}
	s := testScanner(t, Options{Guix: loadACL(t, "one-acl")})
	r := scanOne(t, s, "bundle.export", sign(clean, infected))
	if r.Format != FormatExport {
		t.Fatalf("format %q", r.Format)
	}
	f := findInner(r, "bundle.export!"+infected+"/share/eicar.com")
	if f == nil || f.Verdict != Match {
		t.Fatalf("no match on the infected item's file: %+v", r.Inner)
	}
	if g := findInner(r, "bundle.export!"+clean+"/bin/hello"); g == nil || g.Verdict != Clean {
		t.Fatalf("%+v", r.Inner)
	}
	if r.Guix == nil || !r.Guix.Accept || len(r.Guix.Items) != 2 {
		t.Fatalf("guix verdict %+v", r.Guix)
	}
	d := Decide([]Result{r}, nil)[0]
	if d.Approved || !strings.Contains(strings.Join(d.Reasons, "\n"), "eicar.com: match") {
		t.Fatalf("signed but infected export: %+v", d)
	}
	// The clean item alone is approved on the ACL alone.
	r = scanOne(t, s, "hello.export", sign(clean))
	if d := Decide([]Result{r}, nil)[0]; !d.Approved || d.Basis != BasisGuixACL {
		t.Fatalf("clean signed export: %+v %v", d, r.Problems())
	}
}

// TestGuixVectors scans the real vectors with their ACLs: the per-item outcomes made in the
// scan's read must equal expected.json's.
func TestGuixVectors(t *testing.T) {
	vec := testenv.GuixVectors(t)
	cases := []struct {
		file, acl string
		outcomes  string
		stream    guix.StreamState
		approved  bool
	}{
		{"bundle.export", "two-acl", "valid valid valid valid", "complete", true},
		{"bundle.export", "one-acl", "valid valid valid unauthorized-key", "complete", false},
		{"partial-closure.export", "two-acl", "missing-reference valid", "complete", false},
		{"unsigned.export", "two-acl", "unsigned unsigned unsigned unsigned", "complete", false},
		{"tampered-nar.export", "two-acl", "hash-mismatch valid valid valid", "complete", false},
		{"tampered-path.export", "two-acl", "valid hash-mismatch missing-reference valid", "complete", false},
		{"bad-signature.export", "two-acl", "invalid-signature", "complete", false},
		{"unauthorized.export", "two-acl", "unauthorized-key", "complete", false},
		{"truncated.export", "two-acl", "valid valid truncated", "truncated", false},
		{"trailing-garbage.export", "two-acl", "valid", "trailing-data", false},
		{"p2-only.export", "one-acl", "valid", "complete", true},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.acl, func(t *testing.T) {
			s := testScanner(t, Options{Guix: loadACL(t, c.acl)})
			res, err := s.ScanAll(context.Background(), os.DirFS(vec), c.file)
			if err != nil || len(res) != 1 {
				t.Fatal(err, len(res))
			}
			r := res[0]
			if r.Guix == nil {
				t.Fatalf("no guix result: %+v", r.File)
			}
			var got []string
			for _, it := range r.Guix.Items {
				got = append(got, string(it.Outcome))
			}
			if strings.Join(got, " ") != c.outcomes || r.Guix.Stream != c.stream {
				t.Fatalf("outcomes %q stream %q, want %q %q", got, r.Guix.Stream, c.outcomes, c.stream)
			}
			// The same verdicts as guix.VerifyExport reading the file on its own.
			fh, err := os.Open(filepath.Join(vec, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			vr, err := guix.VerifyExport(context.Background(), fh, loadACL(t, c.acl), nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, it := range vr.Items {
				want = append(want, string(it.Outcome))
				if it.StorePath != "" && it.StorePath != r.Guix.Items[i].StorePath {
					t.Errorf("item %d: store path %q, VerifyExport %q", i, r.Guix.Items[i].StorePath, it.StorePath)
				}
			}
			if strings.Join(want, " ") != c.outcomes || vr.Accept != r.Guix.Accept {
				t.Fatalf("VerifyExport: %q accept %v; scan: %q accept %v", want, vr.Accept, got, r.Guix.Accept)
			}
			d := Decide(res, nil)[0]
			if d.Approved != c.approved {
				t.Fatalf("decision %+v", d)
			}
			if c.file == "bundle.export" {
				// The P1 checkout holds 43 regular files and 2 symlinks; P2 is the tarball,
				// itself walked (quux-3.1.tar.xz!...).
				if f := findInner(r, "bundle.export!/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.1.tar.xz"); f == nil || f.Format != "xz+tar" {
					t.Fatalf("P2 not walked as a tarball: %+v", f)
				}
			}
		})
	}
}

// sameReport compares two judge reports on everything but the items' ItemInfo pointers and
// the error values (their texts are compared).
func sameReport(a, b *GuixResult) bool {
	if a.Stream != b.Stream || a.Accept != b.Accept || a.StreamReason != b.StreamReason || len(a.Items) != len(b.Items) {
		return false
	}
	for i := range a.Items {
		x, y := a.Items[i], b.Items[i]
		if x.Index != y.Index || x.StorePath != y.StorePath || x.Outcome != y.Outcome || x.Reason != y.Reason ||
			strings.Join(x.Missing, " ") != strings.Join(y.Missing, " ") {
			return false
		}
	}
	return true
}

// TestGuixPresentAsVerify is issue 20's bug at the scanner level: an export that `airlock guix
// verify --present` (guix.VerifyExport) accepts is accepted by the scanner given the same
// present set, and every verdict and reason is the same with any present set.
func TestGuixPresentAsVerify(t *testing.T) {
	vec := testenv.GuixVectors(t)
	const p1 = "/gnu/store/hfj39pdgk5syajdqf8w4ibp7766cfsv3-quux-checkout"
	const p2 = "/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.1.tar.xz"
	cases := []struct {
		file    string
		present []string
		accept  bool
	}{
		{"partial-closure.export", []string{p1, p2}, true},
		{"partial-closure.export", []string{p1}, false},
		{"partial-closure.export", nil, false},
		{"bundle.export", nil, true},
		{"truncated.export", []string{p1, p2}, false},
		{"trailing-garbage.export", []string{p1, p2}, false},
	}
	acl := loadACL(t, "two-acl")
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.file, len(c.present)), func(t *testing.T) {
			s := testScanner(t, Options{Guix: acl, GuixPresent: c.present})
			res, err := s.ScanAll(context.Background(), os.DirFS(vec), c.file)
			if err != nil || len(res) != 1 || res[0].Guix == nil {
				t.Fatal(err, len(res))
			}
			fh, err := os.Open(filepath.Join(vec, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			want, err := guix.VerifyExport(context.Background(), fh, acl, c.present)
			if err != nil {
				t.Fatal(err)
			}
			got := res[0].Guix
			if !sameReport(got, want) || want.Accept != c.accept {
				t.Fatalf("scanner %+v\nverify  %+v", got, want)
			}
			d := Decide(res, nil)[0]
			if d.Approved != c.accept {
				t.Fatalf("decision %+v", d)
			}
			// Every reason of the judge reaches the decision.
			all := strings.Join(d.Reasons, "\n")
			for _, why := range want.Reasons() {
				if !strings.Contains(all, why) {
					t.Errorf("reason %q missing from %q", why, all)
				}
			}
		})
	}
}

// TestGuixScanLimitUnread: a scanner limit inside an export stops the judging; the report
// says the stream was not read to the end rather than judging what it saw.
func TestGuixScanLimitUnread(t *testing.T) {
	vec := testenv.GuixVectors(t)
	lim := DefaultLimits()
	lim.MaxEntries = 3
	s := testScanner(t, Options{Guix: loadACL(t, "two-acl"), Limits: lim})
	res, err := s.ScanAll(context.Background(), os.DirFS(vec), "bundle.export")
	if err != nil || len(res) != 1 {
		t.Fatal(err, len(res))
	}
	g := res[0].Guix
	if g == nil || g.Stream != guix.StreamUnread || g.Accept || g.StreamReason == "" {
		t.Fatalf("guix report %+v", g)
	}
	if d := Decide(res, nil)[0]; d.Approved || !strings.Contains(strings.Join(d.Reasons, "\n"), "stream unread") {
		t.Fatalf("decision %+v", d)
	}
}

// TestExportScannedMemberwise: a Guix export is judged by its store files alone. An ELF file
// naming /etc/ld.so.preload (as glibc's libc.so does) is clean under a rule for "names it and
// is not ELF", even though the export stream as a whole is not ELF; the same string in a
// script is still found, inside the export and inside a NAR.
func TestExportScannedMemberwise(t *testing.T) {
	r, err := CompileString("preload", `rule Preload_Write { strings: $s = "/etc/ld.so.preload" condition: $s and uint32(0) != 0x464c457f }`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Destroy)
	s := New(r, Options{})
	libc := append([]byte("\x7fELF\x02\x01\x01\x00"), "...../etc/ld.so.preload....."...)
	glibc := dumpDir(t, map[string][]byte{"lib/libc.so.6": libc})
	path := guix.StoreDir + "/" + strings.Repeat("0", 32) + "-glibc-2.41"
	res := scanOne(t, s, "glibc.export", unsignedExport(map[string][]byte{path: glibc}, []string{path}))
	if res.Format != FormatExport || res.Worst() != Clean {
		t.Fatalf("export of an ELF naming ld.so.preload: format %q, worst verdict %s (%v)", res.Format, res.Worst(), res.Problems())
	}
	script := dumpDir(t, map[string][]byte{"bin/evil": []byte("#!/bin/sh\necho /x.so >> /etc/ld.so.preload\n")})
	for name, data := range map[string][]byte{
		"evil.export": unsignedExport(map[string][]byte{path: script}, []string{path}),
		"evil.nar":    script,
	} {
		res := scanOne(t, s, name, data)
		if res.Worst() != Match {
			t.Errorf("%s: the script's write of ld.so.preload was not found: %s", name, res.Worst())
		}
	}
}
