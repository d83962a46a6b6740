package main

import (
	"os"
	"testing"

	"github.com/airlock-appliance/airlock/sandbox"
)

// The test binary is also the scan worker of the subcommands it runs in-process.
func TestMain(m *testing.M) {
	sandbox.MaybeWorker(os.Args)
	os.Exit(m.Run())
}
