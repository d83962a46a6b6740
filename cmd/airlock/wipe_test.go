package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestWipeImageWithCertificate(t *testing.T) {
	testenv.Need(t, "minisign", "mtype", "fsck.fat")
	dir := t.TempDir()
	sh(t, "minisign", "-G", "-W", "-s", filepath.Join(dir, "seal.key"), "-p", filepath.Join(dir, "seal.pub"))
	img, _ := fatStick(t)
	sh(t, "truncate", "-s", "64M", img) // big enough for FAT32
	certDir := filepath.Join(dir, "cert")
	out, errOut, code := runCLI(t, "wipe", "--allow-loop", "--yes", "--quiet", "--method", "random", "--verify", "sample",
		"--label", "CLEAN", "--key", filepath.Join(dir, "seal.key"), "--operator", "op-1", "--cert-out", certDir, img)
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "Result: PASSED") || !strings.Contains(out, "op-1") {
		t.Fatalf("certificate text:\n%s", out)
	}
	lsOut, _, code := runCLI(t, "ls", "--hash", img)
	if code != exitOK || !strings.Contains(lsOut, "certificate.json\t") || !strings.Contains(lsOut, "certificate.json.minisig\t") ||
		!strings.Contains(lsOut, "certificate.txt\t") || strings.Contains(lsOut, "hello.txt") {
		t.Fatalf("ls after wipe: exit %d\n%s", code, lsOut)
	}
	js, err := exec.Command("mtype", "-i", img+"@@1M", "::certificate.json").Output()
	if err != nil {
		t.Fatal(err)
	}
	local, _ := os.ReadFile(filepath.Join(certDir, "certificate.json"))
	if !bytes.Equal(js, local) {
		t.Fatal("certificate on the stick differs from --cert-out")
	}
	sh(t, "minisign", "-Vm", filepath.Join(certDir, "certificate.json"), "-p", filepath.Join(dir, "seal.pub"))
}

func TestWipeRefusals(t *testing.T) {
	img := filepath.Join(t.TempDir(), "x.img")
	os.WriteFile(img, bytes.Repeat([]byte{7}, 1<<20), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"wipe", "--yes", img}, exitError, "not a block device"},
		{[]string{"wipe", "--allow-loop", img}, exitError, "no terminal (pass --yes)"},
		{[]string{"wipe", "--allow-loop", "--yes", "--method", "shred", img}, exitError, "unknown method"},
		{[]string{"wipe", "--allow-loop", "--yes", "--label", "bad/label", img}, exitError, "not allowed"},
		{[]string{"wipe", "--format", "ntfs", img}, exitError, "only fat32"},
		// Too small for FAT32: the hint names the real flag.
		{[]string{"wipe", "--allow-loop", "--yes", img}, exitError, "too small; to wipe it without reformatting, pass --format none"},
		{[]string{"wipe"}, exitError, "exactly one DEVICE"},
	} {
		_, errOut, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	if b, _ := os.ReadFile(img); !bytes.Equal(b, bytes.Repeat([]byte{7}, 1<<20)) {
		t.Fatal("a refused wipe wrote to the image")
	}
}

// TestWipeConfirmOnTerminal drives the real binary on a pseudo-terminal: a wrong answer leaves
// the image alone, the right one (last 4 digits of the size, as an image has no serial) wipes it.
func TestWipeConfirmOnTerminal(t *testing.T) {
	bin := testenv.Airlock(t)
	img := filepath.Join(t.TempDir(), "x.img")
	orig := bytes.Repeat([]byte{7}, 3<<20) // 3145728 bytes: confirm with "5728"
	os.WriteFile(img, orig, 0o644)
	for _, tc := range []struct {
		answer string
		code   int
	}{{"1234", exitError}, {"5728", exitOK}} {
		cmd := exec.Command(bin, "wipe", "--allow-loop", "--format", "none", "--quiet", img)
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		var screen syncBuffer
		done := make(chan struct{})
		go func() { io.Copy(&screen, f); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(screen.String(), "to confirm:") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		f.Write([]byte(tc.answer + "\n"))
		err = cmd.Wait()
		f.Close()
		<-done
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(screen.String(), "size in bytes") {
			t.Fatalf("answer %s: exit %d, want %d\n%s", tc.answer, code, tc.code, screen.String())
		}
		b, _ := os.ReadFile(img)
		if wiped := !bytes.Equal(b, orig); wiped != (tc.code == exitOK) {
			t.Fatalf("answer %s: wiped=%v", tc.answer, wiped)
		}
		if tc.code == exitOK && len(bytes.Trim(b, "\x00")) != 0 {
			t.Fatal("confirmed wipe left non-zero bytes")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
