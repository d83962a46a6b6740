package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

// TestCertShowVerify: a host-mode wipe of an image file writes a certificate whose serial is
// not a file path, with the fields given; `cert verify` accepts its JSON and its printed copy,
// and refuses an altered copy; `cert show` reprints it from the audit log, identical to the
// copy written at the wipe.
func TestCertShowVerify(t *testing.T) {
	testenv.Need(t, "minisign")
	keys := keysFor(t, "appliance")
	seal, pub := filepath.Join(keys, "seal.key"), filepath.Join(keys, "seal.pub")
	img, _ := fatStick(t)
	sh(t, "truncate", "-s", "64M", img)
	certDir := filepath.Join(t.TempDir(), "cert")
	_, errOut, code := runCLI(t, "wipe", "--allow-loop", "--yes", "--quiet", "--verify", "sample", "--key", seal,
		"--operator", "op-1", "--cert-out", certDir, "--field", "organization=Example Agency", "--field", "property_number=EA-42",
		"--field", "sanitizer_name=Alex Doe", img)
	if code != exitOK {
		t.Fatalf("wipe: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "wipe", "--allow-loop", "--yes", "--key", seal, "--field", "shoe_size=9", img); code != exitError || !strings.Contains(errOut, "unknown field") {
		t.Errorf("wipe --field shoe_size: exit %d %s", code, errOut)
	}
	jsPath, txtPath := filepath.Join(certDir, "certificate.json"), filepath.Join(certDir, "certificate.txt")
	js, _ := os.ReadFile(jsPath)
	c, err := sealing.ParseCertificate(js)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Serial, "/") || c.Serial != "" {
		t.Errorf("serial of an image file: %q", c.Serial)
	}
	if c.Organization != "Example Agency" || c.PropertyNumber != "EA-42" || c.SanitizerName != "Alex Doe" {
		t.Errorf("fields: %+v", c.CertFields)
	}
	for _, f := range []string{jsPath, txtPath} {
		out, errOut, code := runCLI(t, "cert", "verify", "--pub", pub, f)
		if code != exitOK || !strings.Contains(out, "VALID: ") || !strings.Contains(out, "certificate.txt is its form") {
			t.Errorf("cert verify %s: exit %d %q %q", f, code, out, errOut)
		}
	}
	show, _, code := runCLI(t, "cert", "show", "--pub", pub, jsPath)
	txt, _ := os.ReadFile(txtPath)
	if code != exitOK || show != string(txt) || !strings.Contains(show, "EA-42") {
		t.Errorf("cert show: exit %d\n%s", code, show)
	}
	// An altered printed copy, a wrong key, a missing signature.
	os.WriteFile(txtPath, []byte(strings.Replace(string(txt), "EA-42", "EA-43", 1)), 0o644)
	if out, _, code := runCLI(t, "cert", "verify", "--pub", pub, jsPath); code != exitVerdict || !strings.Contains(out, "INVALID") || !strings.Contains(out, "not the form of the signed JSON") {
		t.Errorf("altered certificate.txt: exit %d %q", code, out)
	}
	os.WriteFile(txtPath, txt, 0o644)
	other := keysFor(t, "approver")
	if out, _, code := runCLI(t, "cert", "verify", "--pub", filepath.Join(other, "approver.pub"), jsPath); code != exitVerdict || !strings.Contains(out, "INVALID") {
		t.Errorf("wrong key: exit %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, "cert", "verify", "--pub", "/nonexist", jsPath); code != exitError || !strings.Contains(errOut, "--pub /nonexist: no such file") {
		t.Errorf("missing --pub file: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "cert", "frob"); code != exitError || !strings.Contains(errOut, `unknown cert subcommand "frob" (show, verify)`) {
		t.Errorf("cert frob: %d %q", code, errOut)
	}

	// Reprint from the audit log: the station's certificate record holds the JSON and signature.
	sig, _ := os.ReadFile(jsPath + ".minisig")
	rec, _ := json.Marshal(map[string]any{"type": "certificate", "certificate": string(js), "signature": string(sig), "passed": true})
	logDir := filepath.Join(t.TempDir(), "log")
	if _, errOut, code := runCLI(t, "log", "append", "--dir", logDir, "--key", filepath.Join(keys, "log.key"), string(rec)); code != exitOK {
		t.Fatalf("log append: %s", errOut)
	}
	re, errOut, code := runCLI(t, "cert", "show", "--pub", pub, "--log", logDir, c.ID)
	if code != exitOK || re != string(txt) {
		t.Errorf("reprint from the log: exit %d %s\n%s", code, errOut, re)
	}
	if out, _, code := runCLI(t, "cert", "verify", "--pub", pub, "--log", logDir, c.ID); code != exitOK || !strings.Contains(out, "record 0") {
		t.Errorf("verify from the log: exit %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, "cert", "show", "--log", logDir, "nope"); code != exitError || !strings.Contains(errOut, `no certificate record with ID "nope"`) {
		t.Errorf("unknown ID: %d %q", code, errOut)
	}
}
