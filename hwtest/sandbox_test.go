//go:build qemu

package hwtest

import (
	"regexp"
	"testing"
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
}
