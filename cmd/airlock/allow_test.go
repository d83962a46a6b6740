package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/sealing"
)

func TestAllowCLI(t *testing.T) {
	keys := keysFor(t, "approver")
	dir := t.TempDir()
	files := map[string]string{"b.tar": "bbb", "a file.tar.gz": "a", "c.nar": ""}
	for n, c := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644)
	}
	list := filepath.Join(dir, "ALLOWLIST")
	key := filepath.Join(keys, "approver.key")
	if out, errOut, code := runCLI(t, "allow", "--key", key, "--out", list, filepath.Join(dir, "b.tar")); code != exitOK || !strings.Contains(out, "1 entries") {
		t.Fatalf("allow: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, "allow", "--key", key, "--out", list, filepath.Join(dir, "a file.tar.gz"), filepath.Join(dir, "c.nar")); code != exitOK || !strings.Contains(out, "3 entries") {
		t.Fatalf("allow again: exit %d %q %q", code, out, errOut)
	}
	text, _ := os.ReadFile(list)
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "  1  a file.tar.gz") || !strings.HasSuffix(lines[1], "  3  b.tar") || !strings.HasSuffix(lines[2], "  0  c.nar") {
		t.Fatalf("allowlist:\n%s", text)
	}
	pub, _ := sealing.LoadPublicKey(filepath.Join(keys, "approver.pub"))
	a, err := sealing.LoadAllowlist(list, pub)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := a.Lookup(sha256.Sum256([]byte("bbb")), 3); !ok || n != "b.tar" {
		t.Errorf("lookup b.tar: %q %v", n, ok)
	}
	if out, ok := stockMinisignVerify(t, list, list+".minisig", filepath.Join(keys, "approver.pub")); !ok {
		t.Fatalf("minisign -V: %s", out)
	}
	// A tampered list is not extended (nor re-signed).
	os.WriteFile(list, []byte(strings.Replace(string(text), "  0  c.nar", "  0  d.nar", 1)), 0o644)
	if _, errOut, code := runCLI(t, "allow", "--key", key, "--out", list, filepath.Join(dir, "b.tar")); code != exitError || !strings.Contains(errOut, "existing allowlist") || !strings.Contains(errOut, "signature does not match") {
		t.Errorf("tampered list: exit %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "allow", "--key", key, "--out", list); code != exitError || !strings.Contains(errOut, "at least one FILE") {
		t.Errorf("no files: exit %d %q", code, errOut)
	}
}

// TestAllowRefusesOtherRoles: allow signs with approver keys only and names the role of any
// other key it is given (issue 18).
func TestAllowRefusesOtherRoles(t *testing.T) {
	app := keysFor(t, "appliance")
	aud := keysFor(t, "auditor")
	dir := t.TempDir()
	f := filepath.Join(dir, "a.tar")
	os.WriteFile(f, []byte("a"), 0o644)
	stock := filepath.Join(dir, "stock.key")
	os.WriteFile(stock, []byte("untrusted comment: minisign encrypted secret key\nRWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"), 0o600)
	for _, c := range []struct{ key, want string }{
		{filepath.Join(app, "seal.key"), "is an appliance key (seal.key), not an approver key"},
		{filepath.Join(app, "log.key"), "is an appliance key (log.key), not an approver key"},
		{filepath.Join(aud, "auditor.key"), "is an auditor key (auditor.key), not an approver key"},
		{stock, "is a minisign key without an airlock role marker, not an approver key"},
	} {
		list := filepath.Join(dir, "ALLOWLIST")
		_, errOut, code := runCLI(t, "allow", "--key", c.key, "--out", list, f)
		if code != exitError || !strings.Contains(errOut, c.want) {
			t.Errorf("allow --key %s: exit %d %q, want %q", c.key, code, errOut, c.want)
		}
		if _, err := os.Stat(list); err == nil {
			t.Errorf("allow --key %s wrote the allowlist", c.key)
		}
	}
}
