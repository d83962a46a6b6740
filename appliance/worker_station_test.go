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
	"github.com/airlock-appliance/airlock/sandbox"
)

// workerStation runs an import-only station whose importer starts script as its scan worker,
// and makes a 1 MiB stick image for it. It returns the rig (READY already seen), the devices
// to plug the image into, the audit log and the image's path; the station stops with the test.
func workerStation(t *testing.T, script string, configure func(*policy.Policy, *ScanImporter)) (*rig, *fakeDevices, *fakeLog, string) {
	t.Helper()
	dir := t.TempDir()
	// The worker runs as uid 65534: it must be able to reach and execute the script.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	worker := filepath.Join(dir, "worker")
	if err := os.WriteFile(worker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "stick.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)

	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = []string{"import"}
	pol.Import.SpoolDir = t.TempDir()
	im := newTestImporter(t)
	im.Sandbox = &sandbox.Config{}
	if configure != nil {
		configure(&pol, im)
	}
	im.Sandbox.Executable = worker

	out, in, log := &buf{}, make(chan string), &fakeLog{}
	devs := &fakeDevices{ch: make(chan DeviceEvent)}
	st := New(Config{Policy: &pol, View: console.NewLineView(out, false), LEDs: &fakeLEDs{}},
		Parts{Devices: devs, Importer: im, Sealer: fakeSealer{}, Log: log, Burner: &fakeBurner{}, Wiper: fakeWiper{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, in) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("station did not stop")
		}
	})
	r := &rig{t: t, out: out, in: in}
	r.wait("airlock: state READY")
	return r, devs, log, img
}

// A scan worker that dies (here: a "worker" that kills itself with SIGSEGV at once) fails the
// import with the reason on the console and in the audit log, and the station stays up and
// takes the next stick.
func TestStationWorkerCrash(t *testing.T) {
	r, devs, log, img := workerStation(t, "#!/bin/sh\nkill -SEGV $$\n", nil)
	for i := 1; i <= 2; i++ {
		devs.ch <- stick(img)
		r.answer("operator", "alice")
		r.waitN("airlock: FAIL reading "+img+": scan worker killed by SIGSEGV", i)
		r.waitN("airlock: state READY", i+1)
		ev := stick(img)
		ev.Kind = DeviceRemoved
		devs.ch <- ev
	}
	if got := log.types(); got != "insert,fail,insert,fail" {
		t.Errorf("audit records: %s", got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if reason := fmt.Sprint(log.recs[1].Fields["reason"]); !strings.Contains(reason, "scan worker killed by SIGSEGV") {
		t.Errorf("audit fail reason %q", reason)
	}
}
