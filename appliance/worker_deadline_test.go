package appliance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/appliance/policy"
)

// The policy's sandbox.deadline is the station's worker deadline: with the smallest one allowed
// (1s) and a worker that never finishes, the import FAILs naming the deadline, the audit log
// records it, and the station is READY again.
func TestStationWorkerDeadline(t *testing.T) {
	r, devs, log, img := workerStation(t, "#!/bin/sh\nexec sleep 600\n", func(pol *policy.Policy, im *ScanImporter) {
		pol.Sandbox.Deadline = policy.MinWorkerDeadline
		if err := pol.Sandbox.Check(); err != nil {
			t.Fatal(err)
		}
		im.Sandbox = sandboxConfig(pol, false) // as Wire builds it
		if im.Sandbox.Timeout != time.Second || im.Sandbox.Memory != 16<<30 {
			t.Fatalf("the station's worker config ignores [sandbox]: %+v", im.Sandbox)
		}
	})
	start := time.Now()
	devs.ch <- stick(img)
	r.answer("operator", "alice")
	const want = "scan worker timed out (killed after the 1s deadline, sandbox.deadline)"
	r.wait("airlock: FAIL reading " + img + ": " + want)
	r.waitN("airlock: state READY", 2)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the 1s deadline took %v to FAIL", d)
	}
	if got := log.types(); got != "insert,fail" {
		t.Errorf("audit records: %s", got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if reason := fmt.Sprint(log.recs[1].Fields["reason"]); !strings.Contains(reason, want) {
		t.Errorf("audit fail reason %q", reason)
	}
}
