//go:build qemu

package hwtest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/hwtest/vm"
)

// TestQEMUSandboxConfined: on the appliance's own kernel, the station's start-up check of the scan
// worker (sandbox.Config.Check) reports every layer: uid 65534, Landlock, seccomp, no
// capabilities, new user/net/ipc/mount namespaces. The station refuses to start when the worker
// cannot run, so READY alone would say little.
func TestQEMUSandboxConfined(t *testing.T) {
	s := bootStation(t)
	re := regexp.MustCompile(`(?m)airlock: info scan worker pid [0-9]+ uid 65534: Landlock ABI [1-9][0-9]*, seccomp true, no capabilities, user\+net\+ipc\+mount namespaces$`)
	if !re.MatchString(s.Transcript()) {
		t.Fatalf("no full confinement line before READY:\n%s", s.Transcript())
	}
	// And a stick is read, scanned and approved inside that sandbox on this kernel.
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: demoStick(t), Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no", "insert-disc": ""})
	if !passRE.MatchString(end) {
		t.Fatalf("import in the sandboxed worker ended with %q; lines:\n%s", end, strings.Join(lines, "\n"))
	}
}
