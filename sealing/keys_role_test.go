package sealing

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestKeyRoleMarkers: every secret and minisign public key keygen writes names its role and
// file in its first line, and every consumer (package minisign, the stock minisign CLI, note)
// still reads it.
func TestKeyRoleMarkers(t *testing.T) {
	dir := t.TempDir()
	guixGen := func(io.Reader) (sec, pub []byte, err error) { return []byte("(sec)\n"), []byte("(pub)\n"), nil }
	for _, role := range []Role{RoleAppliance, RoleApprover} {
		if _, err := GenerateKeys(dir, KeygenOptions{Role: role, Guix: guixGen}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := GenerateKeys(dir, KeygenOptions{Role: RoleAuditor, Passphrase: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]KeyInfo{
		SealKeyFile:     {RoleAppliance, SealKeyFile, "minisign"},
		SealPubFile:     {RoleAppliance, SealPubFile, "minisign"},
		LogKeyFile:      {RoleAppliance, LogKeyFile, "note"},
		ApproverKeyFile: {RoleApprover, ApproverKeyFile, "minisign"},
		ApproverPubFile: {RoleApprover, ApproverPubFile, "minisign"},
		AuditorKeyFile:  {RoleAuditor, AuditorKeyFile, "note"},
		LogVKeyFile:     {},
		GuixSecFile:     {},
	} {
		got, err := LoadKeyInfo(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %+v, want %+v", file, got, want)
		}
	}
	// A note key's first line stays what other tools look for (the boot medium's check of
	// encrypted keys, note.NewSigner on the first line).
	for file, prefix := range map[string]string{LogKeyFile: "PRIVATE+KEY+airlock-appliance+", AuditorKeyFile: noteKeyHeader} {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		if !strings.HasPrefix(string(b), prefix) {
			t.Errorf("%s starts %q, want %q", file, b[:min(len(b), 40)], prefix)
		}
	}
	if s := (KeyInfo{RoleAuditor, AuditorKeyFile, "note"}).String(); s != "an auditor key (auditor.key)" {
		t.Errorf("String: %q", s)
	}
	if _, err := LoadSealKey(filepath.Join(dir, ApproverKeyFile), ""); err != nil {
		t.Errorf("marked approver key: %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, SealPubFile)); err != nil {
		t.Errorf("marked seal.pub: %v", err)
	}
	if _, err := LoadNoteSigner(filepath.Join(dir, LogKeyFile), ""); err != nil {
		t.Errorf("marked log.key: %v", err)
	}
	if _, err := LoadNoteSigner(filepath.Join(dir, AuditorKeyFile), ""); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("encrypted auditor.key without passphrase: %v", err)
	}
	if s, err := LoadNoteSigner(filepath.Join(dir, AuditorKeyFile), "correct horse"); err != nil || s.Name() != "airlock-auditor" {
		t.Errorf("encrypted auditor.key: %v", err)
	}
	// Keys from before the markers and from the stock tool.
	if k := IdentifyKey([]byte(noteKeyHeader + "AAAA\n")); k.Kind != "note" || k.Role != "" {
		t.Errorf("legacy encrypted note key: %+v", k)
	}
	if k := IdentifyKey([]byte("untrusted comment: minisign encrypted secret key\nRWRT\n")); k.Kind != "minisign" || k.Role != "" ||
		k.String() != "a minisign key without an airlock role marker" {
		t.Errorf("stock minisign key: %+v", k)
	}
	if k := IdentifyKey([]byte(markerPrefix + "root file=x minisign secret key 1\nRWRT\n")); k.Role != "" {
		t.Errorf("unknown role accepted: %+v", k)
	}

	// The stock minisign CLI signs with the marked secret key and verifies with the marked
	// public key.
	testenv.Need(t, "minisign")
	msg := filepath.Join(dir, "msg")
	os.WriteFile(msg, []byte("hello\n"), 0o644)
	cmd := exec.Command("minisign", "-S", "-s", filepath.Join(dir, ApproverKeyFile), "-m", msg)
	cmd.Stdin = strings.NewReader("\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -S with a marked key: %v\n%s", err, out)
	}
	if out, ok := minisignVerify(t, msg, msg+".minisig", filepath.Join(dir, ApproverPubFile)); !ok {
		t.Fatalf("minisign -V with a marked public key: %s", out)
	}
}

// FuzzIdentifyKey: any bytes given as a key file are named, never a panic, and a note key
// parse fails cleanly.
func FuzzIdentifyKey(f *testing.F) {
	f.Add([]byte(markerPrefix + "approver file=approver.key minisign secret key 1\nRWRT\n"))
	f.Add([]byte("PRIVATE+KEY+a+1+AAAA\n" + markerPrefix + "auditor file=auditor.key note secret key\n"))
	f.Add([]byte(noteKeyHeader + "AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := IdentifyKey(b)
		if k.Role != "" && k.Role != RoleAppliance && k.Role != RoleApprover && k.Role != RoleAuditor {
			t.Fatalf("role %q", k.Role)
		}
		_ = k.String()
		_, _ = ParseNoteSigner(b, "")
	})
}
