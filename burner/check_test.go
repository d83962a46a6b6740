package burner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"aead.dev/minisign"

	"github.com/airlock-appliance/airlock/internal/iso9660"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

// sealedImage writes a small sealed tree (bundle/ files, SHA256SUMS, signature) as an airlock
// image and returns its path and the trusted key.
func sealedImage(t *testing.T, opts Options) (string, *sealing.PublicKey) {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := pub.MarshalText()
	st, _ := priv.MarshalText()
	pk, err := sealing.ParsePublicKey(pt)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := sealing.ParseSealKey(st, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for p, c := range map[string]string{
		"bundle/a.txt":           "sealed a\n",
		"bundle/sub/b.bin":       strings.Repeat("b", 5000),
		"bundle/sub/deep/c.nar":  strings.Repeat("c", 2048),
		"bundle/empty":           "",
		"AIRLOCK/report.json":    "{}\n",
		"bundle/names/Ünïcödé.x": "u",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sealing.SealDir(context.Background(), dir, sk, sealing.SealInfo{Session: "s1", LogIndex: sealing.NoLogIndex}); err != nil {
		t.Fatal(err)
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = testEpoch
	}
	if opts.Label == "" {
		opts.Label = "AIRLOCK_0001"
	}
	img, _ := buildImage(t, dir, opts)
	return img, pk
}

// verifyImage is what airlock verify does with an image: re-derive, then the seal checks.
func verifyImage(t *testing.T, img string, pk *sealing.PublicKey) error {
	t.Helper()
	c, f, err := CheckDisc(context.Background(), img)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = sealing.Verify(context.Background(), c.FS, sealing.VerifyOptions{Trusted: []*sealing.PublicKey{pk}})
	return err
}

func TestCheckImageValid(t *testing.T) {
	for _, v := range Layouts {
		img, pk := sealedImage(t, Options{Layout: v})
		if err := verifyImage(t, img, pk); err != nil {
			t.Errorf("layout %d: %v", v, err)
		}
	}
	// The awkward tree: long names, continuation areas, collisions, deep and empty directories.
	img, _ := buildImage(t, makeTree(t), Options{Label: "x", Epoch: testEpoch})
	c, f, err := CheckDisc(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if c.Layout != CurrentLayout || c.Label != "X" || !c.Epoch.Equal(testEpoch) {
		t.Errorf("checked %+v", c)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "h.iso")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jolietOver returns img with a Joliet tree (at sector 17, the terminator moved over the L path
// table, which no reader tested uses) whose one file is appended data the seal never saw.
func jolietOver(t *testing.T, img []byte, payload string, growPVD bool) []byte {
	t.Helper()
	n := uint32(len(img) / SectorSize)
	b := append([]byte(nil), img...)
	svd := make([]byte, SectorSize)
	copy(svd, b[16*SectorSize:17*SectorSize])
	svd[0] = 2
	copy(svd[88:], "%/E")
	both32(svd[80:], n+4)
	both32(svd[132:], 10)
	binary.LittleEndian.PutUint32(svd[140:], n+1)
	binary.BigEndian.PutUint32(svd[148:], n+2)
	binary.LittleEndian.PutUint32(svd[144:], 0)
	binary.BigEndian.PutUint32(svd[152:], 0)
	rec := func(id []byte, lba, size uint32, flags byte) []byte {
		l := 33 + len(id)
		l += l % 2
		r := make([]byte, l)
		r[0] = byte(l)
		both32(r[2:], lba)
		both32(r[10:], size)
		copy(r[18:], b[16*SectorSize+156+18:16*SectorSize+156+25])
		r[25] = flags
		both16(r[28:], 1)
		r[32] = byte(len(id))
		copy(r[33:], id)
		return r
	}
	copy(svd[156:], rec([]byte{0}, n, SectorSize, 2))
	copy(b[16*SectorSize+SectorSize:], svd)
	term := make([]byte, SectorSize)
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	copy(b[18*SectorSize:], term)
	dir := make([]byte, SectorSize)
	var name []byte
	for _, u := range utf16.Encode([]rune("evil.txt;1")) {
		name = binary.BigEndian.AppendUint16(name, u)
	}
	o := copy(dir, rec([]byte{0}, n, SectorSize, 2))
	o += copy(dir[o:], rec([]byte{1}, n, SectorSize, 2))
	copy(dir[o:], rec(name, n+3, uint32(len(payload)), 0))
	lpt, mpt := make([]byte, SectorSize), make([]byte, SectorSize)
	lpt[0], mpt[0] = 1, 1
	binary.LittleEndian.PutUint32(lpt[2:], n)
	binary.LittleEndian.PutUint16(lpt[6:], 1)
	binary.BigEndian.PutUint32(mpt[2:], n)
	binary.BigEndian.PutUint16(mpt[6:], 1)
	data := make([]byte, SectorSize)
	copy(data, payload)
	if growPVD {
		both32(b[16*SectorSize+80:], n+4)
	}
	return slices.Concat(b, dir, lpt, mpt, data)
}

// TestCheckImageHostile starts from an airlock-written sealed image, makes it hostile with the
// real tools (or by patching bytes), and checks that verification refuses each with the reason.
func TestCheckImageHostile(t *testing.T) {
	testenv.Need(t, "xorriso")
	img, pk := sealedImage(t, Options{})
	if err := verifyImage(t, img, pk); err != nil {
		t.Fatalf("untouched image: %v", err)
	}
	orig, _ := os.ReadFile(img)
	dir := t.TempDir()
	evil := filepath.Join(dir, "evil.txt")
	os.WriteFile(evil, []byte("X5O!P%@AP unsealed payload\n"), 0o644)

	expect := func(t *testing.T, p string, sentinel error, want ...string) {
		t.Helper()
		err := verifyImage(t, p, pk)
		t.Logf("verify: %v", err)
		if !errors.Is(err, sentinel) {
			t.Fatalf("verify: %v, want %v", err, sentinel)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("verify: %v\nwant it to say %q", err, w)
			}
		}
	}

	for _, grow := range []bool{false, true} {
		t.Run(fmt.Sprintf("joliet-over-unsealed-extents/volume-grown=%v", grow), func(t *testing.T) {
			h := writeTemp(t, jolietOver(t, orig, "X5O!P%@AP unsealed payload\n", grow))
			// The differential is real: Joliet readers show the unsealed file.
			testenv.Need(t, "isoinfo", "7z", "bsdtar")
			if out := run(t, "isoinfo", "-J", "-i", h, "-x", "/evil.txt;1"); !strings.Contains(out, "unsealed payload") {
				t.Errorf("isoinfo -J does not show the unsealed file: %q", out)
			}
			if out := run(t, "7z", "l", h); !strings.Contains(out, "evil.txt") {
				t.Errorf("7z does not list the unsealed file:\n%s", out)
			}
			// bsdtar prefers Rock Ridge, and shows the Joliet tree without it.
			if out := run(t, "bsdtar", "--options", "!rockridge", "-tf", h); !strings.Contains(out, "evil.txt") {
				t.Errorf("bsdtar without Rock Ridge does not list the unsealed file:\n%s", out)
			}
			if grow {
				expect(t, h, ErrNotWritten, "byte 32848", "volume space size", "Joliet descriptor at sector 17")
			} else {
				expect(t, h, ErrBadImage, "Joliet root directory at block", "past the end of the volume")
			}
		})
	}
	t.Run("el-torito", func(t *testing.T) {
		boot := filepath.Join(dir, "boot.img")
		os.WriteFile(boot, bytes.Repeat([]byte{0xEB}, 2048), 0o644)
		h := filepath.Join(t.TempDir(), "boot.iso")
		run(t, "xorriso", "-indev", img, "-outdev", h, "-map", boot, "/boot.img",
			"-boot_image", "any", "bin_path=/boot.img", "-boot_image", "any", "emul_type=no_emulation", "-commit")
		f, _ := os.Open(h)
		st, _ := f.Stat()
		im, err := iso9660.Open(context.Background(), h, f, st.Size(), nil)
		f.Close()
		if err != nil || !im.Boot {
			t.Fatalf("xorriso's image has no El Torito record (%v)", err)
		}
		expect(t, h, ErrNotWritten, "not what airlock's writer", "El Torito boot record at sector 17")
	})
	t.Run("appended-session", func(t *testing.T) {
		h := writeTemp(t, orig)
		run(t, "xorriso", "-dev", h, "-map", evil, "/bundle/evil.txt", "-commit")
		if st, _ := os.Stat(h); st.Size() <= int64(len(orig)) {
			t.Fatalf("xorriso did not append a session (%d bytes)", st.Size())
		}
		expect(t, h, ErrNotWritten, "not what airlock's writer")
	})
	t.Run("added-file", func(t *testing.T) {
		h := filepath.Join(t.TempDir(), "add.iso")
		run(t, "xorriso", "-indev", img, "-outdev", h, "-map", evil, "/bundle/evil.txt", "-commit")
		expect(t, h, ErrNotWritten, "primary volume descriptor")
	})
	t.Run("appended-bytes", func(t *testing.T) {
		tail := make([]byte, 3*SectorSize)
		tail[2*SectorSize+5] = 1
		h := writeTemp(t, append(append([]byte(nil), orig...), tail...))
		expect(t, h, ErrNotWritten, fmt.Sprintf("byte %d (after the end of the volume", len(orig)+2*SectorSize+5))
	})
	t.Run("zeros-after-the-volume", func(t *testing.T) {
		// A stdio: pseudo-drive's target file: the image, then zeros. That verifies.
		h := writeTemp(t, append(append([]byte(nil), orig...), make([]byte, 1<<20)...))
		if err := verifyImage(t, h, pk); err != nil {
			t.Fatalf("image followed by zeros: %v", err)
		}
	})
	// A record copied into the free tail of the bundle directory's sector, marked RE so that Rock
	// Ridge readers skip it, pointing at the data of a file (readers without Rock Ridge show it).
	t.Run("hidden-RE-record", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		l := layoutOf(t, img)
		bundle := findDir(t, l, "bundle")
		recs := l.dirExtent(bundle)
		end := bytes.LastIndexFunc(recs, func(r rune) bool { return r != 0 }) + 1
		end += end % 2
		var c *node
		for _, x := range bundle.children {
			if x.name == "a.txt" {
				c = x
			}
		}
		r := l.record([]byte("HIDDEN.TXT;1"), c.lba, uint32(c.size), 0, []byte{'R', 'E', 4, 1})
		copy(b[int(bundle.lba)*SectorSize+end:], r)
		h := writeTemp(t, b)
		testenv.Need(t, "isoinfo")
		if out := run(t, "isoinfo", "-l", "-i", h); !strings.Contains(out, "HIDDEN.TXT") {
			t.Errorf("isoinfo does not list the hidden record:\n%s", out)
		}
		// The one reader refuses it outright: RE may only hide a relocated directory.
		expect(t, h, ErrBadImage, "file record hidden by a Rock Ridge RE entry")
	})
	t.Run("hidden-record-in-padding", func(t *testing.T) {
		// The same without RE: a visible extra record. Re-derivation places it.
		b := append([]byte(nil), orig...)
		l := layoutOf(t, img)
		bundle := findDir(t, l, "bundle")
		recs := l.dirExtent(bundle)
		end := bytes.LastIndexFunc(recs, func(r rune) bool { return r != 0 }) + 1
		end += end % 2
		r := l.record([]byte("EXTRA.TXT;1"), 0, 0, 0, nil)
		copy(b[int(bundle.lba)*SectorSize+end:], r)
		expect(t, writeTemp(t, b), ErrNotWritten, "directory /bundle")
	})
	t.Run("multi-extent-aliasing", func(t *testing.T) {
		// b.bin (5000 bytes) split into two records whose parts both point at its first sector.
		b := append([]byte(nil), orig...)
		l := layoutOf(t, img)
		sub := findDir(t, l, "bundle/sub")
		off := int(sub.lba)*SectorSize + l.dotLen(sub, true) + l.dotLen(sub, false)
		for _, c := range sub.children {
			if c.name == "b.bin" {
				break
			}
			off += recLen(c)
		}
		rec := append([]byte(nil), b[off:off+int(b[off])]...)
		rec[25] |= 0x80
		both32(rec[10:], 4096)
		tail := append([]byte(nil), b[off+len(rec):int(sub.lba)*SectorSize+SectorSize-len(rec)]...)
		copy(b[off:], rec)
		second := append([]byte(nil), rec...)
		second[25] &^= 0x80
		copy(b[off+len(rec):], second)
		copy(b[off+2*len(rec):], tail)
		expect(t, writeTemp(t, b), ErrBadImage, "overlaps")
	})
	t.Run("unknown-layout", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		copy(b[16*SectorSize+appUseOff:], "AIRLOCK LAYOUT 99")
		expect(t, writeTemp(t, b), ErrNotWritten, "application use (layout version)")
	})
}

func layoutOf(t *testing.T, img string) *Layout {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := iso9660.Open(context.Background(), img, f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fileSet(im)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(files, Options{Label: im.Label, Epoch: im.Created})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func findDir(t *testing.T, l *Layout, p string) *node {
	for _, d := range l.dirs {
		if d.path == p {
			return d
		}
	}
	t.Fatalf("no directory %s", p)
	return nil
}
