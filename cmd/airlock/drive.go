package main

import (
	"context"
	"fmt"

	"github.com/airlock-appliance/airlock/burner"
)

var driveCommand = command{
	name:    "drive",
	usage:   "status DEV",
	summary: "show an optical drive's disc status",
}

func init() { driveCommand.run = runDrive }

func runDrive(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, driveCommand)
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 || fs.Arg(0) != "status" {
		fmt.Fprintln(e.stderr, "airlock drive: want: status DEV")
		fs.Usage()
		return exitError
	}
	d, err := burner.Open(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock drive: %v\n", err)
		return exitError
	}
	st, err := d.Status(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock drive: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "drive: %s\n%s", d.Name(), st)
	return exitOK
}
