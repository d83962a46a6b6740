package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func isoTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range map[string]string{
		"bundle/a.nar":                       "nar",
		"bundle/" + strings.Repeat("L", 200): "long",
		"bundle/Ünïcödé.txt":                 "utf8",
		"empty":                              "",
		"d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/x":   "deep",
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestISOReproducibleAcrossTZAndUmask runs the real binary as a child under different time
// zones and umasks: the images must be byte-identical.
func TestISOReproducibleAcrossTZAndUmask(t *testing.T) {
	bin := testenv.Airlock(t)
	src := isoTree(t)
	out := t.TempDir()
	var images [][]byte
	for i, env := range []struct{ tz, umask string }{{"UTC", "022"}, {"Pacific/Chatham", "077"}, {"Asia/Kolkata", "000"}} {
		img := filepath.Join(out, "img"+string(rune('0'+i))+".iso")
		cmd := exec.Command("sh", "-c", `umask "$1"; exec "$2" iso --out "$3" --label Test --epoch 1764072000 "$4"`,
			"sh", env.umask, bin, img, src)
		cmd.Env = append(os.Environ(), "TZ="+env.tz)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("TZ=%s umask %s: %v\n%s", env.tz, env.umask, err, b)
		}
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, b)
	}
	for i := 1; i < len(images); i++ {
		if !bytes.Equal(images[0], images[i]) {
			t.Fatalf("image %d differs from image 0", i)
		}
	}
	// The same bytes on standard output.
	cmd := exec.Command(bin, "iso", "--out", "-", "--label", "Test", "--epoch", "1764072000", src)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), images[0]) {
		t.Fatal("--out - differs from --out FILE")
	}
	// Volume label and date, as isoinfo sees them.
	if _, err := exec.LookPath("isoinfo"); err == nil {
		info, err := exec.Command("isoinfo", "-d", "-i", filepath.Join(out, "img0.iso")).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(info), "Volume id: TEST") {
			t.Errorf("isoinfo -d:\n%s", info)
		}
	}
}

func TestISOCLIErrors(t *testing.T) {
	if _, errOut, code := runCLI(t, "iso", "--out", filepath.Join(t.TempDir(), "x.iso")); code != exitError || !strings.Contains(errOut, "DIR") {
		t.Errorf("no DIR: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "iso", "--out", filepath.Join(t.TempDir(), "x.iso"), "/nonexistent/dir"); code != exitError || !strings.Contains(errOut, "/nonexistent/dir") {
		t.Errorf("missing DIR: exit %d, %q", code, errOut)
	}
	out := filepath.Join(t.TempDir(), "ok.iso")
	if _, errOut, code := runCLI(t, "iso", "--out", out, "--epoch", "0", isoTree(t)); code != exitOK {
		t.Fatalf("iso: exit %d, %q", code, errOut)
	}
	if st, err := os.Stat(out); err != nil || st.Size()%2048 != 0 || st.Size() == 0 {
		t.Errorf("image: %v %v", st, err)
	}
}
