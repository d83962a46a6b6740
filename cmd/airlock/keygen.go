package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/sealing"
)

var keygenCommand = command{
	name:    "keygen",
	usage:   "--dir DIR [--role appliance|approver|auditor] [--name NAME] [--passphrase-file F]",
	summary: "write a role's keys into DIR",
}

func init() { keygenCommand.run = runKeygen }

func runKeygen(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, keygenCommand)
	dir := fs.String("dir", "", "directory to write the keys into (created if missing)")
	role := fs.String("role", "appliance", "appliance (seal, log and Guix keys), approver (allowlist key) or auditor (cosigning key)")
	name := fs.String("name", "", "key name: the audit log's checkpoint origin for appliance keys (default airlock-ROLE)")
	passFile := fs.String("passphrase-file", "", "encrypt secret keys with the passphrase in this file (minisign scrypt format)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "airlock keygen: --dir is required and no arguments are taken")
		fs.Usage()
		return exitError
	}
	pass, err := readPassphraseFlag(*passFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock keygen: %v\n", err)
		return exitError
	}
	written, err := sealing.GenerateKeys(*dir, sealing.KeygenOptions{
		Role: sealing.Role(*role), Name: *name, Passphrase: pass, Guix: guixKeyGen,
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock keygen: %v\n", err)
		return exitError
	}
	for _, p := range written {
		fmt.Fprintln(e.stdout, p)
	}
	if pass == "" {
		fmt.Fprintf(e.stderr, "airlock keygen: warning: secret keys in %s are NOT encrypted (use --passphrase-file); keep them on the boot medium only\n", *dir)
	} else if sealing.Role(*role) == sealing.RoleAppliance {
		fmt.Fprintf(e.stderr, "airlock keygen: note: %s is not encrypted (Guix reads it as is)\n", sealing.GuixSecFile)
	}
	return exitOK
}

// guixKeyGen makes the appliance's Guix signing key through package guix.
func guixKeyGen(r io.Reader) (sec, pub []byte, err error) {
	k, err := guix.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	if sec, err = k.MarshalText(); err != nil {
		return nil, nil, err
	}
	if pub, err = k.Public().MarshalText(); err != nil {
		return nil, nil, err
	}
	return sec, pub, nil
}

// readPassphraseFlag returns the passphrase in file (its first line), or "" when file is "".
func readPassphraseFlag(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("passphrase: %w", err)
	}
	pass, _, _ := strings.Cut(string(b), "\n")
	pass = strings.TrimRight(pass, "\r")
	if pass == "" {
		return "", fmt.Errorf("passphrase file %s is empty", file)
	}
	return pass, nil
}
