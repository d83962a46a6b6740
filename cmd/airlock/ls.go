package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sandbox"
)

var lsCommand = command{
	name:    "ls",
	usage:   "[--hash] [--json] [--allow-loop] [--no-sandbox] [--worker-deadline D] [--worker-memory SIZE] DEVICE|IMAGE",
	summary: "list the files of a stick or image, read in userspace without mounting",
}

func init() { lsCommand.run = runLs }

// lsEntry is one file in `airlock ls --json`.
type lsEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// mediumRefused reports whether err is the medium's content being refused (a negative verdict,
// exit 1) rather than an operational failure.
func mediumRefused(err error) bool {
	return errors.Is(err, media.ErrCorrupt) || errors.Is(err, media.ErrUnsupported) ||
		errors.Is(err, media.ErrNoFilesystem) || errors.Is(err, media.ErrRefused) || errors.Is(err, sandbox.ErrRefused)
}

// guardBlock applies the device guard when path is a block device; images pass.
func guardBlock(path string, allowLoop bool) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeDevice == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	id, err := media.Identify("/sys", filepath.Base(real))
	if err != nil {
		return err
	}
	return (&media.Guard{AllowLoop: allowLoop, AllowOptical: true}).Check(id)
}

func runLs(ctx context.Context, e *env, args []string) int {
	fset := newFlags(e, lsCommand)
	hash := fset.Bool("hash", false, "print the SHA-256 of every file")
	asJSON := fset.Bool("json", false, "print JSON Lines: one object per file")
	allowLoop := fset.Bool("allow-loop", false, "admit loop devices (test mode)")
	wf := addWorkerFlags(fset)
	if ok, code := parse(e, fset, args); !ok {
		return code
	}
	if fset.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock ls: need exactly one DEVICE or IMAGE")
		fset.Usage()
		return exitError
	}
	dev := fset.Arg(0)
	if err := guardBlock(dev, *allowLoop); err != nil {
		// The guard refusing a device (a loop device without --allow-loop, the boot disk) is
		// a set-up error, not a verdict on the medium's content: exit 2.
		fmt.Fprintf(e.stderr, "airlock ls: %v\n", err)
		return exitError
	}
	sb, err := wf.config(e.stderr, "ls")
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock ls: %v\n", err)
		return exitError
	}
	// The medium is parsed in a scan worker (package sandbox), never in this process.
	ents, _, err := sb.List(ctx, sandbox.Source{Path: dev, Kind: sandbox.Medium}, *hash)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock ls: %v\n", err)
		if mediumRefused(err) {
			return exitVerdict
		}
		return exitError
	}
	var list []lsEntry
	for _, en := range ents {
		ent := lsEntry{Path: en.Path, Size: en.Size, SHA256: en.SHA256}
		if *asJSON {
			list = append(list, ent)
		} else if *hash {
			fmt.Fprintf(e.stdout, "%s\t%d\t%s\n", ent.Path, ent.Size, ent.SHA256)
		} else {
			fmt.Fprintf(e.stdout, "%s\t%d\n", ent.Path, ent.Size)
		}
	}
	if *asJSON {
		if err := writeJSONLines(e.stdout, list); err != nil {
			return exitError
		}
	}
	return exitOK
}
