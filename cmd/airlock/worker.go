package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/sandbox"
)

// The scan worker is this binary re-executed with the hidden first argument sandbox.WorkerArg
// (main calls sandbox.MaybeWorker before anything else); it is no subcommand a user runs.

// noSandboxFlag adds --no-sandbox to a subcommand that reads untrusted bytes.
func noSandboxFlag(fl *flag.FlagSet) *bool {
	return fl.Bool("no-sandbox", false, "parse the medium in this process, unconfined (debugging only)")
}

// workerFlags are a scanning subcommand's --no-sandbox and the worker's bounds, the same
// settings (and ranges) as the policy's [sandbox] section.
type workerFlags struct {
	noSandbox *bool
	bounds    policy.Sandbox
}

func addWorkerFlags(fl *flag.FlagSet) *workerFlags {
	w := &workerFlags{noSandbox: noSandboxFlag(fl), bounds: policy.Default().Sandbox}
	fl.Var((*durationFlag)(&w.bounds.Deadline), "worker-deadline", "wall-clock deadline of the scan worker, 1s..48h (policy sandbox.deadline)")
	fl.Var((*sizeFlag)(&w.bounds.Memory), "worker-memory", "address-space limit of the scan worker, 256MiB..1TiB (policy sandbox.memory)")
	return w
}

type durationFlag policy.Duration

func (d *durationFlag) String() string     { return time.Duration(*d).String() }
func (d *durationFlag) Set(s string) error { return (*policy.Duration)(d).UnmarshalText([]byte(s)) }

type sizeFlag policy.Size

func (s *sizeFlag) String() string { return fmt.Sprint(int64(*s)) }
func (s *sizeFlag) Set(v string) error {
	n, err := policy.ParseSize(v)
	*s = sizeFlag(n)
	return err
}

// config is how the subcommand starts its scan workers; bounds out of range are an error
// naming the setting (policy.ErrWorkerDeadline, policy.ErrWorkerMemory).
func (w *workerFlags) config(stderr io.Writer, cmd string) (*sandbox.Config, error) {
	if err := w.bounds.Check(); err != nil {
		return nil, err
	}
	if *w.noSandbox {
		fmt.Fprintf(stderr, "airlock %s: --no-sandbox: hostile bytes are parsed in this process, unconfined\n", cmd)
	}
	return &sandbox.Config{Disabled: *w.noSandbox, Timeout: time.Duration(w.bounds.Deadline), Memory: int64(w.bounds.Memory)}, nil
}
