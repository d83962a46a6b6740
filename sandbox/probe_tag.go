//go:build airlock_probe

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/sandbox/internal/wire"
	"github.com/airlock-appliance/airlock/scanner"
)

// This file exists only in builds with the airlock_probe tag: the probe binary the QEMU test
// adds to its copy of the boot image (sandbox/internal/probecmd). The production image's airlock
// is built without the tag, so its worker has no probe mode at all.

func init() {
	if faultHook == nil { // the package's own tests install a superset
		faultHook = probeHook
	}
}

func probeHook(fault string, w *wire.Writer, j *job) bool {
	name, arg, _ := strings.Cut(fault, ":")
	switch name {
	case "probe", "unconfined-probe":
		var t probeTargets
		if err := json.Unmarshal([]byte(arg), &t); err != nil {
			return false
		}
		runProbe(t, name == "unconfined-probe", w, j)
		return true
	case "oom":
		w.Send(wire.THello, wire.Hello{PID: os.Getpid(), UID: os.Getuid()})
		w.Flush()
		probeAllocate()
	}
	return false
}

// ProbeTargets are the files a probe tries to read and to write (each must fail inside the
// sandbox), and a file name it creates in the spool (which must work).
type ProbeTargets struct {
	Read, Write []string
	Spool       string
}

// Probe runs the probe in a worker started exactly as c starts a scan worker, and returns
// whether each attempt succeeded. unconfined runs the control: same uid, namespaces and
// descriptors, no confinement, only the file attempts.
func (c *Config) Probe(ctx context.Context, t ProbeTargets, unconfined bool) (map[string]bool, Confinement, error) {
	arg, err := json.Marshal(probeTargets(t))
	if err != nil {
		return nil, Confinement{}, err
	}
	name := "probe"
	if unconfined {
		name = "unconfined-probe"
	}
	st, conf, err := c.probeRun(ctx, name+":"+string(arg))
	if err != nil {
		return nil, conf, err
	}
	got := map[string]bool{}
	for _, e := range st.Entries {
		got[strings.TrimPrefix(e.Path, "probe/")] = e.Size == 1
	}
	return got, conf, nil
}

// ProbeAllocate runs a confined worker that allocates memory until the address-space limit
// (c.Memory) kills it, and returns the worker's error (nil would mean the limit did not hold).
func (c *Config) ProbeAllocate(ctx context.Context) error {
	_, _, err := c.probeRun(ctx, "oom")
	return err
}

func (c *Config) probeRun(ctx context.Context, fault string) (*wire.Stream, Confinement, error) {
	rules, err := scanner.CompileString("probe", "rule never { condition: false }")
	if err != nil {
		return nil, Confinement{}, err
	}
	defer rules.Destroy()
	src, err := os.MkdirTemp(c.TempDir, "airlock-probe-src-")
	if err != nil {
		return nil, Confinement{}, err
	}
	defer os.RemoveAll(src)
	os.Chmod(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		return nil, Confinement{}, err
	}
	spool, err := os.MkdirTemp(c.TempDir, "airlock-probe-spool-")
	if err != nil {
		return nil, Confinement{}, err
	}
	defer os.RemoveAll(spool)
	cc := *c
	cc.fault = fault
	st, conf, err := cc.run(ctx, &workerConfig{Mode: modeScan}, Source{Path: src, Kind: Dir}, rules, spool, nil)
	if err != nil {
		return nil, conf, fmt.Errorf("probe %s: %w", strings.SplitN(fault, ":", 2)[0], err)
	}
	return st, conf, nil
}
