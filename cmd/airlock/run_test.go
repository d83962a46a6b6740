//go:build hwtest

package main

// Hardware-in-the-loop tests of the station: `airlock run` in host mode, driven through a pty
// exactly as an operator (or an expect script) would, with loop-device sticks made by mkfs.vfat
// + mcopy, a fake LED tree, and a stdio: image burner. Every part is the real one.

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/airlock-appliance/airlock/appliance/leds"
	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// EICAR test string, assembled so this file itself does not match antivirus rules.
var hwEICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

const hwEICARRule = `rule EICAR_test_file {
  strings: $hwEICAR = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition: $hwEICAR
}
`

// hwStation is one host-mode station under test.
type hwStation struct {
	t      *testing.T
	root   string // SYSROOT: fake LEDs, sticks, discs, certificates
	keys   string
	logDir string
	discs  string
	cmd    *exec.Cmd
	pty    *os.File

	mu    sync.Mutex
	lines []string
	seen  int // lines consumed by expect
	done  chan struct{}

	screenMu sync.Mutex
	screen   strings.Builder // everything drawn on the full-screen view (a second pty)
}

var hwLEDs = map[leds.Signal]string{leds.Ready: "input9::numlock", leds.Busy: "input9::capslock",
	leds.Attention: "input9::scrolllock", leds.Pass: "airlock::pass", leds.Fail: "airlock::fail"}

// newHWStation makes keys, a policy and the directories, and starts `airlock run`.
func newHWStation(t *testing.T, modes string, allowlisted ...string) *hwStation {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "losetup", "mkfs.vfat", "mcopy", "minisign", "sha256sum")
	root := t.TempDir()
	s := &hwStation{t: t, root: root, keys: filepath.Join(root, "keys"), logDir: filepath.Join(root, "log"),
		discs: filepath.Join(root, "discs"), done: make(chan struct{})}
	if _, err := sealing.GenerateKeys(s.keys, sealing.KeygenOptions{Role: sealing.RoleAppliance, Guix: hwGuixKeyGen}); err != nil {
		t.Fatal(err)
	}
	if _, err := sealing.GenerateKeys(s.keys, sealing.KeygenOptions{Role: sealing.RoleApprover}); err != nil {
		t.Fatal(err)
	}
	vec := testenv.GuixVectors(t)
	hwCopy(t, filepath.Join(vec, "one-acl"), filepath.Join(root, "acl"))
	os.WriteFile(filepath.Join(root, "hwEICAR.yar"), []byte(hwEICARRule), 0o644)
	allow := ""
	if len(allowlisted) > 0 {
		out := filepath.Join(root, "allowlist")
		args := append([]string{"allow", "--key", filepath.Join(s.keys, "approver.key"), "--out", out}, allowlisted...)
		if b, err := exec.Command(testenv.Airlock(t), args...).CombinedOutput(); err != nil {
			t.Fatalf("airlock allow: %v\n%s", err, b)
		} else {
			allow = fmt.Sprintf("allowlist = %q\napprover_keys = [%q]\n", out, filepath.Join(s.keys, "approver.pub"))
		}
	}
	pol := fmt.Sprintf(`station = "hwtest"
modes = [%s]
[keys]
dir = "keys"
[import]
%sguix_acl = "acl"
yara_rules = ["hwEICAR.yar"]
spool_dir = "spool"
spool_max = "1GiB"
[sanitize]
after_import = "never"
verify = "full"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
state_dir = "state"
[leds]
ready = %q
busy = %q
attention = %q
pass = %q
fail = %q
`, modes, allow, hwLEDs[leds.Ready], hwLEDs[leds.Busy], hwLEDs[leds.Attention], hwLEDs[leds.Pass], hwLEDs[leds.Fail])
	if err := os.WriteFile(filepath.Join(root, "policy.toml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	return s
}

func hwGuixKeyGen(r io.Reader) (sec, pub []byte, err error) {
	k, err := guix.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	if sec, err = k.MarshalText(); err != nil {
		return nil, nil, err
	}
	pub, err = k.Public().MarshalText()
	return sec, pub, err
}

func (s *hwStation) start() {
	t := s.t
	// The full-screen view goes to a second pty, standing in for tty1.
	scr, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	pty.Setsize(scr, &pty.Winsize{Rows: 30, Cols: 100})
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := scr.Read(b)
			s.screenMu.Lock()
			s.screen.Write(b[:n])
			s.screenMu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); scr.Close() })
	cmd := exec.Command(testenv.Airlock(t), "run", "--config", filepath.Join(s.root, "policy.toml"),
		"--root", s.root, "--allow-loop", "--screen", tty.Name())
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd, s.pty = cmd, f
	go s.read()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-s.done
		}
		cmd.Wait()
		f.Close()
		if t.Failed() {
			t.Logf("hwStation output:\n%s", s.output())
		}
	})
	s.expect(`^airlock: state READY$`)
}

// lastFrame is the last full redraw of the full-screen view, escapes removed.
func (s *hwStation) lastFrame() string {
	s.screenMu.Lock()
	defer s.screenMu.Unlock()
	all := s.screen.String()
	i := strings.LastIndex(all, "\x1b[H\x1b[2J")
	if i < 0 {
		return ""
	}
	return strings.ReplaceAll(all[i+len("\x1b[H\x1b[2J"):], "\a", "")
}

func (s *hwStation) read() {
	defer close(s.done)
	br := bufio.NewReader(s.pty)
	for {
		l, err := br.ReadString('\n')
		l = strings.TrimRight(strings.ReplaceAll(l, "\a", ""), "\r\n")
		if l != "" {
			s.mu.Lock()
			s.lines = append(s.lines, l)
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (s *hwStation) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// expect waits for the next line (after the last one expected) matching re and returns its
// submatches. Lines that are not the hwStation's (the pty's echo of answers) are skipped.
func (s *hwStation) expect(re string) []string {
	s.t.Helper()
	return s.expectWithin(re, 60*time.Second)
}

func (s *hwStation) expectWithin(re string, d time.Duration) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for i := s.seen; i < len(s.lines); i++ {
			if m := rx.FindStringSubmatch(s.lines[i]); m != nil {
				s.seen = i + 1
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.done:
			s.t.Fatalf("hwStation exited while waiting for %q", re)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatalf("timeout waiting for %q", re)
	return nil
}

func (s *hwStation) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.pty, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *hwStation) answer(prompt, line string) {
	s.t.Helper()
	s.expect(`^airlock: prompt ` + regexp.QuoteMeta(prompt) + `: `)
	s.send(line)
}

// leds asserts the fake LED tree: each listed signal's LED shows how ("on", "off", "blink", "fast-blink").
func (s *hwStation) leds(want map[leds.Signal]string) {
	s.t.Helper()
	dir := filepath.Join(s.root, "sys", "class", "leds")
	for sig, how := range want {
		got, err := leds.State(dir, hwLEDs[sig])
		if err != nil || got != how {
			s.t.Errorf("LED %s (%s) = %q (%v), want %q", sig, hwLEDs[sig], got, err, how)
		}
	}
}

func (s *hwStation) logRecords() string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.logDir, auditlog.RecordsFile))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func hwCopy(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func hwRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// fatStick makes a FAT image of sizeMiB under the hwStation's root with the given files
// (name -> source path) and attaches it to a loop device, returning the device node.
func (s *hwStation) fatStick(sizeMiB int, files map[string]string) (dev, img string) {
	t := s.t
	img = filepath.Join(s.root, "sticks", fmt.Sprintf("stick-%d.img", time.Now().UnixNano()))
	os.MkdirAll(filepath.Dir(img), 0o755)
	hwRun(t, "truncate", "-s", fmt.Sprintf("%dM", sizeMiB), img)
	hwRun(t, "mkfs.vfat", "-n", "LOWSIDE", img)
	for name, src := range files {
		hwRun(t, "mcopy", "-i", img, src, "::"+name)
	}
	return s.attach(img), img
}

func (s *hwStation) attach(img string) string {
	t := s.t
	dev := strings.TrimSpace(hwRun(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func hwWrite(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// hwTarball makes a small .tar.gz with real content, as a source tarball would be.
func hwTarball(t *testing.T, dir string) string {
	src := filepath.Join(dir, "hello-src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "README"), []byte("hello, high side\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	out := filepath.Join(dir, "hello-1.0.tar.gz")
	hwRun(t, "tar", "-C", dir, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-czf", out, "hello-src")
	return out
}

// importToPass runs the import of a stick with a signed Guix export (and an allowlisted
// tarball when the allowlist is available) and returns the burned image.
func TestHWImportPass(t *testing.T) {
	work := t.TempDir()
	tgz := hwTarball(t, work)
	vec := testenv.GuixVectors(t)
	s := newHWStation(t, `"import", "sanitize", "check"`, tgz)
	s.leds(map[leds.Signal]string{leds.Ready: "on", leds.Busy: "off", leds.Attention: "off"})
	files := map[string]string{"p2-only.export": filepath.Join(vec, "p2-only.export"), "hello-1.0.tar.gz": tgz}
	n := 2
	dev, _ := s.fatStick(32, files)
	s.expect(`^airlock: device add ` + dev + ` bus=loop `)
	s.expect(`^airlock: prompt operator: `)
	s.leds(map[leds.Signal]string{leds.Attention: "on"})
	s.send("alice")
	s.answer("mode", "import")
	s.expect(`^airlock: state READING$`)
	s.expect(`^airlock: state VERDICT$`)
	s.expect(`^airlock: approved hello-1.0.tar.gz [0-9a-f]{64}$`)
	s.expect(`^airlock: approved p2-only.export [0-9a-f]{64}$`)
	s.expect(fmt.Sprintf(`^airlock: verdict APPROVED %d approved 0 rejected$`, n))
	s.expect(`^airlock: state SEALING$`)
	s.expect(`^airlock: state INSERT-DISC$`)
	s.expect(`^airlock: state BURNING$`)
	s.expect(`^airlock: state READBACK$`)
	s.expect(`^airlock: state PASS$`)
	img := s.expect(`^airlock: output image (.*)$`)[1]
	s.expect(`^airlock: output log (.*)$`)
	s.expect(`^airlock: PASS disc .* ` + fmt.Sprint(n) + ` approved file\(s\) of [0-9]+ bytes; image [0-9]+ bytes, sha256 [0-9a-f]{64}, log index [0-9]+; remove the disc$`)
	s.expect(`^airlock: state READY$`)
	s.leds(map[leds.Signal]string{leds.Ready: "on", leds.Pass: "on", leds.Fail: "off", leds.Busy: "off"})
	// The full-screen view shows the station, the state and the result.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f := s.lastFrame()
		if strings.Contains(f, "station hwtest") && strings.Contains(f, "STATE  READY") && strings.Contains(f, ">>> PASS disc ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("full-screen view's last frame:\n%s", f)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The image, checked with stock tools after a mount-free extraction.
	testenv.Need(t, "xorriso")
	x := filepath.Join(work, "x")
	hwRun(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", x)
	pub := filepath.Join(s.keys, "seal.pub")
	cmd := exec.Command("minisign", "-Vm", "SHA256SUMS", "-p", pub)
	cmd.Dir = x
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -V: %v\n%s", err, b)
	} else if !strings.Contains(string(b), "airlock-seal session=") {
		t.Errorf("trusted comment not an airlock seal: %s", b)
	}
	cmd = exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = x
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, b)
	}
	for _, f := range []string{"bundle/p2-only.export", "bundle/hello-1.0.tar.gz", "AIRLOCK/report.json",
		"AIRLOCK/checkpoint", "AIRLOCK/record.json", "AIRLOCK/proofs/inclusion"} {
		if _, err := os.Stat(filepath.Join(x, f)); err != nil {
			t.Errorf("disc lacks %s", f)
		}
	}
	if got, want := hwRun(t, "sha256sum", filepath.Join(x, "bundle/p2-only.export"))[:64], hwRun(t, "sha256sum", filepath.Join(vec, "p2-only.export"))[:64]; got != want {
		t.Errorf("burned export differs from the stick's")
	}
	// airlock verify: seal, hashes, the log's signature on the checkpoint.
	if b, err := exec.Command(testenv.Airlock(t), "verify", "--pub", pub, "--log-vkey", filepath.Join(s.keys, "log.vkey"), img).CombinedOutput(); err != nil {
		t.Errorf("airlock verify %s: %v\n%s", img, err, b)
	} else if !strings.Contains(string(b), "VALID") {
		t.Errorf("airlock verify: %s", b)
	}
	// The audit log verifies and holds the session.
	v, err := sealing.LoadNoteVerifier(filepath.Join(s.keys, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.VerifyDir(s.logDir, v); err != nil {
		t.Errorf("audit log does not verify: %v", err)
	}
	recs := s.logRecords()
	for _, typ := range []string{"insert", "verdict", "seal", "burn", "readback"} {
		if !strings.Contains(recs, `"type":"`+typ+`"`) {
			t.Errorf("audit log lacks a %s record:\n%s", typ, recs)
		}
	}
	if !strings.Contains(recs, `"operator":"alice"`) {
		t.Errorf("audit log lacks the operator")
	}

	// Check-disc flow: the burned image as a medium (a loop device carrying the ISO) passes ...
	hwRun(t, "losetup", "-d", dev)
	s.expect(`^airlock: device remove ` + dev)
	disc := s.attach(img)
	s.expect(`^airlock: device add ` + disc + ` `)
	s.answer("operator", "dave")
	s.answer("mode", "check")
	s.expect(`^airlock: state CHECKING$`)
	s.expect(`^airlock: PASS disc ` + disc + `: VALID: 6 sealed files \(approved and AIRLOCK/ evidence\), .* log index [0-9]+, checkpoint size [0-9]+$`)
	s.expect(`^airlock: state READY$`)
	hwRun(t, "losetup", "-d", disc)
	s.expect(`^airlock: device remove ` + disc)
	// ... and a disc whose bundle was altered (rebuilt with airlock iso) fails, naming the file.
	f, err := os.OpenFile(filepath.Join(x, "bundle", "hello-1.0.tar.gz"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	bad := filepath.Join(s.root, "sticks", "tampered.iso")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	hwRun(t, testenv.Airlock(t), "iso", "--out", bad, x)
	disc = s.attach(bad)
	s.expect(`^airlock: device add ` + disc + ` `)
	s.answer("operator", "dave")
	s.answer("mode", "check")
	s.expect(`^airlock: FAIL check ` + disc + `: .*hello-1.0.tar.gz`)
	s.expect(`^airlock: state READY$`)
	s.leds(map[leds.Signal]string{leds.Fail: "fast-blink", leds.Pass: "off"})
	if recs := s.logRecords(); !strings.Contains(recs, `"type":"check"`) || !strings.Contains(recs, `"result":"invalid"`) {
		t.Errorf("audit log lacks the check records:\n%s", recs)
	}
}

// TestHWImportRejected: each bad stick is rejected with the reason on screen and in the log,
// and nothing is burned.
func TestHWImportRejected(t *testing.T) {
	work := t.TempDir()
	vec := testenv.GuixVectors(t)
	s := newHWStation(t, `"import"`)
	cases := []struct {
		name   string
		files  map[string]string
		exfat  bool
		reason string // on the rejected line or the FAIL line
	}{
		{name: "eicar", files: map[string]string{"eicar.com": hwWrite(t, work, "eicar.com", []byte(hwEICAR))},
			reason: `^airlock: rejected eicar.com: .*EICAR_test_file`},
		{name: "unknown", files: map[string]string{"notes.txt": hwWrite(t, work, "notes.txt", []byte("not on any list\n"))},
			reason: `^airlock: rejected notes.txt: .*`},
		{name: "unauthorized-export", files: map[string]string{"unauthorized.export": filepath.Join(vec, "unauthorized.export")},
			reason: `^airlock: rejected unauthorized.export: .*unauthorized`},
		{name: "exfat", exfat: true, reason: `^airlock: FAIL /dev/loop[0-9]+: .*unsupported filesystem: exFAT`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadDir(s.discs)
			var dev string
			if c.exfat {
				testenv.Need(t, "mkfs.exfat")
				img := filepath.Join(s.root, "sticks", "exfat.img")
				os.MkdirAll(filepath.Dir(img), 0o755)
				hwRun(t, "truncate", "-s", "32M", img)
				hwRun(t, "mkfs.exfat", img)
				dev = s.attach(img)
			} else {
				dev, _ = s.fatStick(16, c.files)
			}
			s.expect(`^airlock: device add ` + dev + ` `)
			s.answer("operator", "bob")
			var line []string
			if strings.HasPrefix(c.reason, "^airlock: FAIL") {
				line = s.expect(c.reason)
				line = []string{line[0], strings.TrimPrefix(line[0], "airlock: FAIL ")}
			} else {
				s.expect(c.reason)
				line = s.expect(`^airlock: FAIL (.*)$`)
			}
			s.expect(`^airlock: state READY$`)
			s.leds(map[leds.Signal]string{leds.Fail: "fast-blink", leds.Ready: "on", leds.Pass: "off"})
			after, _ := os.ReadDir(s.discs)
			if len(after) != len(before) {
				t.Errorf("something was burned: %v", after)
			}
			recs := s.logRecords()
			if !strings.Contains(recs, `"type":"fail"`) || !strings.Contains(recs, hwJSONEscape(line[1])) {
				t.Errorf("the log lacks the failure %q:\n%s", line[1], recs)
			}
			hwRun(t, "losetup", "-d", dev)
			s.expect(`^airlock: device remove ` + dev)
		})
	}
}

func hwJSONEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return r.Replace(s)
}

// TestHWPulledMidScan: a stick that goes away while it is read aborts the job cleanly.
func TestHWPulledMidScan(t *testing.T) {
	work := t.TempDir()
	s := newHWStation(t, `"import"`)
	big := filepath.Join(work, "big.bin")
	f, _ := os.Create(big)
	io.CopyN(f, rand.Reader, 400<<20)
	f.Close()
	dev, img := s.fatStick(420, map[string]string{"big.bin": big})
	s.answer("operator", "carol")
	s.expect(`^airlock: state READING$`)
	s.expect(`^airlock: progress `)
	// Pull it: shrink the backing file and tell the loop driver (losetup -d is lazy while open).
	if err := os.Truncate(img, 0); err != nil {
		t.Fatal(err)
	}
	hwRun(t, "losetup", "-c", dev)
	fail := s.expect(`^airlock: FAIL (.*)$`)[1]
	if !strings.Contains(fail, "device removed") {
		t.Errorf("FAIL reason does not say the stick went away: %s", fail)
	}
	s.expect(`^airlock: state READY$`)
	if ents, _ := os.ReadDir(s.discs); len(ents) != 0 {
		t.Errorf("burned after a pulled stick: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.root, "spool")); len(ents) != 0 {
		t.Errorf("spool not emptied: %v", ents)
	}
}

// TestHWSanitize: wipe, verify, reformat, certificate; fsck.fat and minisign agree.
func TestHWSanitize(t *testing.T) {
	testenv.Need(t, "fsck.fat")
	work := t.TempDir()
	s := newHWStation(t, `"sanitize"`)
	dev, img := s.fatStick(48, map[string]string{"secret.txt": hwWrite(t, work, "secret.txt", []byte("low side data\n"))})
	s.answer("operator", "erin")
	s.expect(`^airlock: state CONFIRM-WIPE$`)
	q := s.expect(`^airlock: prompt confirm-wipe: ERASE ` + dev + ` .* type the last 4 characters of its size in bytes to confirm, or "cancel"$`)
	_ = q
	s.leds(map[leds.Signal]string{leds.Busy: "blink", leds.Attention: "on", leds.Ready: "off"})
	// A second stick while busy is queued, with a message.
	second, _ := s.fatStick(16, nil)
	s.expect(`^airlock: device queued ` + second + ` busy: it will be taken when the current job ends$`)
	size := fmt.Sprint(48 << 20)
	s.send(size[len(size)-4:])
	s.expect(`^airlock: state WIPING$`)
	s.expect(`^airlock: state FORMATTING$`)
	// The LEDs change before the state line (the queued stick makes the tree racy from here on).
	s.expect(`^airlock: led pass on$`)
	s.expect(`^airlock: state PASS$`)
	cert := s.expect(`^airlock: output certificate (.*)$`)[1]
	s.expect(`^airlock: PASS sanitized ` + dev + `: zero, 1 pass\(es\), full verification passed`)
	s.expect(`^airlock: state READY$`)
	// The queued stick is taken next; pulled at the operator prompt, its session fails cleanly.
	s.expect(`^airlock: prompt operator: operator ID for ` + second + `\?$`)
	hwRun(t, "losetup", "-d", second)
	s.expect(`^airlock: FAIL ` + second + `: device removed`)
	s.expect(`^airlock: state READY$`)
	// The stick itself: a clean FAT32 with the certificate, which minisign verifies.
	hwRun(t, "losetup", "-d", dev)
	part := img + "@@1M"
	if b, err := exec.Command("fsck.fat", "-n", "--offset", fmt.Sprint(1<<20), img).CombinedOutput(); err != nil {
		// fsck.fat without --offset support: check a copy of the partition.
		pimg := filepath.Join(work, "part.img")
		hwRun(t, "dd", "if="+img, "of="+pimg, "bs=1M", "skip=1", "status=none")
		if b2, err2 := exec.Command("fsck.fat", "-n", pimg).CombinedOutput(); err2 != nil {
			t.Fatalf("fsck.fat -n: %v\n%s\n%s", err2, b, b2)
		}
	}
	for _, f := range []string{"certificate.json", "certificate.json.minisig", "certificate.txt"} {
		hwRun(t, "mcopy", "-i", part, "::"+f, filepath.Join(work, f))
	}
	if b, err := exec.Command("minisign", "-Vm", filepath.Join(work, "certificate.json"), "-p", filepath.Join(s.keys, "seal.pub")).CombinedOutput(); err != nil {
		t.Fatalf("minisign certificate: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "certificate.json")); !strings.Contains(string(b), `"operator":"erin"`) || !strings.Contains(string(b), `"result":"PASSED"`) {
		t.Errorf("certificate: %s", b)
	}
	if _, err := os.Stat(cert); err != nil {
		t.Errorf("host copy of the certificate: %v", err)
	}
	if b, err := exec.Command("mdir", "-i", part, "-b", "::").CombinedOutput(); err != nil || strings.Contains(string(b), "SECRET") || strings.Contains(string(b), "secret") {
		t.Errorf("the old file survived or the new filesystem does not list: %v\n%s", err, b)
	}
	recs := s.logRecords()
	for _, typ := range []string{"insert", "wipe", "certificate"} {
		if !strings.Contains(recs, `"type":"`+typ+`"`) {
			t.Errorf("audit log lacks a %s record", typ)
		}
	}
}

// TestHWRunStartup: the station refuses a policy it does not fully understand, naming the key,
// and asks for the passphrase of protected keys (refusing a wrong one).
func TestHWRunStartup(t *testing.T) {
	testenv.NeedRoot(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if _, err := sealing.GenerateKeys(keys, sealing.KeygenOptions{Role: sealing.RoleAppliance, Guix: hwGuixKeyGen, Passphrase: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	pol := `station = "startup"
modes = ["sanitize"]
[keys]
dir = "keys"
passphrase = true
[audit]
log_dir = "log"
state_dir = "state"
`
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", pol)
	bad := write("bad.toml", strings.Replace(pol, "passphrase = true", "pasphrase = true", 1))
	runIt := func(config, stdin string, extra ...string) (int, string, string) {
		var out, errb strings.Builder
		args := append([]string{"run", "--config", config, "--root", dir, "--allow-loop"}, extra...)
		code := dispatch(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
		return code, out.String(), errb.String()
	}
	if code, _, stderr := runIt(bad, ""); code != exitError || !strings.Contains(stderr, "keys.pasphrase: unknown key") || !strings.Contains(stderr, "refusing to start") {
		t.Errorf("bad policy: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runIt(good, "", "--boot"); code != exitError || !strings.Contains(stderr, "exclude") {
		t.Errorf("--boot with --root: exit %d, stderr %q", code, stderr)
	}
	if code, out, stderr := runIt(good, "wrong\n"); code != exitError || !strings.Contains(out, "airlock: prompt passphrase: ") || strings.Contains(out, "state READY") {
		t.Errorf("wrong passphrase: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// A wrong passphrase, then the right one: asked again, then the station starts.
	if code, out, stderr := runIt(good, "wrong\ns3cret\n"); code != exitOK || strings.Count(out, "airlock: prompt passphrase: ") != 2 ||
		!strings.Contains(out, "airlock: info wrong passphrase") || !strings.Contains(out, "airlock: state READY") {
		t.Errorf("wrong, then right passphrase: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// Right passphrase: the station starts, and stops at the end of its input.
	code, out, stderr := runIt(good, "s3cret\n")
	if code != exitOK || !strings.Contains(out, "airlock: state READY") {
		t.Errorf("right passphrase: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if !strings.HasPrefix(out, "airlock: prompt passphrase: ") {
		t.Errorf("the passphrase prompt is not first: %q", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(strings.TrimPrefix(l, "\a"), "airlock: ") {
			t.Errorf("line outside the contract: %q", l)
		}
	}
}
