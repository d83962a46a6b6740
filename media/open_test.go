package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// sampleFiles makes a source tree with long names, non-ASCII names, nested directories, an empty
// file and files of awkward sizes; it returns path -> SHA-256.
func sampleFiles(t testing.TB, dir string, seed uint64) map[string][32]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	files := map[string]int{
		"README.TXT":                       100,
		"a long file name with spaces.tar": 70000,
		"Empty":                            0, // mixed case: mcopy must write a long-name entry
		"sub/deeper/ünïcødé-名前.bin":        4097,
		"sub/x.nar":                        512,
		"sub/deeper/third/cluster-edge":    8192,
	}
	sums := map[string][32]byte{}
	for name, n := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = sha256.Sum256(b)
	}
	return sums
}

// fatImage builds a FAT image of mib MiB with mkfs.vfat (bits 12/16/32) and copies the sample
// files in with mcopy; offset (sectors) > 0 puts it inside an sfdisk-made partition table.
func fatImage(t testing.TB, bits int, mib int, label string, table string) (string, map[string][32]byte) {
	t.Helper()
	testenv.Need(t, "mkfs.vfat", "mcopy", "sfdisk")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sums := sampleFiles(t, src, uint64(bits))
	img := filepath.Join(dir, "disk.img")
	run(t, "truncate", "-s", fmt.Sprintf("%dM", mib), img)
	offset := 0
	if table != "" {
		run(t, "sh", "-c", fmt.Sprintf("echo 'start=2048, size=%d, type=%s' | sfdisk -q --label %s %s", (mib-2)<<11, map[string]string{"dos": "c", "gpt": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"}[table], table, img))
		offset = 2048
	}
	args := []string{"-F", fmt.Sprint(bits), "-n", label}
	if offset > 0 {
		args = append(args, "--offset", fmt.Sprint(offset))
		// mkfs.vfat sizes the filesystem from the image: limit it to the partition.
		sectors := (mib - 2) << 11
		args = append(args, img, fmt.Sprint(sectors/2))
	} else {
		args = append(args, img)
	}
	run(t, "mkfs.vfat", args...)
	target := img
	if offset > 0 {
		target = fmt.Sprintf("%s@@%d", img, offset*512)
	}
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		run(t, "mcopy", "-s", "-i", target, filepath.Join(src, e.Name()), "::")
	}
	return img, sums
}

// readAll walks m and returns path -> SHA-256 of every regular file.
func readAll(t testing.TB, fsys fs.FS) map[string][32]byte {
	t.Helper()
	got := map[string][32]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		if info, _ := d.Info(); info.Size() != n {
			return fmt.Errorf("%s: size %d, read %d", p, info.Size(), n)
		}
		got[p] = [32]byte(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameFiles(t *testing.T, got, want map[string][32]byte) {
	t.Helper()
	var g, w []string
	for k := range got {
		g = append(g, k)
	}
	for k := range want {
		w = append(w, k)
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: hash differs", k)
		}
	}
}

func TestFATImages(t *testing.T) {
	for _, tc := range []struct {
		bits  int
		mib   int
		table string
	}{{12, 2, ""}, {16, 20, ""}, {32, 40, ""}, {32, 40, "dos"}, {16, 20, "gpt"}, {12, 3, "dos"}} {
		t.Run(fmt.Sprintf("fat%d-%s", tc.bits, tc.table), func(t *testing.T) {
			img, want := fatImage(t, tc.bits, tc.mib, "TESTVOL", tc.table)
			m, err := Open(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if len(m.Volumes) != 1 || m.Volumes[0].Kind != fmt.Sprintf("fat%d", tc.bits) || m.Volumes[0].Label != "TESTVOL" {
				t.Fatalf("volumes %+v", m.Volumes)
			}
			sameFiles(t, readAll(t, m), want)
			if err := fstest.TestFS(m, "README.TXT", "sub/deeper/third/cluster-edge"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUnsupportedAndBlank(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		kind string
		tool []string
		want error
		text string
	}{
		{"exFAT", []string{"mkfs.exfat"}, ErrUnsupported, "unsupported filesystem: exFAT"},
		{"NTFS", []string{"mkntfs", "-F", "-f", "-q"}, ErrUnsupported, "unsupported filesystem: NTFS"},
		{"ext4", []string{"mkfs.ext4", "-q", "-F"}, ErrUnsupported, "unsupported filesystem: ext4"},
		{"swap", []string{"mkswap"}, ErrUnsupported, "unsupported filesystem: swap"},
		{"blank", nil, ErrNoFilesystem, "no filesystem"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			img := filepath.Join(dir, tc.kind+".img")
			run(t, "truncate", "-s", "16M", img)
			if tc.tool != nil {
				testenv.Need(t, tc.tool[0])
				run(t, tc.tool[0], append(tc.tool[1:], img)...)
			}
			_, _, err := OpenFS(context.Background(), img)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), img) {
				t.Fatalf("got %v, want %v (%q)", err, tc.want, tc.text)
			}
		})
	}
	t.Run("LUKS-header", func(t *testing.T) {
		b := make([]byte, 1<<20)
		copy(b, "LUKS\xba\xbe\x00\x02")
		if _, err := ReadFS(context.Background(), bytes.NewReader(b), int64(len(b)), 512); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "LUKS") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("random", func(t *testing.T) {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i*7 + i>>8)
		}
		if _, err := ReadFS(context.Background(), bytes.NewReader(b), int64(len(b)), 512); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unknown") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestISOImage(t *testing.T) {
	testenv.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := sampleFiles(t, src, 9)
	img := filepath.Join(dir, "disc.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", "DISC", "-o", img, src)
	m, err := Open(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Volumes) != 1 || m.Volumes[0].Kind != "iso9660" || m.Volumes[0].Label != "DISC" {
		t.Fatalf("volumes %+v", m.Volumes)
	}
	sameFiles(t, readAll(t, m), want)
	if err := fstest.TestFS(m, "README.TXT", "sub/deeper/third/cluster-edge"); err != nil {
		t.Fatal(err)
	}
}

// TestISODeepRelocated reads a Rock Ridge image whose deep directories genisoimage relocated
// (CL/RE/PL entries, rr_moved): the files appear at their real depth and once only.
func TestISODeepRelocated(t *testing.T) {
	testenv.Need(t, "genisoimage")
	dir := t.TempDir()
	deep := filepath.Join(dir, "src", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	os.MkdirAll(deep, 0o755)
	os.WriteFile(filepath.Join(deep, "file.txt"), []byte("deep\n"), 0o644)
	img := filepath.Join(dir, "deep.iso")
	run(t, "genisoimage", "-quiet", "-R", "-o", img, filepath.Join(dir, "src"))
	m, err := Open(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := readAll(t, m)
	if len(got) != 1 || got["a/b/c/d/e/f/g/h/i/j/file.txt"] != sha256.Sum256([]byte("deep\n")) {
		t.Fatalf("files %v", got)
	}
}
