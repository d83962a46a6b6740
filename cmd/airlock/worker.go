package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/airlock-appliance/airlock/sandbox"
)

// The scan worker is this binary re-executed with the hidden first argument sandbox.WorkerArg
// (main calls sandbox.MaybeWorker before anything else); it is no subcommand a user runs.

// noSandboxFlag adds --no-sandbox to a subcommand that reads untrusted bytes.
func noSandboxFlag(fl *flag.FlagSet) *bool {
	return fl.Bool("no-sandbox", false, "parse the medium in this process, unconfined (debugging only)")
}

// sandboxConfig is how the subcommand starts its scan workers.
func sandboxConfig(noSandbox bool, stderr io.Writer, cmd string) *sandbox.Config {
	if noSandbox {
		fmt.Fprintf(stderr, "airlock %s: --no-sandbox: hostile bytes are parsed in this process, unconfined\n", cmd)
	}
	return &sandbox.Config{Disabled: noSandbox}
}
