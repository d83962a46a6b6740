package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestISOWalk: an ISO 9660 image on a stick is walked (Rock Ridge and Joliet trees, zisofs
// files both as recorded and decompressed) instead of refused; a UDF bridge image and an El
// Torito boot image, which 7z shows as more files than airlock reads, are refused.
func TestISOWalk(t *testing.T) {
	testenv.Need(t, "xorriso", "7z")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `mkdir -p tree/sub evil && printf 'hello\n' > tree/sub/a.txt && cp eicar.txt evil/ &&
		xorriso -as mkisofs -quiet -R -J -o clean.iso tree 2>/dev/null &&
		xorriso -as mkisofs -quiet -R -J -o evil.iso evil 2>/dev/null`)

	clean := scanFile(t, s, filepath.Join(dir, "clean.iso"))
	if clean.Worst() != Clean || clean.Format != FormatISO {
		t.Fatalf("clean image: %s format %q: %v", clean.Worst(), clean.Format, clean.Problems())
	}
	want := sha256.Sum256([]byte("hello\n"))
	found := false
	for _, f := range clean.Inner {
		if strings.HasSuffix(f.Path, "!sub/a.txt") && f.SHA256 == hex.EncodeToString(want[:]) {
			found = true
		}
	}
	if !found {
		t.Errorf("clean image: no inner sub/a.txt with its bytes: %+v", clean.Inner)
	}

	evil := checkHostile(t, s, filepath.Join(dir, "evil.iso"), Match, false)
	if !hasInner(evil, "!eicar.txt", Match) {
		t.Errorf("image with EICAR: the match is not on its file: %+v", evil.Inner)
	}
	if strings.Contains(evil.Reason, "cannot open") {
		t.Errorf("image refused as opaque: %q", evil.Reason)
	}
}

// TestISOZisofs: bsdtar and the kernel decompress a zisofs file, 7z writes it as recorded;
// airlock scans both.
func TestISOZisofs(t *testing.T) {
	testenv.Need(t, "bsdtar")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `mkdir ztree && { yes 'alpha bravo charlie delta' | head -5000; cat eicar.txt; } > ztree/big.txt &&
		(cd ztree && bsdtar --format=iso9660 --options zisofs -cf ../z.iso .)`)
	r := checkHostile(t, s, filepath.Join(dir, "z.iso"), Match, true)
	if !hasInner(r, "!big.txt (zisofs-decompressed)", Match) {
		t.Errorf("zisofs file: no decompressed inner file with the match: %+v", r.Inner)
	}
	if !hasInner(r, "!big.txt", Clean) {
		t.Errorf("zisofs file: the recorded (compressed) bytes are not an inner file: %+v", r.Inner)
	}
}

// TestISORefused: a UDF bridge image (7z reads its UDF tree) and an El Torito image (7z writes
// the boot image as a file) are unscannable, their files still scanned.
func TestISORefused(t *testing.T) {
	testenv.Need(t, "xorriso", "genisoimage")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `mkdir -p tree && printf 'hello\n' > tree/a.txt && head -c 4096 /dev/zero > tree/boot.img &&
		genisoimage -quiet -udf -R -o udf.iso tree 2>/dev/null &&
		xorriso -as mkisofs -quiet -R -b boot.img -no-emul-boot -o boot.iso tree 2>/dev/null`)
	for name, reason := range map[string]string{"udf.iso": "UDF image", "boot.iso": "El Torito"} {
		r := scanFile(t, s, filepath.Join(dir, name))
		if r.Worst() != Unscannable || !strings.Contains(strings.Join(r.Problems(), "; "), reason) {
			t.Errorf("%s: %s %v, want unscannable naming %q", name, r.Worst(), r.Problems(), reason)
		}
	}
}

func scanFile(t *testing.T, s *Scanner, p string) Result {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return scanOne(t, s, filepath.Base(p), b)
}

func hasInner(r Result, suffix string, v Verdict) bool {
	for _, f := range r.Inner {
		if strings.HasSuffix(f.Path, suffix) && f.Verdict == v {
			return true
		}
	}
	return false
}
