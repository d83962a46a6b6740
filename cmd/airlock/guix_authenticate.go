package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/guix/channel"
)

// guixAuthenticateCommand is `airlock guix authenticate`, shaped like `guix git authenticate`.
var guixAuthenticateCommand = command{
	name:    "guix authenticate",
	usage:   "--commit C --signer FPR [--keyring REF] [--end REF] [--last C] [--strict] [--state LOGDIR] BUNDLE|--repository DIR",
	summary: "authenticate a Guix channel bundle or git directory as `guix git authenticate` 1.5 does, forward only (exit 0 authentic, 1 refused, 2 error)",
}

func init() { guixAuthenticateCommand.run = runGuixAuthenticate }

// stateFile is the small per-channel state that --state reads until the audit log carries it:
// LOGDIR/channel-<introduction>.last holds the last authenticated commit.
func stateFile(dir string, intro channel.OID) string {
	return filepath.Join(dir, "channel-"+intro.String()+".last")
}

func runGuixAuthenticate(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, guixAuthenticateCommand)
	commit := fs.String("commit", "", "introduction commit")
	signer := fs.String("signer", "", "OpenPGP fingerprint of the introduction's signer")
	keyring := fs.String("keyring", "keyring", "keyring branch")
	end := fs.String("end", "", "target ref or commit (default HEAD, or the bundle's only non-keyring ref)")
	last := fs.String("last", "", "last commit authenticated for this channel: the target must descend from it")
	state := fs.String("state", "", "directory holding the last authenticated commit per channel (read, and written on success)")
	repo := fs.String("repository", "", "authenticate this git directory instead of a bundle")
	strict := fs.Bool("strict", false, "also refuse revoked keys and expired keys (Guix checks neither)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock guix authenticate: "+format+"\n", a...)
		return exitError
	}
	if (*repo == "") == (fs.NArg() != 1) || (*repo != "" && fs.NArg() != 0) {
		return fail("give one BUNDLE or --repository DIR")
	}
	var p channel.Policy
	var err error
	if p.Introduction, err = channel.ParseOID(*commit); err != nil {
		return fail("--commit: %v", err)
	}
	fpr, err := hex.DecodeString(strings.Map(func(r rune) rune {
		if r == ' ' || r == ':' {
			return -1
		}
		return r
	}, *signer))
	if err != nil || len(fpr) != 20 {
		return fail("--signer %q: want a 40-digit OpenPGP fingerprint", *signer)
	}
	p.Signer = [20]byte(fpr)
	p.Keyring, p.End, p.Strict = *keyring, *end, *strict
	if *last != "" {
		o, err := channel.ParseOID(*last)
		if err != nil {
			return fail("--last: %v", err)
		}
		p.LastAuthenticated = &o
	}
	if *state != "" && p.LastAuthenticated == nil {
		b, err := os.ReadFile(stateFile(*state, p.Introduction))
		switch {
		case err == nil:
			o, err := channel.ParseOID(strings.TrimSpace(string(b)))
			if err != nil {
				return fail("state: %v", err)
			}
			p.LastAuthenticated = &o
		case !errors.Is(err, os.ErrNotExist):
			return fail("state: %v", err)
		}
	}
	var src *channel.Source
	if *repo != "" {
		src, err = channel.OpenRepository(*repo, p)
	} else {
		name := fs.Arg(0)
		f, ferr := os.Open(name)
		if ferr != nil {
			return fail("%v", ferr)
		}
		defer f.Close()
		st, ferr := f.Stat()
		if ferr != nil {
			return fail("%v", ferr)
		}
		src, err = channel.OpenBundle(name, f, st.Size(), p)
	}
	if err != nil {
		return fail("%v", err)
	}
	defer src.Close()
	res, err := src.Authenticate(ctx, p)
	var refused *channel.RefusedError
	if errors.As(err, &refused) {
		fmt.Fprintf(e.stdout, "refused %s %s: %s\n", refused.Commit, refused.Rule, refused.Msg)
		return exitVerdict
	}
	if err != nil {
		return fail("%v", err)
	}
	if *state != "" {
		if err := os.WriteFile(stateFile(*state, p.Introduction), []byte(res.Target.String()+"\n"), 0o600); err != nil {
			return fail("state: %v", err)
		}
	}
	fmt.Fprintf(e.stdout, "authentic %s tree %s signer %s commits %d keyring %s\n", res.Target, res.Tree, hex.EncodeToString(res.TargetSigner[:]), res.Authenticated, res.Keyring)
	return exitOK
}
