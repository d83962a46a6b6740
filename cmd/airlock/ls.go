package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/media"
)

var lsCommand = command{
	name:    "ls",
	usage:   "[--hash] [--json] [--allow-loop] DEVICE|IMAGE",
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
		errors.Is(err, media.ErrNoFilesystem) || errors.Is(err, media.ErrRefused)
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
	asJSON := fset.Bool("json", false, "print a JSON array")
	allowLoop := fset.Bool("allow-loop", false, "admit loop devices (test mode)")
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
		fmt.Fprintf(e.stderr, "airlock ls: %v\n", err)
		if mediumRefused(err) {
			return exitVerdict
		}
		return exitError
	}
	m, err := media.Open(ctx, dev)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock ls: %v\n", err)
		if mediumRefused(err) {
			return exitVerdict
		}
		return exitError
	}
	defer m.Close()
	var list []lsEntry
	err = fs.WalkDir(m, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		ent := lsEntry{Path: p, Size: info.Size()}
		if *hash {
			f, err := m.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			ent.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		if *asJSON {
			list = append(list, ent)
		} else if *hash {
			fmt.Fprintf(e.stdout, "%s\t%d\t%s\n", ent.Path, ent.Size, ent.SHA256)
		} else {
			fmt.Fprintf(e.stdout, "%s\t%d\n", ent.Path, ent.Size)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock ls: %s: %v\n", dev, err)
		return exitError
	}
	if *asJSON {
		if list == nil {
			list = []lsEntry{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return exitError
		}
	}
	return exitOK
}
