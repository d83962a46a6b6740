package burner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// layoutFiles is the fixed input of the committed image of every layout
// (burner/testdata/layout-N.iso): a sealed-disc shape with a long name (continuation area), a
// UTF-8 name, an empty file and an empty directory.
func layoutFiles() []File {
	c := func(s string) File { return File{Size: int64(len(s)), Open: constOpener(s)} }
	files := []File{}
	for p, body := range map[string]string{
		"SHA256SUMS":                         "0000  bundle/a.txt\n",
		"SHA256SUMS.minisig":                 "untrusted comment: layout test\n",
		"AIRLOCK/report.json":                "{}\n",
		"bundle/a.txt":                       "layout test\n",
		"bundle/" + strings.Repeat("n", 200): "long name\n",
		"bundle/Ünïcödé — names/x.tar.gz":    "utf-8\n",
		"bundle/empty":                       "",
		"bundle/sector.bin":                  strings.Repeat("s", SectorSize),
	} {
		f := c(body)
		f.Path = p
		files = append(files, f)
	}
	return append(files, File{Path: "bundle/empty-dir", Dir: true})
}

// TestLayoutImages: the committed image of every released layout still verifies, records its
// version, and is still what the writer produces for that version (so the writer's bytes cannot
// change without a new layout version). AIRLOCK_UPDATE_LAYOUTS=1 writes missing images.
func TestLayoutImages(t *testing.T) {
	for _, v := range Layouts {
		name := filepath.Join("testdata", "layout-"+strconv.Itoa(v)+".iso")
		l, err := NewLayout(layoutFiles(), Options{Label: "AIRLOCK_LAYOUT", Epoch: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), Layout: v})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := l.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(name); os.IsNotExist(err) && os.Getenv("AIRLOCK_UPDATE_LAYOUTS") == "1" {
			if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("layout %d: %v (every layout in Layouts needs its committed image)", v, err)
		}
		if len(img) > 100<<10 {
			t.Errorf("%s: %d bytes, keep it under 100 KiB", name, len(img))
		}
		c, err := CheckImage(context.Background(), name, bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("layout %d: committed image does not verify: %v", v, err)
		}
		if c.Layout != v {
			t.Errorf("%s records layout %d", name, c.Layout)
		}
		if !bytes.Equal(buf.Bytes(), img) {
			i := 0
			for i < min(len(img), buf.Len()) && img[i] == buf.Bytes()[i] {
				i++
			}
			t.Errorf("layout %d: the writer no longer reproduces %s: first difference at byte %d (%s)", v, name, i, l.structureAt(int64(i)))
		}
	}
}
