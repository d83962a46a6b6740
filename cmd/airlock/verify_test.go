package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// sealedDir seals a fresh copy of simple inputs with the appliance keys and returns it.
func sealedDir(t *testing.T, keys string, odd bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "disc")
	if _, errOut, code := runCLI(t, "seal", "--key", filepath.Join(keys, "seal.key"), "--out", out, "--session", "v", sealInputs(t, odd)); code != exitOK {
		t.Fatalf("seal: %s", errOut)
	}
	return out
}

// TestVerifyCLIFailures: every failure kind exits 1 with its own message naming the file.
func TestVerifyCLIFailures(t *testing.T) {
	keys := keysFor(t, "appliance")
	other := keysFor(t, "approver")
	pub := filepath.Join(keys, "seal.pub")
	edit := func(p, old, new string) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
	for _, c := range []struct {
		name, pub, want, kind string
		damage                func(d string)
	}{
		{"tampered file", pub, "bundle/in/sub/deep/x.bin: SHA-256 does not match the manifest (file altered)", "hash-mismatch",
			func(d string) { edit(filepath.Join(d, "bundle/in/sub/deep/x.bin"), "data", "DATA") }},
		{"extra file", pub, "bundle/in/payload.exe: not listed in the manifest (extra file)", "extra-file",
			func(d string) { os.WriteFile(filepath.Join(d, "bundle/in/payload.exe"), nil, 0o644) }},
		{"missing file", pub, "bundle/in/guix export.nar: listed in the manifest but missing: SHA256SUMS line 2", "missing-file",
			func(d string) { os.Remove(filepath.Join(d, "bundle/in/guix export.nar")) }},
		{"tampered manifest", pub, "SHA256SUMS (with SHA256SUMS.minisig): signature does not match", "bad-signature",
			func(d string) { edit(filepath.Join(d, "SHA256SUMS"), "x.bin", "y.bin") }},
		{"wrong key", filepath.Join(other, "approver.pub"), "SHA256SUMS.minisig: signed by an untrusted key", "wrong-key", func(string) {}},
		{"malformed signature", pub, "SHA256SUMS.minisig: malformed minisign signature", "malformed-signature",
			func(d string) {
				os.WriteFile(filepath.Join(d, "SHA256SUMS.minisig"), []byte("untrusted comment: x\n!!!\n"), 0o644)
			}},
		{"missing signature", pub, "SHA256SUMS.minisig: signature file missing", "missing-signature",
			func(d string) { os.Remove(filepath.Join(d, "SHA256SUMS.minisig")) }},
	} {
		d := sealedDir(t, keys, true)
		c.damage(d)
		_, errOut, code := runCLI(t, "verify", "--pub", c.pub, d)
		if code != exitVerdict || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.name, code, errOut, c.want)
		}
		out, _, _ := runCLI(t, "verify", "--json", "--pub", c.pub, d)
		var r verifyReport
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Valid || len(r.Failures) == 0 || r.Failures[0].Kind != c.kind {
			t.Errorf("%s: --json %v: %s", c.name, err, out)
		}
	}
	if _, errOut, code := runCLI(t, "verify", "--pub", pub, "/nonexistent"); code != exitError || !strings.Contains(errOut, "/nonexistent") {
		t.Errorf("missing target: exit %d %q", code, errOut)
	}
}

// TestVerifyCLIImage verifies a sealed tree packed into an ISO image by airlock iso (read back
// through burner.OpenISO), and rejects a damaged image.
func TestVerifyCLIImage(t *testing.T) {
	keys := keysFor(t, "appliance")
	d := sealedDir(t, keys, false)
	img := filepath.Join(t.TempDir(), "disc.iso")
	if _, errOut, code := runCLI(t, "iso", "--out", img, d); code != exitOK {
		t.Fatalf("airlock iso: exit %d: %s", code, errOut)
	}
	pub := filepath.Join(keys, "seal.pub")
	if out, errOut, code := runCLI(t, "verify", "--pub", pub, img); code != exitOK || !strings.Contains(out, "VALID: 3 sealed files (approved and AIRLOCK/ evidence)") {
		t.Fatalf("verify image: exit %d %q %q", code, out, errOut)
	}
	// Flip a byte of a file's data in the image.
	b, _ := os.ReadFile(img)
	i := strings.LastIndex(string(b), "datadata")
	if i < 0 {
		t.Fatal("file data not found in image")
	}
	b[i] = 'X'
	os.WriteFile(img, b, 0o644)
	if _, errOut, code := runCLI(t, "verify", "--pub", pub, img); code != exitVerdict || !strings.Contains(errOut, "SHA-256 does not match") {
		t.Errorf("damaged image: exit %d %q", code, errOut)
	}
	os.WriteFile(img, []byte("not an image"), 0o644)
	if _, errOut, code := runCLI(t, "verify", "--pub", pub, img); code != exitVerdict || !strings.Contains(errOut, "not a readable ISO9660 image") {
		t.Errorf("garbage image: exit %d %q", code, errOut)
	}
}

// TestVerifyCLIState: --state accepts a disc, then one extending it, and refuses a rollback.
func TestVerifyCLIState(t *testing.T) {
	keys := keysFor(t, "appliance")
	key, err := sealing.LoadSealKey(filepath.Join(keys, "seal.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := sealing.LoadNoteSigner(filepath.Join(keys, "log.key"), "")
	l, err := auditlog.Open(t.TempDir(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	disc := func(session string, prev ...int64) (string, int64) {
		idx, _ := l.Append(ctx, map[string]any{"type": "seal", "session": session})
		cp, _ := l.Checkpoint()
		files, err := sealing.DiscAudit(l, cp, idx, prev...)
		if err != nil {
			t.Fatal(err)
		}
		d := t.TempDir()
		for p, b := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(d, p)), 0o755)
			os.WriteFile(filepath.Join(d, p), b, 0o644)
		}
		os.MkdirAll(filepath.Join(d, "bundle"), 0o755)
		os.WriteFile(filepath.Join(d, "bundle", session), []byte(session), 0o644)
		if _, err := sealing.SealDir(ctx, d, key, sealing.SealInfo{Session: session, LogIndex: idx}); err != nil {
			t.Fatal(err)
		}
		return d, l.Size()
	}
	state := t.TempDir()
	args := []string{"verify", "--pub", filepath.Join(keys, "seal.pub"), "--log-vkey", filepath.Join(keys, "log.vkey"), "--state", state}
	d1, n1 := disc("one")
	if out, errOut, code := runCLI(t, append(args, d1)...); code != exitOK || !strings.Contains(out, "checkpoint airlock-appliance size 1") {
		t.Fatalf("disc one: exit %d %q %q", code, out, errOut)
	}
	d2, _ := disc("two", n1)
	if out, errOut, code := runCLI(t, append(args, d2)...); code != exitOK {
		t.Fatalf("disc two: exit %d %q %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, append(args, d1)...); code != exitVerdict || !strings.Contains(errOut, "AIRLOCK/checkpoint: rollback: checkpoint older than the saved state: disc tree size 1, last accepted 2") {
		t.Errorf("rollback: exit %d %q", code, errOut)
	}
	d3, _ := disc("three") // no consistency proof from 2
	if _, errOut, code := runCLI(t, append(args, d3)...); code != exitVerdict || !strings.Contains(errOut, "no consistency proof") {
		t.Errorf("no proof: exit %d %q", code, errOut)
	}
	// The state did not move on failures: disc two again is fine.
	if _, errOut, code := runCLI(t, append(args, d2)...); code != exitOK {
		t.Errorf("disc two again: %q", errOut)
	}
}

// TestVerifyCLIXorrisoImage: a sealed tree packed by xorriso (a peer ISO writer, Rock Ridge) is
// INVALID as an image: only what airlock's writer produces verifies (its files still verify as a
// copied folder).
func TestVerifyCLIXorrisoImage(t *testing.T) {
	testenv.Need(t, "xorriso")
	keys := keysFor(t, "appliance")
	d := sealedDir(t, keys, false)
	img := filepath.Join(t.TempDir(), "x.iso")
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", img, d).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	if out, errOut, code := runCLI(t, "verify", "--pub", filepath.Join(keys, "seal.pub"), img); code != exitVerdict ||
		!strings.Contains(errOut, "INVALID") || !strings.Contains(errOut, "not what airlock's writer") {
		t.Fatalf("verify xorriso image: exit %d %q %q", code, out, errOut)
	}
	out, _, _ := runCLI(t, "verify", "--json", "--pub", filepath.Join(keys, "seal.pub"), img)
	var r verifyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Valid || len(r.Failures) != 1 || r.Failures[0].Kind != "not-airlock-image" {
		t.Errorf("--json: %v: %s", err, out)
	}
}
