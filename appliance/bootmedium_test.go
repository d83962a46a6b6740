package appliance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media"
)

// TestIsBootMedium: the device (here an image file) with the boot medium's volume UUID is
// recognized; another UUID, an unreadable path or no UUID at all is not; and the device guard
// refuses it under the boot-medium rule before any other.
func TestIsBootMedium(t *testing.T) {
	testenv.Need(t, "xorriso")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	img := filepath.Join(t.TempDir(), "m.iso")
	if b, err := exec.Command("xorriso", "-as", "mkisofs", "--modification-date=2026120317114600", "-o", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	const uuid = "2026-12-03-17-11-46-00"
	if !IsBootMedium(img, uuid) {
		t.Errorf("%s not recognized", img)
	}
	for _, c := range []struct{ dev, uuid string }{{img, "2026-12-03-17-11-47-00"}, {img, ""}, {filepath.Join(dir, "none"), uuid}, {filepath.Join(dir, "f"), uuid}} {
		if IsBootMedium(c.dev, c.uuid) {
			t.Errorf("IsBootMedium(%s, %q) = true", c.dev, c.uuid)
		}
	}
	d := &MediaDevices{BootMedium: func(dev string) bool { return IsBootMedium(dev, uuid) },
		ids: map[string]*media.Identity{img: {Name: "sda", Node: img, Bus: "usb", Removable: true}}}
	if err := d.Guard(Identity{Dev: img}); err == nil || !strings.Contains(err.Error(), "rule boot-medium") {
		t.Errorf("guard: %v", err)
	}
}
