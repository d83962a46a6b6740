//go:build airlock_probe

// Command probecmd is the sandbox probe for the boot image: the QEMU test builds it (static,
// with the airlock_probe tag) and adds it to its own copy of the initramfs only; the production
// image never contains it. Run as root on the appliance's kernel, it starts workers exactly as
// the station does (it is its own worker, as airlock is) and prints one line per attempt:
//
//	probe: target readN|writeN PATH
//	probe: control|confined NAME ok|denied
//	probe: allocate ERROR
//	probe: confinement TEXT
//	probe: done
//
// The control run (same uid, namespaces and descriptors, no confinement) shows which targets
// are reachable without the sandbox.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/airlock-appliance/airlock/sandbox"
)

func main() {
	sandbox.MaybeWorker(os.Args)
	if err := probe(); err != nil {
		fmt.Println("probe: error", err)
		os.Exit(1)
	}
	fmt.Println("probe: done")
}

func probe() error {
	ctx := context.Background()
	// Files the worker's uid could read and write without the sandbox, next to the appliance's
	// real policy and keys.
	base := filepath.Join(os.TempDir(), "airlock-probe")
	keys, out := filepath.Join(base, "keys"), filepath.Join(base, "out")
	for _, d := range []string{keys, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	os.Chmod(base, 0o755)
	os.Chmod(os.TempDir(), 0o1777)
	os.Chmod(out, 0o777)
	t := sandbox.ProbeTargets{Spool: "probe-ok"}
	for _, f := range []string{"seal.key", "log.key", "policy.toml"} {
		p := filepath.Join(keys, f)
		if err := os.WriteFile(p, []byte("secret"), 0o644); err != nil {
			return err
		}
		t.Read = append(t.Read, p)
	}
	t.Read = append(t.Read, "/etc/airlock/policy.toml", "/etc/airlock/keys/seal.key", "/etc/airlock/keys/log.key",
		"/etc/airlock/keys/guix-signing-key.sec", "/etc/passwd", "/proc/1/environ")
	t.Write = []string{filepath.Join(out, "escaped"), "/etc/airlock/escaped", filepath.Join(os.TempDir(), "airlock-probe-escaped")}
	for i, p := range t.Read {
		fmt.Printf("probe: target read%d %s\n", i, p)
	}
	for i, p := range t.Write {
		fmt.Printf("probe: target write%d %s\n", i, p)
	}
	var c sandbox.Config
	for _, run := range []struct {
		name       string
		unconfined bool
	}{{"control", true}, {"confined", false}} {
		got, conf, err := c.Probe(ctx, t, run.unconfined)
		if err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		if !run.unconfined {
			fmt.Println("probe: confinement", conf)
		}
		var names []string
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := "denied"
			if got[n] {
				v = "ok"
			}
			fmt.Printf("probe: %s %s %s\n", run.name, n, v)
		}
		for _, p := range t.Write {
			os.Remove(p)
		}
	}
	// Past the address-space limit the worker dies.
	m := sandbox.Config{Memory: 384 << 20}
	fmt.Println("probe: allocate", m.ProbeAllocate(ctx))
	return nil
}
