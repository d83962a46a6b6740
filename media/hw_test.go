//go:build hwtest

package media

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

// loopDev attaches a fresh backing file of mib MiB (partition scanning on) and detaches it when
// the test ends. It returns the device node and the backing file.
func loopDev(t *testing.T, mib int64) (string, string) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Need(t, "losetup")
	backing := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(backing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, mib<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", "-P", backing).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	// The kernel's read-only flag (BLKROSET, set by OpenFS) outlives a detach: start and leave
	// every loop device writable for whoever attaches it next.
	exec.Command("blockdev", "--setrw", dev).Run()
	t.Cleanup(func() {
		exec.Command("blockdev", "--setrw", dev).Run()
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Logf("losetup -d %s: %v %s", dev, err, out)
		}
	})
	return dev, backing
}

func TestHWWatchLoopInsertRemove(t *testing.T) {
	testenv.NeedRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{AllowLoop: true, Debounce: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Drain the coldplug events of whatever is attached already.
	time.Sleep(300 * time.Millisecond)
	var mu sync.Mutex
	var seen []Event
	go func() {
		for e := range ch {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
		}
	}()
	backing := filepath.Join(t.TempDir(), "w.img")
	os.WriteFile(backing, make([]byte, 8<<20), 0o644)
	out, err := exec.Command("losetup", "-f", "--show", backing).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	name := filepath.Base(dev)
	wait := func(kind EventKind) Event {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for _, e := range seen {
				if e.Name == name && e.Kind == kind {
					mu.Unlock()
					return e
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no %s event for %s; saw %+v", kind, name, seen)
		return Event{}
	}
	e := wait(DiskAdded)
	if e.Identity == nil || e.Identity.Bus != "loop" || e.Identity.Size != 8<<20 || e.Identity.BackingFile != backing {
		t.Fatalf("insert identity %+v", e.Identity)
	}
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -d: %v %s", err, out)
	}
	wait(DiskRemoved)
}

func TestHWWipeEveryMethod(t *testing.T) {
	for _, method := range []string{MethodZero, MethodRandom, MethodDoD3, MethodDiscard} {
		for _, verify := range []string{VerifyFull, VerifySample} {
			t.Run(method+"-"+verify, func(t *testing.T) {
				dev, backing := loopDev(t, 40)
				if err := os.WriteFile(backing, bytes.Repeat([]byte{0xc3}, 40<<20), 0o644); err != nil {
					t.Fatal(err)
				}
				rep, err := Wipe(context.Background(), dev, WipeOptions{Method: method, Verify: verify})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Result != Passed || rep.VerifyResult != Passed || rep.Size != 40<<20 || rep.SectorSize != 512 {
					t.Fatalf("report %+v", rep)
				}
				b, err := os.ReadFile(backing)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Count(b, []byte{0xc3}) > len(b)/200 {
					t.Fatal("old content survived")
				}
				if (method == MethodZero || method == MethodDiscard) && len(bytes.Trim(b, "\x00")) != 0 {
					t.Fatal("not all zeros")
				}
			})
		}
	}
}

// TestHWPulledStickMidWipe shrinks the loop device under a running wipe (truncate the backing
// file, losetup -c), as a stick pulled out: the wipe fails with "device removed at offset N".
func TestHWPulledStickMidWipe(t *testing.T) {
	dev, backing := loopDev(t, 512)
	var once sync.Once
	pull := func() {
		once.Do(func() {
			if err := os.Truncate(backing, 16<<20); err != nil {
				t.Error(err)
			}
			if out, err := exec.Command("losetup", "-c", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup -c: %v %s", err, out)
			}
		})
	}
	rep, err := Wipe(context.Background(), dev, WipeOptions{Method: MethodDoD3, Verify: VerifyFull, ChunkSize: 1 << 20,
		Progress: func(p Progress) {
			if p.Done > 64<<20 {
				pull()
			}
		}})
	if err == nil {
		t.Fatalf("wipe of a pulled stick succeeded: %+v", rep)
	}
	if !errors.Is(err, ErrDeviceRemoved) || !strings.Contains(err.Error(), "device removed at offset ") {
		t.Fatalf("error %v", err)
	}
	if rep == nil || rep.Result != Failed || len(rep.Errors) == 0 {
		t.Fatalf("report %+v", rep)
	}
	cert := NewCertificate(rep, nil, CertInfo{ID: "pulled", AuditLogIndex: -1})
	if cert.Result != sealing.ResultFailed {
		t.Fatalf("certificate result %s", cert.Result)
	}
	t.Logf("pulled: %v", err)
}

func TestHWSanitizeReformatCertificate(t *testing.T) {
	testenv.Need(t, "fsck.fat", "blkid", "mdir", "mtype", "minisign")
	key, pub := testKey(t)
	dev, backing := loopDev(t, 96)
	id, err := Identify("/sys", filepath.Base(dev))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sanitize(context.Background(), dev, SanitizeOptions{Wipe: WipeOptions{Method: MethodZero, Verify: VerifyFull},
		Format: true, Label: "AIRLOCK", Key: key, Identity: id, Info: CertInfo{ID: "hw-1", Station: "hw", AuditLogIndex: -1}})
	if err != nil {
		t.Fatal(err)
	}
	// This kernel has no MBR partition scanning for loop devices (no loop0p1 appears), so the
	// partition is looked at through a second, read-only loop device over its byte range.
	part := partLoop(t, backing, res.Format.PartitionStart, res.Format.PartitionSize)
	out, err := exec.Command("fsck.fat", "-n", "-v", part).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.fat -n %s: %v\n%s", part, err, out)
	}
	if !bytes.Contains(out, []byte("2048 hidden sectors")) {
		t.Fatalf("hidden sectors:\n%s", out)
	}
	out, err = exec.Command("blkid", "-p", "-o", "export", part).Output()
	if err != nil || !bytes.Contains(out, []byte("TYPE=vfat")) || !bytes.Contains(out, []byte("LABEL=AIRLOCK")) || !bytes.Contains(out, []byte("VERSION=FAT32")) {
		t.Fatalf("blkid: %v\n%s", err, out)
	}
	out, err = exec.Command("blkid", "-p", "-o", "export", dev).Output()
	if err != nil || !bytes.Contains(out, []byte("PTTYPE=dos")) {
		t.Fatalf("blkid disk: %v\n%s", err, out)
	}
	out, err = exec.Command("mdir", "-i", part, "::").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("certificate.json.minisig")) {
		t.Fatalf("mdir: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for _, n := range []string{CertJSON, CertSig, CertText} {
		b, err := exec.Command("mtype", "-i", part, "::"+n).Output()
		if err != nil {
			t.Fatalf("mtype %s: %v", n, err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	run(t, "minisign", "-Vm", filepath.Join(dir, CertJSON), "-p", pub)
	c, err := sealing.ParseCertificate(res.JSON)
	if err != nil || c.Result != sealing.ResultPassed || c.MediaType == "" || c.SizeBytes != 96<<20 {
		t.Fatalf("certificate %+v: %v", c, err)
	}
	// Read back through airlock's own reader, read-only.
	m, err := Open(context.Background(), dev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(m, CertJSON)
	if err != nil || !bytes.Equal(got, res.JSON) {
		t.Fatalf("read back: %v", err)
	}
	ro, _ := exec.Command("blockdev", "--getro", dev).Output()
	m.Close()
	if strings.TrimSpace(string(ro)) != "1" {
		t.Fatalf("OpenFS did not set BLKROSET: getro=%q", ro)
	}
	// A wipe clears the read-only flag again (it is cleared on cleanup anyway).
	rep, err := Wipe(context.Background(), dev, WipeOptions{Method: MethodZero, Verify: VerifySample})
	if err != nil || rep.Result != Passed {
		t.Fatalf("wipe after OpenFS: %v", err)
	}
	if ro, _ := exec.Command("blockdev", "--getro", dev).Output(); strings.TrimSpace(string(ro)) != "0" {
		t.Fatalf("Wipe left the device read-only")
	}
}

func TestHWGuardLoopAndMounts(t *testing.T) {
	dev, _ := loopDev(t, 8)
	id, err := Identify("/sys", filepath.Base(dev))
	if err != nil {
		t.Fatal(err)
	}
	if id.Bus != "loop" || id.Size != 8<<20 || id.LogicalSectorSize != 512 {
		t.Fatalf("identity %+v", id)
	}
	var r *Refusal
	if err := (&Guard{}).Check(id); !errors.As(err, &r) || r.Rule != RuleLoop {
		t.Fatalf("loop without AllowLoop: %v", err)
	}
	if err := (&Guard{AllowLoop: true}).Check(id); err != nil {
		t.Fatalf("loop with AllowLoop: %v", err)
	}
	if err := (&Guard{AllowLoop: true, LogDisks: []string{dev}}).Check(id); !errors.As(err, &r) || r.Rule != RuleLog {
		t.Fatalf("log device: %v", err)
	}
	mi := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(mi, []byte("40 22 "+id.Dev+" / /mnt/stick rw - vfat "+dev+" rw\n"), 0o644)
	if err := (&Guard{AllowLoop: true, MountInfo: mi}).Check(id); !errors.As(err, &r) || r.Rule != RuleMounted {
		t.Fatalf("mounted: %v", err)
	}
	// The machine's own root disk is refused.
	disks, _ := Disks("/sys")
	for _, d := range disks {
		if strings.HasPrefix(d, "loop") || strings.HasPrefix(d, "zram") || strings.HasPrefix(d, "ram") {
			continue
		}
		rid, err := Identify("/sys", d)
		if err != nil {
			continue
		}
		if err := (&Guard{AllowLoop: true}).Check(rid); err == nil {
			t.Errorf("guard admits %s (%s)", d, rid.Bus)
		}
	}
}

// partLoop attaches a read-only loop device over bytes [off, off+size) of file.
func partLoop(t *testing.T, file string, off, size int64) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", "-r", "-o", fmt.Sprint(off), "--sizelimit", fmt.Sprint(size), file).Output()
	if err != nil {
		t.Fatalf("losetup partition: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		exec.Command("losetup", "-d", dev).Run()
		exec.Command("blockdev", "--setrw", dev).Run()
	})
	return dev
}

// airlockCmd runs the real binary and returns its stdout, stderr and exit code.
func airlockCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testenv.Airlock(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestHWCLIOnLoop drives `airlock devices`, `wipe` and `ls` on a loop device, as an operator would.
func TestHWCLIOnLoop(t *testing.T) {
	testenv.Need(t, "minisign")
	dir := t.TempDir()
	run(t, "minisign", "-G", "-W", "-s", filepath.Join(dir, "seal.key"), "-p", filepath.Join(dir, "seal.pub"))
	dev, _ := loopDev(t, 80)
	name := filepath.Base(dev)

	out, errOut, code := airlockCmd(t, "devices", "--allow-loop")
	if code != 0 || !strings.Contains(out, dev) {
		t.Fatalf("devices: exit %d %s\n%s", code, errOut, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, dev+" ") && !strings.HasSuffix(strings.TrimSpace(l), "allowed") {
			t.Fatalf("loop device not allowed with --allow-loop: %q", l)
		}
	}
	// A guard refusal is a set-up error: exit 2.
	if _, errOut, code := airlockCmd(t, "wipe", "--yes", dev); code != 2 || !strings.Contains(errOut, "rule loop-not-allowed") {
		t.Fatalf("wipe without --allow-loop: exit %d %s", code, errOut)
	}
	if _, errOut, code := airlockCmd(t, "wipe", "--yes", "--allow-loop", "--log-disk", dev, dev); code != 2 || !strings.Contains(errOut, "rule audit-log-medium") {
		t.Fatalf("wipe of the log disk: exit %d %s", code, errOut)
	}
	out, errOut, code = airlockCmd(t, "wipe", "--allow-loop", "--yes", "--method", "dod3", "--verify", "sample",
		"--key", filepath.Join(dir, "seal.key"), "--cert-out", filepath.Join(dir, "cert"), dev)
	if code != 0 || !strings.Contains(out, "Result: PASSED") || !strings.Contains(out, "loop device") {
		t.Fatalf("wipe: exit %d %s\n%s", code, errOut, out)
	}
	run(t, "minisign", "-Vm", filepath.Join(dir, "cert", CertJSON), "-p", filepath.Join(dir, "seal.pub"))
	out, errOut, code = airlockCmd(t, "ls", "--hash", "--allow-loop", dev)
	if code != 0 || !strings.Contains(out, CertSig+"\t") {
		t.Fatalf("ls: exit %d %s\n%s", code, errOut, out)
	}
	js, _ := os.ReadFile(filepath.Join(dir, "cert", CertJSON))
	sum := fmt.Sprintf("%x", sha256sum(js))
	if !strings.Contains(out, CertJSON+"\t"+fmt.Sprint(len(js))+"\t"+sum) {
		t.Fatalf("ls hash of %s differs from the certificate written:\n%s", CertJSON, out)
	}
	if _, errOut, code := airlockCmd(t, "ls", dev); code != 2 || !strings.Contains(errOut, "loop-not-allowed") {
		t.Fatalf("ls without --allow-loop: exit %d %s", code, errOut)
	}
	_ = name
}

// TestHWCLIPulledStick: the CLI reports a stick pulled mid-wipe with exit 1 and a FAILED certificate.
func TestHWCLIPulledStick(t *testing.T) {
	dev, backing := loopDev(t, 1024)
	cmd := exec.Command(testenv.Airlock(t), "wipe", "--allow-loop", "--yes", "--method", "dod3", dev)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Pull the stick on the first progress line of the first pass: the wipe is then provably under
	// way, however fast this machine writes (a fixed sleep raced the whole 1 GiB wipe on a quiet one).
	sc := bufio.NewScanner(stderr)
	pulled := false
	for sc.Scan() {
		line := sc.Text()
		errb.WriteString(line + "\n")
		if !pulled && strings.Contains(line, "pass 1/3") {
			pulled = true
			if err := os.Truncate(backing, 8<<20); err != nil {
				t.Error(err)
			}
			if o, err := exec.Command("losetup", "-c", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup -c: %v %s", err, o)
			}
		}
	}
	err = cmd.Wait()
	if !pulled {
		t.Fatalf("no progress line of pass 1 seen:\n%s", errb.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v\n%s\n%s", err, errb.String(), out.String())
	}
	if !strings.Contains(errb.String(), "device removed at offset") || !strings.Contains(out.String(), "Result: FAILED") {
		t.Fatalf("stderr %s\nstdout %s", errb.String(), out.String())
	}
}

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }

// TestHWCLIDevicesWatch: `airlock devices --watch --json` reports a loop device attached and
// detached while it runs.
func TestHWCLIDevicesWatch(t *testing.T) {
	testenv.NeedRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Airlock(t), "devices", "--watch", "--json", "--allow-loop")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // socket bound, coldplug done
	backing := filepath.Join(t.TempDir(), "w.img")
	os.WriteFile(backing, make([]byte, 4<<20), 0o644)
	out, err := exec.Command("losetup", "-f", "--show", backing).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	name := filepath.Base(dev)
	detached := false
	defer func() {
		if !detached {
			exec.Command("losetup", "-d", dev).Run()
		}
	}()
	want := func(kind EventKind) {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s of %s", kind, name)
				}
				var ev struct {
					Kind     EventKind `json:"kind"`
					Name     string    `json:"name"`
					Coldplug bool      `json:"coldplug"`
					Identity *struct {
						Bus     string `json:"bus"`
						Allowed bool   `json:"allowed"`
					} `json:"identity"`
				}
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				if ev.Name != name || ev.Kind != kind || ev.Coldplug {
					continue
				}
				if kind == DiskAdded && (ev.Identity == nil || ev.Identity.Bus != "loop" || !ev.Identity.Allowed) {
					t.Fatalf("insert event %s", l)
				}
				return
			case <-ctx.Done():
				t.Fatalf("no %s event for %s", kind, name)
			}
		}
	}
	want(DiskAdded)
	exec.Command("losetup", "-d", dev).Run()
	detached = true
	want(DiskRemoved)
}
