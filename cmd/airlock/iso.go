package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/airlock-appliance/airlock/burner"
)

var isoCommand = command{
	name:    "iso",
	usage:   "--out IMAGE|- [--label L] [--epoch UNIX] DIR",
	summary: "build a deterministic ISO9660 + Rock Ridge image",
}

func init() { isoCommand.run = runISO }

func runISO(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, isoCommand)
	out := fs.String("out", "", "image file to write, or - for standard output")
	label := fs.String("label", "AIRLOCK", "volume label (upper-cased, d-characters, at most 32)")
	epoch := fs.Int64("epoch", 0, "the image's one time stamp, in Unix seconds (default: 0, or $SOURCE_DATE_EPOCH)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *out == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock iso: need --out IMAGE|- and exactly one DIR")
		fs.Usage()
		return exitError
	}
	ep := *epoch
	if !isoFlagGiven(fs, "epoch") {
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			if _, err := fmt.Sscan(s, &ep); err != nil {
				fmt.Fprintf(e.stderr, "airlock iso: SOURCE_DATE_EPOCH %q: %v\n", s, err)
				return exitError
			}
		}
	}
	dir := fs.Arg(0)
	layout, err := burner.FromDir(dir, burner.Options{Label: *label, Epoch: time.Unix(ep, 0)})
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock iso: %s: %v\n", dir, err)
		return exitError
	}
	if *out == "-" {
		if _, err := layout.Write(ctx, e.stdout); err != nil {
			fmt.Fprintf(e.stderr, "airlock iso: write to stdout: %v\n", err)
			return exitError
		}
		return exitOK
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock iso: %v\n", err)
		return exitError
	}
	_, err = layout.Write(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		fmt.Fprintf(e.stderr, "airlock iso: %s: %v\n", *out, err)
		return exitError
	}
	fmt.Fprintf(e.stderr, "airlock iso: %s: %d bytes, label %s\n", *out, layout.Size(), layout.Label())
	return exitOK
}

// isoFlagGiven reports whether the flag name was set on the command line.
func isoFlagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
