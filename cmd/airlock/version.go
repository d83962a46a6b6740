package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/airlock-appliance/airlock/scanner"
)

var versionCommand = command{
	name:    "version",
	usage:   "",
	summary: "print the module version, VCS revision, Go version and libyara version",
}

// yaraVersion reports the linked libyara's version; the scanner wiring sets it.
var yaraVersion = scanner.YaraVersion

func init() { versionCommand.run = runVersion }

func runVersion(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, versionCommand)
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	mod, rev, modified := "(devel)", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		mod = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+dirty"
				}
			}
		}
	}
	fmt.Fprintf(e.stdout, "airlock %s\nrevision %s%s\ngo %s %s/%s\nlibyara %s\n",
		mod, rev, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH, yaraVersion())
	return exitOK
}
