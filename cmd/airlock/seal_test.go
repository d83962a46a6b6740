package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// stockMinisignVerify runs `minisign -V` on file with its signature and public key.
func stockMinisignVerify(t *testing.T, file, sig, pub string) (string, bool) {
	t.Helper()
	testenv.Need(t, "minisign")
	out, err := exec.Command("minisign", "-V", "-m", file, "-x", sig, "-p", pub).CombinedOutput()
	return string(out), err == nil
}

// sealInputs writes files with awkward names (space, UTF-8, newline, backslash) under a dir.
func sealInputs(t *testing.T, odd bool) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "in")
	names := []string{"guix export.nar", "ü/tarball-1.0.tar.gz", "sub/deep/x.bin"}
	if odd {
		names = append(names, "new\nline", `back\slash`)
	}
	for i, n := range names {
		p := filepath.Join(src, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat("data", i*300+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func TestSealCLI(t *testing.T) {
	keys := keysFor(t, "appliance")
	src := sealInputs(t, true)
	single := filepath.Join(t.TempDir(), "single file.txt")
	os.WriteFile(single, []byte("one"), 0o644)
	out := filepath.Join(t.TempDir(), "disc")
	stdout, errOut, code := runCLI(t, "seal", "--key", filepath.Join(keys, "seal.key"), "--out", out,
		"--session", "S-1", "--station", "station one", "--policy-hash", "abc", "--log-index", "4", "--time", "2026-11-25T12:00:00Z",
		src, single)
	if code != exitOK || !strings.Contains(stdout, "sealed 6 files") {
		t.Fatalf("seal: exit %d %q %q", code, stdout, errOut)
	}
	for _, p := range []string{"bundle/in/new\nline", "bundle/single file.txt", "bundle/in/ü/tarball-1.0.tar.gz"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
	testenv.Need(t, "sha256sum")
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = out
	if o, err := cmd.CombinedOutput(); err != nil || strings.Count(string(o), ": OK") != 6 {
		t.Fatalf("sha256sum -c: %v\n%s", err, o)
	}
	o, ok := stockMinisignVerify(t, filepath.Join(out, "SHA256SUMS"), filepath.Join(out, "SHA256SUMS.minisig"), filepath.Join(keys, "seal.pub"))
	if !ok || !strings.Contains(o, "Trusted comment: airlock-seal session=S-1 station=station%20one time=2026-11-25T12:00:00Z policy=abc log=4") {
		t.Fatalf("minisign -V: %s", o)
	}
	if stdout, errOut, code := runCLI(t, "verify", "--pub", filepath.Join(keys, "seal.pub"), out); code != exitOK || !strings.Contains(stdout, "VALID: 6 sealed files (approved and AIRLOCK/ evidence)") {
		t.Fatalf("verify: exit %d %q %q", code, stdout, errOut)
	}
	// Empty fields and --policy FILE.
	pol := filepath.Join(t.TempDir(), "policy.toml")
	os.WriteFile(pol, []byte("station = 'x'\n"), 0o644)
	out2 := filepath.Join(t.TempDir(), "d2")
	if _, errOut, code := runCLI(t, "seal", "--key", filepath.Join(keys, "seal.key"), "--out", out2, "--time", "", "--policy", pol, single); code != exitOK {
		t.Fatalf("seal: %q", errOut)
	}
	o, _ = stockMinisignVerify(t, filepath.Join(out2, "SHA256SUMS"), filepath.Join(out2, "SHA256SUMS.minisig"), filepath.Join(keys, "seal.pub"))
	if ph := sha256.Sum256([]byte("station = 'x'\n")); !strings.Contains(o, "session= station= time= policy="+hex.EncodeToString(ph[:])+" log=\n") {
		t.Errorf("empty fields: %s", o)
	}
	// Refusals.
	for _, c := range [][]string{
		{"seal", "--key", filepath.Join(keys, "seal.key"), "--out", out, single},                             // bundle/ exists
		{"seal", "--key", filepath.Join(keys, "seal.key"), "--out", t.TempDir(), "--log-index", "x", single}, // bad index
		{"seal", "--key", filepath.Join(keys, "seal.pub"), "--out", t.TempDir(), single},                     // not a secret key
		{"seal", "--out", t.TempDir(), single},
	} {
		if _, errOut, code := runCLI(t, c...); code != exitError || errOut == "" {
			t.Errorf("%q: exit %d %q", c, code, errOut)
		}
	}
}

// TestSealCLIWithLog: airlock seal --log appends the seal record and writes the audit files, so
// that verify --state follows the discs and catches a rollback.
func TestSealCLIWithLog(t *testing.T) {
	keys := keysFor(t, "appliance")
	logDir := filepath.Join(t.TempDir(), "log")
	state := t.TempDir()
	seal := func(session string) string {
		out := filepath.Join(t.TempDir(), session)
		if _, errOut, code := runCLI(t, "seal", "--key", filepath.Join(keys, "seal.key"), "--out", out, "--session", session,
			"--log", logDir, "--log-key", filepath.Join(keys, "log.key"), sealInputs(t, false)); code != exitOK {
			t.Fatalf("seal %s: %s", session, errOut)
		}
		return out
	}
	verify := func(d string) (string, string, int) {
		return runCLI(t, "verify", "--pub", filepath.Join(keys, "seal.pub"), "--log-vkey", filepath.Join(keys, "log.vkey"), "--state", state, d)
	}
	d1 := seal("one")
	for _, f := range []string{"AIRLOCK/checkpoint", "AIRLOCK/record.json", "AIRLOCK/proofs/inclusion"} {
		if _, err := os.Stat(filepath.Join(d1, f)); err != nil {
			t.Error(err)
		}
	}
	if out, errOut, code := verify(d1); code != exitOK || !strings.Contains(out, "audit log index 0, checkpoint airlock-appliance size 1") {
		t.Fatalf("verify one: exit %d %q %q", code, out, errOut)
	}
	d2 := seal("two")
	if b, err := os.ReadFile(filepath.Join(d2, "AIRLOCK/proofs/previous-size")); err != nil || string(b) != "1\n" {
		t.Fatalf("previous-size: %q %v", b, err)
	}
	testenv.Need(t, "sha256sum")
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = d2
	if o, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(o), "AIRLOCK/checkpoint: OK") {
		t.Fatalf("sha256sum -c: %v\n%s", err, o)
	}
	if out, errOut, code := verify(d2); code != exitOK || !strings.Contains(out, "size 2") {
		t.Fatalf("verify two: exit %d %q %q", code, out, errOut)
	}
	if _, errOut, code := verify(d1); code != exitVerdict || !strings.Contains(errOut, "rollback") {
		t.Errorf("rollback: exit %d %q", code, errOut)
	}
	if out, errOut, code := runCLI(t, "log", "verify", "--dir", logDir, "--vkey", filepath.Join(keys, "log.vkey")); code != exitOK || !strings.Contains(out, "VALID: 2 records") {
		t.Errorf("log verify: exit %d %q %q", code, out, errOut)
	}
	rec, _, _ := runCLI(t, "log", "show", "--dir", logDir, "--json", "--from", "1")
	if !strings.Contains(rec, `"bundle_files":3`) || !strings.Contains(rec, `"session":"two"`) || !strings.Contains(rec, `"type":"seal"`) {
		t.Errorf("seal record: %s", rec)
	}
}
