package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// fatStick makes a 20 MiB MBR image with one FAT16 partition holding two files; it returns the
// image and path -> SHA-256.
func fatStick(t *testing.T) (string, map[string]string) {
	testenv.Need(t, "mkfs.vfat", "mcopy", "sfdisk")
	dir := t.TempDir()
	img := filepath.Join(dir, "stick.img")
	sh(t, "truncate", "-s", "20M", img)
	sh(t, "sh", "-c", "echo 'start=2048, type=e' | sfdisk -q --label dos "+img)
	sh(t, "mkfs.vfat", "-F", "16", "--offset", "2048", img, fmt.Sprint((20<<20-2048*512)/1024))
	want := map[string]string{}
	for name, content := range map[string]string{"hello.txt": "hello airlock\n", "Bundle Export.nar": strings.Repeat("nar", 5000)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		sh(t, "mcopy", "-i", img+"@@1M", p, "::")
		s := sha256.Sum256([]byte(content))
		want[name] = hex.EncodeToString(s[:])
	}
	return img, want
}

func TestLsImage(t *testing.T) {
	img, want := fatStick(t)
	out, errOut, code := runCLI(t, "ls", "--hash", img)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for name, sum := range want {
		if !strings.Contains(out, name+"\t") || !strings.Contains(out, sum) {
			t.Errorf("ls output lacks %s %s:\n%s", name, sum, out)
		}
	}
	out, _, code = runCLI(t, "ls", "--json", "--hash", img)
	var list []lsEntry
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") { // JSON Lines: one per file
		var ent lsEntry
		if json.Unmarshal([]byte(l), &ent) == nil {
			list = append(list, ent)
		}
	}
	if code != exitOK || len(list) != 2 {
		t.Fatalf("--json: exit %d, %s", code, out)
	}
	for _, e := range list {
		if want[e.Path] != e.SHA256 {
			t.Errorf("%s: %s, want %s", e.Path, e.SHA256, want[e.Path])
		}
	}
}

func TestLsRefusals(t *testing.T) {
	testenv.Need(t, "mkfs.exfat")
	dir := t.TempDir()
	ex := filepath.Join(dir, "exfat.img")
	sh(t, "truncate", "-s", "8M", ex)
	sh(t, "mkfs.exfat", ex)
	if _, errOut, code := runCLI(t, "ls", ex); code != exitVerdict || !strings.Contains(errOut, "unsupported filesystem: exFAT") {
		t.Errorf("exFAT: exit %d, %q", code, errOut)
	}
	blank := filepath.Join(dir, "blank.img")
	sh(t, "truncate", "-s", "8M", blank)
	if _, errOut, code := runCLI(t, "ls", blank); code != exitVerdict || !strings.Contains(errOut, "no filesystem") {
		t.Errorf("blank: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "ls", filepath.Join(dir, "missing")); code != exitError || !strings.Contains(errOut, "missing") {
		t.Errorf("missing: exit %d, %q", code, errOut)
	}
	if _, _, code := runCLI(t, "ls"); code != exitError {
		t.Errorf("no argument: exit %d", code)
	}
}

// TestLsGuardRefusalExit2: the guard refusing a loop device without --allow-loop is a set-up
// error (exit 2), not a verdict on a medium (exit 1).
func TestLsGuardRefusalExit2(t *testing.T) {
	st, err := os.Stat("/dev/loop0")
	if err != nil || st.Mode()&os.ModeDevice == 0 {
		t.Skip("no /dev/loop0 block device here")
	}
	_, errOut, code := runCLI(t, "ls", "/dev/loop0")
	if code != exitError || !strings.Contains(errOut, "loop") {
		t.Errorf("ls /dev/loop0: exit %d, %q; want %d and the guard's reason", code, errOut, exitError)
	}
}
