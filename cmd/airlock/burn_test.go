package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestBurnStdio(t *testing.T) {
	testenv.Need(t, "xorriso")
	img := filepath.Join(t.TempDir(), "in.iso")
	if _, errOut, code := runCLI(t, "iso", "--out", img, isoTree(t)); code != exitOK {
		t.Fatalf("iso: %d %s", code, errOut)
	}
	disc := filepath.Join(t.TempDir(), "disc.iso")
	out, errOut, code := runCLI(t, "burn", "--drive", "stdio:"+disc, "--speed", "4d", img)
	if code != exitOK || !strings.HasPrefix(out, "PASS ") {
		t.Fatalf("burn: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Not blank any more: refused, operational error.
	if _, errOut, code := runCLI(t, "burn", "--drive", "stdio:"+disc, img); code != exitError || !strings.Contains(errOut, "not blank") {
		t.Errorf("second burn: exit %d, %q", code, errOut)
	}
	// A read-back that does not match the sealed hash is a negative verdict (exit 1).
	b, _ := os.ReadFile(img)
	b[len(b)-1] ^= 1 // the hash of a different image
	other := sha256.Sum256(b)
	disc2 := filepath.Join(t.TempDir(), "disc2.iso")
	_, errOut, code = runCLI(t, "burn", "--drive", "stdio:"+disc2, "--sha256", hex.EncodeToString(other[:]), img)
	if code != exitVerdict || !strings.Contains(errOut, "FAIL") {
		t.Errorf("mismatch: exit %d, %q", code, errOut)
	}
}

func TestBurnUsage(t *testing.T) {
	if _, _, code := runCLI(t, "burn", "x.iso"); code != exitError {
		t.Errorf("no --drive: exit %d", code)
	}
	if _, errOut, code := runCLI(t, "burn", "--drive", "sr0", "x.iso"); code != exitError || errOut == "" {
		t.Errorf("bad drive: exit %d %q", code, errOut)
	}
}
