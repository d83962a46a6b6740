package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --worker-deadline and --worker-memory: out of range is refused naming the setting; a deadline
// in range is the worker's (an 8 GiB sparse file is not scanned in 1s: the worker is killed).
func TestWorkerBoundsFlags(t *testing.T) {
	f := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, 8<<30); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "r.yar")
	os.WriteFile(rules, []byte("rule never { condition: false }\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--rules", rules, "--worker-deadline", "10ms", f}, "10ms: sandbox.deadline out of range 1s..48h"},
		{[]string{"ls", "--worker-memory", "1MiB", f}, "1048576 bytes: sandbox.memory out of range 256MiB..1TiB"},
		{[]string{"scan", "--rules", rules, "--worker-memory", "1x", f}, "bad size"},
	} {
		_, stderr, code := runCLI(t, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, exitError, c.want)
		}
	}
	start := time.Now()
	_, stderr, code := runCLI(t, "scan", "--rules", rules, "--worker-deadline", "1s", f)
	if code == exitOK || !strings.Contains(stderr, "scan worker timed out (killed after the 1s deadline, sandbox.deadline)") {
		t.Errorf("scan with a 1s deadline: exit %d, stderr %q", code, stderr)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
}
