package fat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

type offsetWriter struct {
	f   *os.File
	off int64
}

func (w offsetWriter) WriteAt(b []byte, off int64) (int, error) { return w.f.WriteAt(b, w.off+off) }

func TestFormatPassesFsck(t *testing.T) {
	testenv.Need(t, "fsck.fat", "mdir", "mtype")
	for _, tc := range []struct {
		mib    int64
		hidden uint32
		files  int
	}{{40, 0, 0}, {70, 2048, 3}, {300, 2048, 30}} {
		img := filepath.Join(t.TempDir(), "vol.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		size := tc.mib << 20
		f.Truncate(size)
		// Garbage where the volume goes: Format must not rely on zeroed media.
		junk := bytes.Repeat([]byte{0xA5}, 1<<20)
		for off := int64(0); off < 4<<20; off += 1 << 20 {
			f.WriteAt(junk, off)
		}
		var files []File
		for i := 0; i < tc.files; i++ {
			files = append(files, File{Name: "certificate ünï " + strings.Repeat("x", i) + ".json", Data: bytes.Repeat([]byte{byte(i)}, 1000*i+1)})
		}
		err = Format(offsetWriter{f, 0}, size, FormatOptions{Label: "airlock", VolumeID: 0x1234abcd, HiddenSectors: tc.hidden, Time: time.Now()}, files)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("fsck.fat", "-n", "-v", img).CombinedOutput()
		_ = out
		if err != nil || bytes.Contains(out, []byte("differ")) {
			t.Fatalf("fsck.fat -n: %v\n%s", err, out)
		}
		out, err = exec.Command("mdir", "-i", img, "::").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("AIRLOCK")) {
			t.Fatalf("mdir: %v\n%s", err, out)
		}
		r, _ := os.Open(img)
		v, err := Open(context.Background(), r, size)
		if err != nil {
			t.Fatal(err)
		}
		if v.BPB.Type != FAT32 || v.BPB.Label != "AIRLOCK" || v.BPB.VolumeID != 0x1234abcd || v.BPB.HiddenSectors != tc.hidden {
			t.Fatalf("bpb %+v", v.BPB)
		}
		for _, want := range files {
			g, err := fs.ReadFile(v.FS, want.Name)
			if err != nil || sha256.Sum256(g) != sha256.Sum256(want.Data) {
				t.Fatalf("%s: %v", want.Name, err)
			}
			out, err := exec.Command("mtype", "-i", img, "::"+want.Name).Output()
			if err != nil || !bytes.Equal(out, want.Data) {
				t.Fatalf("mtype %s: %v", want.Name, err)
			}
		}
		r.Close()
		diskfsReads(t, img, files)
	}
	var _ io.WriterAt = offsetWriter{}
}

// diskfsReads has go-diskfs, an independent FAT reader, read every file back.
func diskfsReads(t *testing.T, img string, files []File) {
	t.Helper()
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	vol, err := d.GetFilesystem(0)
	if err != nil {
		t.Fatalf("go-diskfs: %v", err)
	}
	if got := strings.TrimSpace(vol.Label()); got != "AIRLOCK" {
		t.Errorf("go-diskfs label %q", got)
	}
	for _, want := range files {
		// go-diskfs v1.9.4 reads whole sectors past a file's end (1024 bytes for a 1001-byte
		// file, also on mkfs.vfat+mcopy images): compare the stated size and that prefix.
		st, err := fs.Stat(vol, want.Name)
		if err != nil || st.Size() != int64(len(want.Data)) {
			t.Fatalf("go-diskfs stat %s: %v", want.Name, err)
		}
		got, err := fs.ReadFile(vol, want.Name)
		if err == nil && int64(len(got)) > st.Size() {
			got = got[:st.Size()]
		}
		if err != nil || !bytes.Equal(got, want.Data) {
			t.Fatalf("go-diskfs %s: %v (%d bytes, want %d: %q...)", want.Name, err, len(got), len(want.Data), got[:min(len(got), 16)])
		}
	}
}

// TestFormatSubdirectory: files named DIR/NAME land in a directory of the root that fsck.fat
// finds clean and mtools and this package read back.
func TestFormatSubdirectory(t *testing.T) {
	testenv.Need(t, "fsck.fat", "mtype")
	img := filepath.Join(t.TempDir(), "vol.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(40 << 20)
	f.Truncate(size)
	files := []File{{Name: "README.txt", Data: []byte("read me\n")},
		{Name: "airlock-log/checkpoint", Data: []byte("airlock-log\n1\nhash\n")},
		{Name: "airlock-log/records", Data: bytes.Repeat([]byte("r"), 3000)},
		{Name: "airlock-log/empty", Data: nil}}
	for i := 0; i < 20; i++ { // a directory longer than one cluster
		files = append(files, File{Name: "many/a long file name number " + strings.Repeat("x", i), Data: []byte{byte(i)}})
	}
	err = Format(offsetWriter{f, 0}, size, FormatOptions{Label: "AIRLOCK-LOG", VolumeID: 7, Time: time.Now()}, files)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fsck.fat", "-n", "-v", img).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	r, _ := os.Open(img)
	defer r.Close()
	v, err := Open(context.Background(), r, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range files {
		g, err := fs.ReadFile(v.FS, want.Name)
		if err != nil || !bytes.Equal(g, want.Data) {
			t.Errorf("%s: %v", want.Name, err)
		}
		out, err := exec.Command("mtype", "-i", img, "::"+want.Name).Output()
		if err != nil || !bytes.Equal(out, want.Data) {
			t.Errorf("mtype %s: %v", want.Name, err)
		}
	}
	if err := Format(offsetWriter{}, size, FormatOptions{}, []File{{Name: "a/b/c"}}); err == nil {
		t.Error("two directory levels accepted")
	}
}
