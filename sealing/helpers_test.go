package sealing

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// testKey generates an unencrypted seal key pair in a temp dir and returns it with the paths of
// its files.
func testKey(t testing.TB, name string) (key *SealKey, secPath, pubPath string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := GenerateKeys(dir, KeygenOptions{Role: RoleApprover, Name: name}); err != nil {
		t.Fatal(err)
	}
	secPath, pubPath = filepath.Join(dir, ApproverKeyFile), filepath.Join(dir, ApproverPubFile)
	key, err := LoadSealKey(secPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return key, secPath, pubPath
}

// minisignVerify runs the stock minisign CLI on file, signature and public key; it returns the
// CLI's output and whether it accepted.
func minisignVerify(t testing.TB, file, sig, pub string) (string, bool) {
	t.Helper()
	testenv.Need(t, "minisign")
	out, err := exec.Command("minisign", "-V", "-m", file, "-x", sig, "-p", pub).CombinedOutput()
	return string(out), err == nil
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
