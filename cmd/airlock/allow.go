package main

import (
	"context"
	"fmt"

	"github.com/airlock-appliance/airlock/sealing"
)

var allowCommand = command{
	name:    "allow",
	usage:   "--key APPROVER_KEY --out ALLOWLIST FILE...",
	summary: "add files to an approver-signed hash allowlist",
}

func init() { allowCommand.run = runAllow }

func runAllow(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, allowCommand)
	keyPath := fs.String("key", "", "approver secret key (approver.key)")
	out := fs.String("out", "", "allowlist to create or extend; its signature goes to ALLOWLIST.minisig")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted key")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *keyPath == "" || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock allow: --key, --out and at least one FILE are required")
		fs.Usage()
		return exitError
	}
	pass, err := readPassphraseFlag(*passFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock allow: %v\n", err)
		return exitError
	}
	// Only an approver may sign the allowlist: the seal key's signature would make the station
	// trust whatever the appliance itself is told, and an auditor's key is not a minisign key.
	info, err := sealing.LoadKeyInfo(*keyPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock allow: --key %v\n", err)
		return exitError
	}
	if info.Role != sealing.RoleApprover {
		fmt.Fprintf(e.stderr, "airlock allow: --key %s is %s, not an approver key: allowlists are signed with approver.key (airlock keygen --role approver)\n", *keyPath, info)
		return exitError
	}
	key, err := sealing.LoadSealKey(*keyPath, pass)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock allow: key: %v\n", err)
		return exitError
	}
	a, err := sealing.AllowFiles(ctx, *out, key, fs.Args())
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock allow: %s: %v\n", *out, err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "%s: %d entries, signed by %s (%s.minisig)\n", *out, a.Len(), key.Public(), *out)
	return exitOK
}
