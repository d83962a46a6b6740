package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
	"golang.org/x/mod/sumdb/note"
)

// keysFor runs airlock keygen for role into a fresh dir and returns it.
func keysFor(t *testing.T, role string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), role)
	_, errOut, code := runCLI(t, append([]string{"keygen", "--dir", dir, "--role", role}, extra...)...)
	if code != exitOK {
		t.Fatalf("keygen %s: exit %d: %s", role, code, errOut)
	}
	return dir
}

func TestKeygenRoles(t *testing.T) {
	app := keysFor(t, "appliance", "--name", "airlock.example/station-1")
	for _, f := range []string{"seal.key", "seal.pub", "log.key", "log.vkey", "guix-signing-key.sec", "guix-signing-key.pub"} {
		st, err := os.Stat(filepath.Join(app, f))
		if err != nil {
			t.Fatal(err)
		}
		secret := strings.HasSuffix(f, ".key") || strings.HasSuffix(f, ".sec")
		if secret && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode())
		}
	}
	// Each file is what its consumer reads.
	vkey, _ := os.ReadFile(filepath.Join(app, "log.vkey"))
	if v, err := note.NewVerifier(strings.TrimSpace(string(vkey))); err != nil || v.Name() != "airlock.example/station-1" {
		t.Errorf("log.vkey: %v", err)
	}
	if _, err := sealing.LoadNoteSigner(filepath.Join(app, "log.key"), ""); err != nil {
		t.Error(err)
	}
	gsec, _ := os.ReadFile(filepath.Join(app, "guix-signing-key.sec"))
	gpub, _ := os.ReadFile(filepath.Join(app, "guix-signing-key.pub"))
	gk, err := guix.ParsePrivateKey(gsec)
	if err != nil {
		t.Fatalf("guix secret key: %v", err)
	}
	gp, err := guix.ParsePublicKey(gpub)
	if err != nil || !gp.Equal(gk.Public()) {
		t.Fatalf("guix public key: %v", err)
	}
	// The stock minisign CLI signs with seal.key and verifies with seal.pub.
	testenv.Need(t, "minisign")
	msg := filepath.Join(t.TempDir(), "m")
	os.WriteFile(msg, []byte("hello"), 0o644)
	if out, err := exec.Command("minisign", "-S", "-s", filepath.Join(app, "seal.key"), "-m", msg).CombinedOutput(); err != nil {
		t.Fatalf("minisign -S with seal.key: %v\n%s", err, out)
	}
	if out, err := exec.Command("minisign", "-V", "-p", filepath.Join(app, "seal.pub"), "-m", msg).CombinedOutput(); err != nil {
		t.Fatalf("minisign -V with seal.pub: %v\n%s", err, out)
	}

	appr := keysFor(t, "approver")
	if _, err := sealing.LoadPublicKey(filepath.Join(appr, "approver.pub")); err != nil {
		t.Error(err)
	}
	aud := keysFor(t, "auditor")
	if _, err := sealing.LoadNoteVerifier(filepath.Join(aud, "auditor.vkey")); err != nil {
		t.Error(err)
	}

	// Refuses to overwrite, and changes nothing.
	before, _ := os.ReadFile(filepath.Join(app, "seal.key"))
	_, errOut, code := runCLI(t, "keygen", "--dir", app, "--role", "appliance")
	if code != exitError || !strings.Contains(errOut, "seal.key: key file already exists (refusing to overwrite)") {
		t.Errorf("overwrite: exit %d, %q", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(app, "seal.key")); string(after) != string(before) {
		t.Error("seal.key changed")
	}
	if _, errOut, code := runCLI(t, "keygen", "--dir", t.TempDir(), "--role", "king"); code != exitError || !strings.Contains(errOut, `unknown role "king"`) {
		t.Errorf("bad role: exit %d, %q", code, errOut)
	}
}

func TestKeygenPassphrase(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("correct horse\n"), 0o600)
	aud := keysFor(t, "auditor", "--passphrase-file", pf)
	if _, err := sealing.LoadNoteSigner(filepath.Join(aud, "auditor.key"), ""); err == nil {
		t.Fatal("encrypted auditor key loaded without passphrase")
	}
	if _, err := sealing.LoadNoteSigner(filepath.Join(aud, "auditor.key"), "wrong"); err == nil {
		t.Fatal("encrypted auditor key loaded with a wrong passphrase")
	}
	if _, err := sealing.LoadNoteSigner(filepath.Join(aud, "auditor.key"), "correct horse"); err != nil {
		t.Fatal(err)
	}
}
