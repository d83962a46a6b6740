package burner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// oddNames are accepted names that some reader might plausibly change: every reader must show
// them byte for byte, as distinct files. Case-only and NFC/NFD pairs are kept deliberately (see
// CheckName).
var oddNames = []string{
	"semi", "semi;", "a;b", "x;", "ends;1x", "a.txt", "..x", ".hidden", "-dash",
	"trail ", " lead", "sp ace", "colon:x", "star*q?", "lt<gt>pipe|quote\"", "percent%41",
	"Case", "case", "CASE", "nfc-\u00e9", "nfd-e\u0301", "emoji😀", "bom\ufeffx", "zw\u200bx", "rtl\u202ex",
	"A.TXT", "A_TXT", "a_txt", "SEMI", "A",
	// A long name whose ISO 9660 name would be a sibling's exact name: 7-Zip, ignoring the
	// continuation area that holds the long name, lists the ISO name, so the namer avoids it.
	// (Named first, in byte order, it would otherwise take "AAA...A.TXT", the sibling's name.)
	strings.Repeat("A", 27) + "." + strings.Repeat("A", 150) + ".TXT", strings.Repeat("A", 27) + ".TXT",
}

// badNames are refused, with ErrBadName naming the path, because a reader would change them.
var badNames = []string{
	"semi;1", "a.txt.", "dots..", "...", "A.TXT;1", "x.;1", "v;0002",
	"back\\slash", "tab\tx", "nl\nx", "del\x7f", "c1\u0085x", "nul\x00",
}

func TestNamesRefused(t *testing.T) {
	for _, n := range badNames {
		p := "bundle/" + n
		_, err := NewLayout([]File{{Path: p, Size: 1, Open: constOpener("x")}}, Options{})
		if !errors.Is(err, ErrBadName) && !(strings.Contains(n, "\x00") && errors.Is(err, ErrBadPath)) {
			t.Errorf("%q: %v, want ErrBadName", n, err)
			continue
		}
		if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("%q: error %v does not name the path or match ErrBadPath", n, err)
		}
		if CheckName(p) == nil {
			t.Errorf("CheckName(%q) accepted", p)
		}
	}
	for _, n := range oddNames {
		if err := CheckName("bundle/" + n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
}

// TestNamesReadBack writes the odd names and reads them back with every reader (ours, xorriso,
// bsdtar, 7-Zip, isoinfo -R, kdomanski, go-diskfs, and the kernel's isofs when it can mount;
// TestQEMUDriveStatus reads the same names with the kernel's isofs in QEMU): each must show
// every name exactly, and the image must re-derive.
func TestNamesReadBack(t *testing.T) {
	src := t.TempDir()
	want := listing{"d": "dir"}
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	for i, n := range oddNames {
		body := fmt.Sprintf("file %d %q\n", i, n)
		if err := os.WriteFile(filepath.Join(src, "d", n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		h, _ := hashReader(strings.NewReader(body))
		want["d/"+n] = h
	}
	img, l := buildImage(t, src, Options{Epoch: testEpoch})
	c, f, err := CheckDisc(t.Context(), img)
	if err != nil {
		t.Fatalf("the image does not re-derive: %v", err)
	}
	defer f.Close()
	if got, err := listFS(c.FS); err != nil || got.diff(want) != "" {
		t.Fatalf("ours: %v\n%s", err, got.diff(want))
	}
	all := append([]reader{}, readers...)
	all = append(all, reader{"kernel", nil, readKernel, nil})
	for _, r := range all {
		t.Run(r.name, func(t *testing.T) {
			testenv.Need(t, r.tools...)
			got, err := r.list(t, img)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if r.name == "kdomanski" || r.name == "go-diskfs" {
				// Libraries, not high-side tools: only no merging is required of them.
				if len(got) != len(want) {
					t.Errorf("%s shows %d entries, want %d", r.name, len(got), len(want))
				}
				return
			}
			w := want
			if r.name == "7z" {
				w = sevenZipView(t, l, want)
			}
			if d := got.diff(w); d != "" {
				t.Errorf("%s changes names:\n%s", r.name, d)
			}
		})
	}
}

// readKernel mounts the image with the kernel's isofs (needs root and the isofs module).
func readKernel(t *testing.T, img string) (listing, error) {
	fsys, err := os.ReadFile("/proc/filesystems")
	if os.Geteuid() != 0 || err != nil || !strings.Contains(string(fsys), "iso9660") {
		if out, err := exec.Command("modprobe", "isofs").CombinedOutput(); err != nil || os.Geteuid() != 0 {
			// The host's kernel is not the project's to install (this one may have no isofs
			// module at all); TestQEMUDriveStatus reads the same names with the image's
			// kernel's isofs in every make test.
			t.Skipf("kernel isofs not available on this host (root %v, modprobe: %s); the QEMU suite checks the kernel", os.Geteuid() == 0, strings.TrimSpace(string(out)))
		}
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,ro", img, mnt).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount: %v\n%s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	return listDir(mnt)
}

// sevenZipView is want as 7-Zip shows it: a name too long to stay in its directory record (it
// lives in a continuation area, which 7-Zip ignores) appears under its ISO 9660 name, which the
// namer keeps distinct from every identifier and every sibling's name. Nothing else changes.
func sevenZipView(t *testing.T, l *Layout, want listing) listing {
	t.Helper()
	out := listing{}
	for k, v := range want {
		out[k] = v
	}
	for _, d := range l.dirs {
		for _, c := range d.children {
			if bytes.Contains(c.susp, []byte("NM")) {
				continue
			}
			p := strings.TrimPrefix(d.path+"/"+c.name, "/")
			shown := strings.TrimSuffix(strings.TrimSuffix(c.id, ";1"), ".")
			if _, dup := out[path.Join(path.Dir(p), shown)]; dup {
				t.Fatalf("%s: ISO name %s is a sibling's name", p, shown)
			}
			out[path.Join(path.Dir(p), shown)] = out[p]
			delete(out, p)
		}
	}
	return out
}
