package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// maxACLSize bounds an ACL file read by `airlock guix acl` (a few hundred bytes per key).
const maxACLSize = 1 << 20

// runGuixACL edits a Guix ACL (the format of /etc/guix/acl) so that nobody writes one by hand:
// add authorizes keys as `guix archive --authorize` does, remove takes them out, list shows them.
func runGuixACL(ctx context.Context, e *env, args []string) int {
	c := guixSub("acl")
	flags := newFlags(e, c)
	aclPath := flags.String("acl", "", "the ACL file (created by add when missing)")
	if ok, code := parse(e, flags, args); !ok {
		return code
	}
	if *aclPath == "" || flags.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock guix acl: --acl and a subcommand (add, list, remove) are required")
		flags.Usage()
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock guix acl: %s\n", fmt.Sprintf(format, a...))
		return exitError
	}
	sub, keyFiles := flags.Arg(0), flags.Args()[1:]
	acl, err := loadACL(*aclPath, sub == "add")
	if err != nil {
		return fail("%s", flagFileError("acl", *aclPath, err))
	}
	switch sub {
	case "list":
		if len(keyFiles) != 0 {
			return fail("list takes no key files")
		}
		for _, k := range acl.Keys() {
			fmt.Fprintf(e.stdout, "ed25519 %s\n", hex.EncodeToString(k.Bytes()))
		}
		if n := acl.OtherKeys(); n > 0 {
			fmt.Fprintf(e.stdout, "(%d authorized key(s) of another kind, which Guix does not sign with)\n", n)
		}
		return exitOK
	case "add", "remove":
		if len(keyFiles) == 0 {
			return fail("%s needs at least one Guix public key file (signing-key.pub)", sub)
		}
		for _, p := range keyFiles {
			b, err := readlimit.File(p, maxACLSize)
			if err != nil {
				return fail("%v", err)
			}
			k, err := guix.ParsePublicKey(b)
			if err != nil {
				return fail("%s: %v", p, err)
			}
			changed := false
			if sub == "add" {
				changed = acl.Authorize(k)
			} else {
				changed = acl.Deauthorize(k)
			}
			state := map[string]map[bool]string{"add": {true: "authorized", false: "already authorized"},
				"remove": {true: "removed", false: "was not authorized"}}[sub][changed]
			fmt.Fprintf(e.stderr, "%s: ed25519 %s %s\n", p, hex.EncodeToString(k.Bytes()), state)
		}
		text, err := acl.MarshalText()
		if err != nil {
			return fail("%v", err)
		}
		if err := writeFileAtomic(*aclPath, text, 0o644); err != nil {
			return fail("%s", flagFileError("acl", *aclPath, err))
		}
		fmt.Fprintf(e.stdout, "%s: %d key(s) authorized\n", *aclPath, acl.Len())
		return exitOK
	}
	return fail("unknown acl subcommand %q (add, list, remove)", sub)
}

// loadACL reads the ACL at path; a missing file is an empty ACL when missingOK.
func loadACL(path string, missingOK bool) (*guix.ACL, error) {
	b, err := readlimit.File(path, maxACLSize)
	if missingOK && errors.Is(err, fs.ErrNotExist) {
		return guix.NewACL(), nil
	}
	if err != nil {
		return nil, err
	}
	return guix.ParseACL(b)
}

// writeFileAtomic replaces path with b: a temporary file beside it, synced, then renamed.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
