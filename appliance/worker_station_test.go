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

// A scan worker that dies (here: a "worker" that kills itself with SIGSEGV at once) fails the
// import with the reason on the console and in the audit log, and the station stays up and
// takes the next stick.
func TestStationWorkerCrash(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	crash := filepath.Join(dir, "crashing-worker")
	if err := os.WriteFile(crash, []byte("#!/bin/sh\nkill -SEGV $$\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "stick.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	im := newTestImporter(t)
	im.Sandbox = &sandbox.Config{Executable: crash}

	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = []string{"import"}
	pol.Import.SpoolDir = t.TempDir()
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
