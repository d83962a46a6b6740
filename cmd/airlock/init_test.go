package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

// TestInitSite lays out a demo site and checks what each consumer reads: the policy loads as
// written (every file it names exists), the Guix ACL is the one `airlock guix acl add` writes,
// every key carries its role, the YARA rules compile with the stock yara, the allowlist
// verifies with the approver's key, and the table names every file written and where it goes.
func TestInitSite(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site")
	vec := filepath.Join(testenv.RepoRoot(), "guix", "testdata", "vectors")
	gk := filepath.Join(vec, "keys", "signer1", "signing-key.pub")
	out, errOut, code := runCLI(t, "init", "--site", site, "--station", "hq-1", "--org", "Example Agency",
		"--location", "HQ room 101", "--guix-key", gk, "--demo")
	if code != exitOK {
		t.Fatalf("init: exit %d %s", code, errOut)
	}
	boot := filepath.Join(site, SiteBootDir)
	p, err := policy.Load(filepath.Join(boot, "policy.toml"))
	if err != nil {
		t.Fatalf("the policy init wrote does not load: %v", err)
	}
	if p.Station != "hq-1" || p.Certificate.Organization != "Example Agency" || len(p.Certificate.Ask) == 0 || p.Keys.Passphrase {
		t.Errorf("policy: %+v", p)
	}
	acl, _ := os.ReadFile(filepath.Join(boot, "acl"))
	want := filepath.Join(t.TempDir(), "acl")
	if _, errOut, code := runCLI(t, "guix", "acl", "--acl", want, "add", gk); code != exitOK {
		t.Fatal(errOut)
	}
	if w, _ := os.ReadFile(want); !bytes.Equal(acl, w) {
		t.Errorf("acl differs from airlock guix acl add's:\n%s\n%s", acl, w)
	}
	for file, role := range map[string]sealing.Role{
		"boot-medium/keys/seal.key": sealing.RoleAppliance, "boot-medium/keys/log.key": sealing.RoleAppliance,
		"boot-medium/approver.pub": sealing.RoleApprover, "approver/approver.key": sealing.RoleApprover,
		"auditor/auditor.key": sealing.RoleAuditor, "high-side/seal.pub": sealing.RoleAppliance,
	} {
		k, err := sealing.LoadKeyInfo(filepath.Join(site, file))
		if err != nil || k.Role != role {
			t.Errorf("%s: role %q, want %q (%v)", file, k.Role, role, err)
		}
	}
	// No secret key of another role, and no Guix secret key, is on the boot medium.
	filepath.WalkDir(boot, func(path string, d os.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if k := sealing.IdentifyKey(b); k.Role != "" && k.Role != sealing.RoleAppliance && strings.HasSuffix(path, ".key") {
			t.Errorf("%s: a %s secret key on the boot medium", path, k.Role)
		}
		if bytes.Contains(b, []byte("(private-key")) {
			t.Errorf("%s: a Guix secret key on the boot medium", path)
		}
		return nil
	})
	if _, err := sealing.LoadAllowlist(filepath.Join(boot, "allowlist"), mustPub(t, filepath.Join(boot, "approver.pub"))); err != nil {
		t.Errorf("allowlist: %v", err)
	}
	testenv.Need(t, "yara")
	if b, err := exec.Command("yara", filepath.Join(boot, "rules", "site.yar"), filepath.Join(boot, "policy.toml")).CombinedOutput(); err != nil {
		t.Errorf("yara does not take the rules: %v %s", err, b)
	}
	eicar := filepath.Join(t.TempDir(), "eicar.com")
	os.WriteFile(eicar, []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`), 0o644)
	if b, _ := exec.Command("yara", filepath.Join(boot, "rules", "site.yar"), eicar).Output(); !strings.Contains(string(b), "EICAR_Test_File") {
		t.Errorf("the rules do not match EICAR: %q", b)
	}

	// The table: every file init wrote is a row, each row a file, and the table is saved.
	var written []string
	filepath.WalkDir(site, func(path string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(site, path)
			written = append(written, rel)
		}
		return nil
	})
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = l
	}
	for _, w := range written {
		if rows[w] == "" {
			t.Errorf("table lacks %s:\n%s", w, out)
		}
	}
	if len(rows) != len(written) {
		t.Errorf("table has %d rows, %d files written", len(rows), len(written))
	}
	for _, w := range []string{"boot medium (/etc/airlock)", "approver's offline machine", "auditor", "high side: /etc/guix/acl"} {
		if !strings.Contains(out, w) {
			t.Errorf("table never says %q", w)
		}
	}
	if saved, _ := os.ReadFile(filepath.Join(site, SiteFilesList)); string(saved) != out {
		t.Error("FILES.txt is not the printed table")
	}

	// Nothing overwrites an existing key: a second init refuses and changes nothing.
	before, _ := os.ReadFile(filepath.Join(boot, "keys", "seal.key"))
	if _, errOut, code := runCLI(t, "init", "--site", site, "--demo"); code != exitError || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, "seal.key") {
		t.Errorf("second init: exit %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(boot, "keys", "seal.key")); !bytes.Equal(before, after) {
		t.Error("seal.key changed")
	}
	// One key present is enough to refuse.
	other := filepath.Join(t.TempDir(), "other")
	os.MkdirAll(filepath.Join(other, SiteAuditorDir), 0o700)
	os.WriteFile(filepath.Join(other, SiteAuditorDir, "auditor.key"), []byte("mine"), 0o600)
	if _, errOut, code := runCLI(t, "init", "--site", other, "--demo"); code != exitError || !strings.Contains(errOut, "auditor.key") {
		t.Errorf("init over an auditor key: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(other, SiteAuditorDir, "auditor.key")); string(b) != "mine" {
		t.Error("auditor.key overwritten")
	}
	if _, err := os.Stat(filepath.Join(other, SiteBootDir)); err == nil {
		t.Error("a refused init wrote files")
	}
	// Without --demo, every role needs its passphrase.
	if _, errOut, code := runCLI(t, "init", "--site", filepath.Join(t.TempDir(), "s")); code != exitError || !strings.Contains(errOut, "passphrase") {
		t.Errorf("init without passphrases: exit %d %s", code, errOut)
	}
}

// TestInitSitePassphrases: a role given a passphrase gets encrypted keys that open with it only,
// while --demo leaves the others in plaintext. (The auditor's note key is cheap to encrypt;
// minisign's scrypt takes seconds and 1 GiB per key, so the encrypted appliance and approver
// keys are exercised by docs/DEPLOY.md's key ceremony, TestDeployDoc, with a built binary.)
func TestInitSitePassphrases(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pass")
	os.WriteFile(pf, []byte("auditor pass\n"), 0o600)
	site := filepath.Join(dir, "site")
	out, errOut, code := runCLI(t, "init", "--site", site, "--demo", "--auditor-passphrase-file", pf)
	if code != exitOK {
		t.Fatalf("init: %d %s", code, errOut)
	}
	if !strings.Contains(out, "auditor/auditor.key") || !strings.Contains(out, "passphrase-encrypted") {
		t.Errorf("table:\n%s", out)
	}
	key := filepath.Join(site, SiteAuditorDir, "auditor.key")
	if _, err := sealing.LoadNoteSigner(key, ""); err == nil {
		t.Error("auditor.key opens without a passphrase")
	}
	if _, err := sealing.LoadNoteSigner(key, "wrong"); err == nil {
		t.Error("auditor.key opens with a wrong passphrase")
	}
	if _, err := sealing.LoadNoteSigner(key, "auditor pass"); err != nil {
		t.Error(err)
	}
	if k, _ := sealing.LoadKeyInfo(key); k.Role != sealing.RoleAuditor {
		t.Errorf("encrypted auditor.key role: %+v", k)
	}
}

func mustPub(t *testing.T, path string) *sealing.PublicKey {
	t.Helper()
	k, err := sealing.LoadPublicKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
