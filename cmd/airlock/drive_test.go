package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestDriveStatusStdio(t *testing.T) {
	testenv.Need(t, "xorriso")
	out, errOut, code := runCLI(t, "drive", "status", "stdio:"+filepath.Join(t.TempDir(), "blank.iso"))
	if code != exitOK || !strings.Contains(out, "state: blank") || !strings.Contains(out, "media: stdio file") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, _, code := runCLI(t, "drive", "frob"); code != exitError {
		t.Errorf("bad subcommand: exit %d", code)
	}
	if _, errOut, code := runCLI(t, "drive", "status", "/dev/airlock-no-such-drive"); code != exitError || !strings.Contains(errOut, "airlock-no-such-drive") {
		t.Errorf("missing device: exit %d %q", code, errOut)
	}
}
