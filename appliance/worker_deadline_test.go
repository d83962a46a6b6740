package appliance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/policy"
)

// The policy's sandbox.deadline is the station's worker deadline: with the smallest one allowed
// (1s) and a worker that never finishes, the import FAILs naming the deadline, the audit log
// records it, and the station is READY again.
func TestStationWorkerDeadline(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	hang := filepath.Join(dir, "hanging-worker")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "stick.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)

	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = []string{"import"}
	pol.Import.SpoolDir = t.TempDir()
	pol.Sandbox.Deadline = policy.MinWorkerDeadline
	if err := pol.Sandbox.Check(); err != nil {
		t.Fatal(err)
	}
	im := newTestImporter(t)
	im.Sandbox = sandboxConfig(&pol, false) // as Wire builds it
	if im.Sandbox.Timeout != time.Second || im.Sandbox.Memory != 16<<30 {
		t.Fatalf("the station's worker config ignores [sandbox]: %+v", im.Sandbox)
	}
	im.Sandbox.Executable = hang

	out, in, log := &buf{}, make(chan string), &fakeLog{}
	devs := &fakeDevices{ch: make(chan DeviceEvent)}
	st := New(Config{Policy: &pol, View: console.NewLineView(out, false), LEDs: &fakeLEDs{}},
		Parts{Devices: devs, Importer: im, Sealer: fakeSealer{}, Log: log, Burner: &fakeBurner{}, Wiper: fakeWiper{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, in) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("station did not stop")
		}
	}()
	r := &rig{t: t, out: out, in: in}
	r.wait("airlock: state READY")
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
