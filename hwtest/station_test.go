//go:build qemu || bench

package hwtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// The station tests boot the image exactly as built (the station is the uinit) and drive it over
// the serial line view (appliance/doc.go, "Line view contract") and QMP.

const (
	readyTimeout = 180 * time.Second // boot + boot duties (module loading) under a loaded TCG
	jobTimeout   = 180 * time.Second
	stickSerial  = "AIRLOCK0001"
)

// station is a booted appliance with its burn target and audit log disks.
type station struct {
	*vm.VM
	target  string // file behind /dev/vda: the "burned" image lands at its start
	logDisk string
	ready   time.Duration
}

// bootStation boots the image with a zeroed 64 MiB target disk (vda) and a FAT audit log disk
// labelled AIRLOCK-LOG (vdb), and waits for the station's first READY.
func bootStation(t *testing.T) *station { return bootStationOverlay(t, nil) }

// bootStationOverlay is bootStation with an initramfs overlay (vm.Config.Overlay) replacing some
// of the image's files, such as its policy.
func bootStationOverlay(t *testing.T, overlay []vm.File) *station {
	t.Helper()
	testenv.Need(t, "mkfs.fat")
	dir := t.TempDir()
	s := &station{target: filepath.Join(dir, "target.img"), logDisk: filepath.Join(dir, "log.img")}
	mkfile(t, s.target, 64<<20)
	mkfile(t, s.logDisk, 32<<20)
	run(t, "mkfs.fat", "-n", "AIRLOCK-LOG", s.logDisk)
	s.VM = startVM(t, vm.Config{
		MemoryMiB: 2048,
		Append:    []string{"quiet"},
		Disks: []vm.Disk{
			{ID: "target", Path: s.target, Serial: "AIRLOCK-TARGET"},
			{ID: "auditlog", Path: s.logDisk, Serial: "AIRLOCK-LOG"},
		},
		Overlay: overlay,
	})
	if _, err := s.Expect(context.Background(), readyTimeout, `^airlock: state READY$`); err != nil {
		t.Fatal(err)
	}
	s.ready = s.Since()
	return s
}

// answers maps a prompt id to the line typed in reply.
type answers map[string]string

var (
	promptRE = regexp.MustCompile(`^airlock: prompt ([a-z-]+): `)
	passRE   = regexp.MustCompile(`^airlock: PASS`)
	failRE   = regexp.MustCompile(`^airlock: FAIL (.*)`)
)

// job answers prompts until the job ends and returns the end line and every line seen.
func (s *station) job(t *testing.T, ans answers) (end string, lines []string) {
	t.Helper()
	any := regexp.MustCompile(`^airlock: `)
	deadline := time.Now().Add(jobTimeout)
	for time.Now().Before(deadline) {
		m, err := s.ExpectAny(context.Background(), time.Until(deadline), any)
		if err != nil {
			t.Fatalf("waiting for the job's end: %v", err)
		}
		line := m[0]
		lines = append(lines, line)
		if p := promptRE.FindStringSubmatch(line); p != nil {
			a, ok := ans[p[1]]
			if !ok {
				t.Fatalf("unexpected prompt %q", line)
			}
			t.Logf("%.1fs answering %s: %q", s.Since().Seconds(), p[1], a)
			if err := s.SendLine(a); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if passRE.MatchString(line) || failRE.MatchString(line) {
			return line, lines
		}
	}
	t.Fatalf("no PASS or FAIL within %v", jobTimeout)
	return "", nil
}

// stickImage makes a FAT stick image holding the given files.
func stickImage(t *testing.T, size int64, files map[string][]byte) string {
	t.Helper()
	testenv.Need(t, "mkfs.fat", "mcopy")
	dir := t.TempDir()
	img := filepath.Join(dir, "stick.img")
	mkfile(t, img, size)
	run(t, "mkfs.fat", "-n", "LOWSIDE", img)
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "mcopy", "-i", img, p, "::"+name)
	}
	return img
}

func mkfile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demoStick is the clean low-side stick: a Guix export signed by the ACL's key and the tarball
// of the image's demo allowlist.
func demoStick(t *testing.T) string {
	return stickImage(t, 32<<20, map[string][]byte{
		"quux-3.1.export": readVector(t, "p2-only.export"),
		"quux-3.1.tar.xz": readVector(t, "quux-3.1.tar.xz"),
	})
}

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// TestQEMUBootToReady boots the image and prints the time to the station's first READY.
func TestQEMUBootToReady(t *testing.T) {
	s := bootStation(t)
	t.Logf("boot to READY: %.1f s under TCG", s.ready.Seconds())
	fmt.Printf("qemu: boot to READY: %.1f s\n", s.ready.Seconds())
}

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
	at := bytes.LastIndex(b, tar) // the export carries the same bytes in its NAR; the file comes last
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
		t.Logf("check of %s:\n%s", filepath.Base(c.disc), strings.Join(lines, "\n"))
		if c.want == "FAIL" && !strings.Contains(end, "quux-3.1.tar.xz") {
			t.Errorf("the tampered disc failed for another reason than the tampered file: %q", end)
		}
		if _, err := s.Expect(context.Background(), 60*time.Second, `^airlock: state READY$`); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}

// TestQEMUImportEICAR: a stick with the EICAR test file is rejected on the console and nothing
// is written to the target disk.
func TestQEMUImportEICAR(t *testing.T) {
	s := bootStation(t)
	stick := stickImage(t, 32<<20, map[string][]byte{"eicar.com": []byte(eicar),
		"quux-3.1.tar.xz": readVector(t, "quux-3.1.tar.xz")})
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no"})
	if !failRE.MatchString(end) {
		t.Fatalf("EICAR import ended with %q", end)
	}
	rejected := false
	for _, l := range lines {
		if strings.HasPrefix(l, "airlock: rejected ") && strings.Contains(l, "eicar.com") {
			rejected = true
		}
	}
	if !rejected {
		t.Errorf("no `airlock: rejected ...eicar.com: ...` line; lines:\n%s", strings.Join(lines, "\n"))
	}
	s.Close()
	b, err := os.ReadFile(s.target)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("the target disk was written (first non-zero byte at %d)", i)
	}
}

// TestQEMUSanitize wipes and reformats a stick: the image then passes fsck.fat -n on the host
// and carries a certificate that minisign verifies with the appliance's seal key.
func TestQEMUSanitize(t *testing.T) {
	testenv.Need(t, "fsck.fat", "mcopy", "mdir", "minisign")
	s := bootStation(t)
	stick := stickImage(t, 128<<20, map[string][]byte{"old.txt": []byte("secret low-side leftovers\n")})
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: stickSerial}); err != nil {
		t.Fatal(err)
	}
	end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "sanitize",
		"confirm-wipe": stickSerial[len(stickSerial)-4:]})
	if !passRE.MatchString(end) {
		t.Fatalf("sanitize ended with %q; lines:\n%s", end, strings.Join(lines, "\n"))
	}
	s.Close()
	part := firstPartition(t, stick)
	run(t, "fsck.fat", "-n", part)
	listing := run(t, "mdir", "-b", "-/", "-i", part, "::")
	var sig string
	for _, f := range strings.Fields(listing) {
		if strings.HasSuffix(strings.ToLower(f), ".minisig") {
			sig = f
		}
	}
	if sig == "" {
		t.Fatalf("no certificate signature on the sanitized stick:\n%s", listing)
	}
	dir := t.TempDir()
	cert := strings.TrimSuffix(sig, ".minisig")
	for _, f := range []string{cert, sig} {
		run(t, "mcopy", "-i", part, f, filepath.Join(dir, filepath.Base(f)))
	}
	pub := filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "keys", "seal.pub")
	run(t, "minisign", "-Vm", filepath.Join(dir, filepath.Base(cert)), "-p", pub)
}

// firstPartition copies partition 1 of an MBR disk image into its own file.
func firstPartition(t *testing.T, disk string) string {
	t.Helper()
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xaa {
		t.Fatalf("%s: no MBR", disk)
	}
	start := int64(binary.LittleEndian.Uint32(b[446+8:])) * 512
	n := int64(binary.LittleEndian.Uint32(b[446+12:])) * 512
	if start == 0 || n == 0 || start+n > int64(len(b)) {
		t.Fatalf("%s: partition 1 at %d+%d outside the disk", disk, start, n)
	}
	p := filepath.Join(t.TempDir(), "part1.img")
	if err := os.WriteFile(p, b[start:start+n], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bigStick is a stick whose import takes a while in the guest (random data, so neither the spool
// nor the scan can shortcut it).
func bigStick(t *testing.T, size int) string {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i*7919 ^ i>>9) // cheap, non-repeating within a block
	}
	return stickImage(t, int64(size)+16<<20, map[string][]byte{"big.bin": buf})
}

// startImport answers the operator and mode prompts of a freshly inserted stick until the station
// starts reading it, and returns when the import was chosen (where an import's timing starts).
func (s *station) startImport(ctx context.Context, t testing.TB, timeout time.Duration, operator string) time.Time {
	t.Helper()
	var chosen time.Time
	for {
		m, err := s.Expect(ctx, timeout, `^airlock: (prompt ([a-z-]+): |state READING$)`)
		if err != nil {
			t.Fatal(err)
		}
		switch m[2] {
		case "operator":
			s.SendLine(operator)
		case "mode":
			chosen = time.Now()
			s.SendLine("import")
		case "":
			return chosen
		}
	}
}

// TestQEMUPullStickMidImport pulls the stick (device_del) while the station reads it: the job
// fails with a reason, nothing is burned, and the station is READY again.
func TestQEMUPullStickMidImport(t *testing.T) {
	s := bootStation(t)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: bigStick(t, 96<<20), Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.startImport(ctx, t, jobTimeout, "qemu-test")
	if err := s.Unplug(ctx, "stick1"); err != nil {
		t.Fatal(err)
	}
	m, err := s.Expect(ctx, jobTimeout, `^airlock: (FAIL|PASS)(.*)`)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "FAIL" {
		t.Fatalf("a stick pulled mid-import ended with %q", m[0])
	}
	if _, err := s.Expect(ctx, 60*time.Second, `^airlock: state READY$`); err != nil {
		t.Fatalf("station not READY after the aborted import: %v", err)
	}
	t.Logf("aborted: %s", m[0])
	// The audit record of the aborted job is on the log disk.
	s.Close()
	dir := filepath.Join(t.TempDir(), "log")
	run(t, "mcopy", "-s", "-i", s.logDisk, "::", dir)
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("device removed")) {
				found = true
			}
		}
		return nil
	})
	if !found {
		t.Errorf("no audit record saying \"device removed\" on the log disk (%s)", run(t, "mdir", "-/", "-i", s.logDisk, "::"))
	}
}

// TestQEMUUSBKeyboard plugs a USB keyboard: the station does not authorize it and says so.
func TestQEMUUSBKeyboard(t *testing.T) {
	s := bootStation(t)
	if err := s.PlugKeyboard("kbd1"); err != nil {
		t.Fatal(err)
	}
	// QEMU's usb-kbd is 0627:0001, interface class 03 (HID).
	m, err := s.Expect(context.Background(), hotplugTimeout, `^airlock: usb unauthorized ([0-9a-f]{4}:[0-9a-f]{4}) (.*)`)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "0627:0001" || !strings.Contains(m[2], "03") {
		t.Errorf("keyboard reported as %q", m[0])
	}
}

// TestQEMUSecondStickWhileBusy plugs a second stick while an import reads the first: the station
// queues or refuses it, and says so.
func TestQEMUSecondStickWhileBusy(t *testing.T) {
	s := bootStation(t)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: bigStick(t, 96<<20), Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.startImport(ctx, t, jobTimeout, "qemu-test")
	if err := s.PlugStick(vm.Stick{ID: "stick2", Path: demoStick(t), Serial: "AIRLOCK0002", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Expect(ctx, hotplugTimeout, `^airlock: device (queued|refused) (/dev/sd[a-z]+)`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second stick: %s", m[0])
}

// TestQEMULEDs: the image's policy has no [leds], so the station drives the default mapping on
// the PS/2 keyboard's lock LEDs (input*::numlock, ...) with the kernel's timer trigger for the
// blinking looks: ready at READY, the fast blink of fail after a rejection, and no LED error.
func TestQEMULEDs(t *testing.T) {
	s := bootStation(t)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stickImage(t, 32<<20, map[string][]byte{"eicar.com": []byte(eicar)}),
		Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	end, _ := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no"})
	if !failRE.MatchString(end) {
		t.Fatalf("EICAR stick ended with %q", end)
	}
	if _, err := s.Expect(context.Background(), 60*time.Second, `^airlock: prompt sanitize-after-import: `); err != nil {
		t.Fatal(err)
	}
	if err := s.SendLine("no"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expect(context.Background(), 60*time.Second, `^airlock: state READY$`); err != nil {
		t.Fatal(err)
	}
	tr := s.Transcript()
	for _, want := range []string{"airlock: led ready on", "airlock: led busy blink", "airlock: led attention on", "airlock: led fail fast-blink"} {
		if !strings.Contains(tr, want) {
			t.Errorf("no %q on the console", want)
		}
	}
	for _, bad := range []string{"airlock: info LEDs:", "no LED matches", "(LEDs off)"} {
		if strings.Contains(tr, bad) {
			t.Errorf("LED error on the console: %q", bad)
		}
	}
}

// TestQEMUNoLogMedium boots without the audit log disk: the station refuses to start, naming the
// policy key that would allow an ephemeral log; with audit.ephemeral_log = true (the image's
// policy with one line added, as an initramfs overlay) it starts and says the log is ephemeral.
func TestQEMUNoLogMedium(t *testing.T) {
	testenv.Need(t, "mkfs.fat")
	target := filepath.Join(t.TempDir(), "target.img")
	mkfile(t, target, 64<<20)
	m := startVM(t, vm.Config{MemoryMiB: 2048, Append: []string{"quiet"},
		Disks: []vm.Disk{{ID: "target", Path: target, Serial: "AIRLOCK-TARGET"}}})
	line, err := m.Expect(context.Background(), readyTimeout, `(refusing to start|^airlock: state READY$)`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line[0], "no audit log medium") || !strings.Contains(line[0], "audit.ephemeral_log = true") {
		t.Fatalf("without the log medium: %q", line[0])
	}
	m.Close()

	pol, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "policy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	eph := strings.Replace(string(pol), "[audit]\n", "[audit]\nephemeral_log = true\n", 1)
	if eph == string(pol) {
		t.Fatal("no [audit] table in the image's policy")
	}
	m = startVM(t, vm.Config{MemoryMiB: 2048, Append: []string{"quiet"},
		Disks:   []vm.Disk{{ID: "target", Path: target, Serial: "AIRLOCK-TARGET"}},
		Overlay: []vm.File{{Path: "etc/airlock/policy.toml", Mode: 0o644, Data: eph}}})
	if _, err := m.Expect(context.Background(), readyTimeout, `^airlock: state READY$`); err != nil {
		t.Fatal(err)
	}
	if tr := m.Transcript(); !strings.Contains(tr, "EPHEMERAL") {
		t.Errorf("an ephemeral log not announced:\n%s", tr)
	}
}
