//go:build qemu && qemupending

package hwtest

// Station tests written against the line-view contract whose station parts do not work yet in
// the image, so `make test` leaves them out (build tag qemupending). Run them with
//
//	go test -tags qemu,qemupending -run 'TestQEMUImportCleanStick|TestQEMUCheckDisc' -p 1 -count 1 -v ./hwtest/
//
// and move them into station_test.go once they pass: see the issue notes for what fails.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestQEMUImportCleanStick: a clean stick is imported, sealed and "burned" onto the target disk,
// and the image there verifies on the host with airlock verify and with minisign + sha256sum -c.
func TestQEMUImportCleanStick(t *testing.T) {
	importClean(t)
}

// importClean runs a clean import and returns the target disk holding the burned image.
func importClean(t *testing.T) string {
	testenv.Need(t, "minisign", "sha256sum", "xorriso")
	s := bootStation(t)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: demoStick(t), Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no",
		"insert-disc": ""})
	if !passRE.MatchString(end) {
		t.Fatalf("import ended with %q; lines:\n%s", end, strings.Join(lines, "\n"))
	}
	t.Logf("transcript:\n%s", s.Transcript())
	s.Close()
	pub := filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "keys", "seal.pub")
	out, err := exec.Command(testenv.Airlock(t), "verify", "--pub", pub, s.target).CombinedOutput()
	if err != nil {
		t.Fatalf("airlock verify of the burned target: %v\n%s", err, out)
	}
	x := filepath.Join(t.TempDir(), "disc")
	run(t, "xorriso", "-osirrox", "on", "-indev", s.target, "-extract", "/", x)
	for _, c := range [][]string{{"minisign", "-Vm", "SHA256SUMS", "-p", pub}, {"sha256sum", "-c", "SHA256SUMS"}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = x
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v on the burned disc: %v\n%s", c, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(x, "bundle", "quux-3.1.tar.xz")); err != nil {
		t.Errorf("the disc lacks the approved tarball: %v", err)
	}
	return s.target
}

// TestQEMUCheckDisc puts the image of a clean import into a USB optical drive (usb-bot +
// scsi-cd, blockdev-change-medium): the station checks it and says PASS; the same image with one
// byte of the tarball flipped says FAIL.
func TestQEMUCheckDisc(t *testing.T) {
	good := importClean(t)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tar := readVector(t, "quux-3.1.tar.xz")
	at := bytes.Index(b, tar)
	if at < 0 {
		t.Fatal("the tarball's bytes are not in the burned image")
	}
	bad := filepath.Join(t.TempDir(), "tampered.iso")
	b[at+len(tar)/2] ^= 0x01
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		disc, want string
	}{{good, "PASS"}, {bad, "FAIL"}} {
		s := bootStation(t)
		if err := s.PlugOpticalDrive("cd1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the drive settles empty first, as a real one does
		if err := s.ChangeDisc("cd1", c.disc); err != nil {
			t.Fatal(err)
		}
		end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "check"})
		if !strings.HasPrefix(end, "airlock: "+c.want) {
			t.Errorf("check of %s ended with %q, want %s; lines:\n%s", filepath.Base(c.disc), end, c.want,
				strings.Join(lines, "\n"))
		}
		if _, err := s.Expect(context.Background(), 60*time.Second, `^airlock: state READY$`); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}
