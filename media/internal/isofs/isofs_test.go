package isofs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

func build(t *testing.T, args ...string) []byte {
	t.Helper()
	img := filepath.Join(t.TempDir(), "x.iso")
	args = append(append([]string{"-outdev", img}, args...), "-commit")
	if out, err := exec.Command("xorriso", args...).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefusesOtherViews: a stick image is refused when a stock extractor would unpack bytes
// airlock does not scan as they are stored: zisofs-compressed files (Linux and xorriso
// decompress them) and an El Torito boot image (7-Zip extracts it); a plain Rock Ridge image
// with a Joliet tree over the same files is read.
func TestRefusesOtherViews(t *testing.T) {
	testenv.Need(t, "xorriso")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big.txt"), bytes.Repeat([]byte("compress me "), 4000), 0o644)
	os.WriteFile(filepath.Join(src, "boot.img"), bytes.Repeat([]byte{0xEB}, 2048), 0o644)
	ctx := context.Background()
	open := func(b []byte) error {
		_, err := Open(ctx, bytes.NewReader(b), int64(len(b)))
		return err
	}
	plain := build(t, "-rockridge", "on", "-joliet", "on", "-map", src, "/")
	if err := open(plain); err != nil {
		t.Fatalf("plain Rock Ridge + Joliet image: %v", err)
	}
	zf := build(t, "-rockridge", "on", "-map", src, "/", "-set_filter_r", "--zisofs", "/big.txt", "--")
	if err := open(zf); !errors.Is(err, mediaerr.ErrUnsupported) || !strings.Contains(err.Error(), "zisofs") {
		t.Errorf("zisofs image: %v", err)
	}
	boot := build(t, "-rockridge", "on", "-map", src, "/", "-boot_image", "any", "bin_path=/boot.img",
		"-boot_image", "any", "emul_type=no_emulation")
	if err := open(boot); !errors.Is(err, mediaerr.ErrUnsupported) || !strings.Contains(err.Error(), "El Torito") {
		t.Errorf("El Torito image: %v", err)
	}
	bad := append([]byte(nil), plain...)
	bad[16*2048+1] = 'X'
	if err := open(bad); !errors.Is(err, mediaerr.ErrCorrupt) {
		t.Errorf("damaged image: %v", err)
	}
}
