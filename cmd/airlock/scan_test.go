package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

const scanTestRules = `rule eicar { strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }`

func scanFixture(t *testing.T) (rules, clean, infected string) {
	t.Helper()
	dir := t.TempDir()
	rules = filepath.Join(dir, "test.yar")
	os.WriteFile(rules, []byte(scanTestRules), 0o644)
	clean, infected = filepath.Join(dir, "clean"), filepath.Join(dir, "infected")
	os.MkdirAll(filepath.Join(clean, "sub"), 0o755)
	os.MkdirAll(infected, 0o755)
	os.WriteFile(filepath.Join(clean, "sub", "a.txt"), []byte("hello\n"), 0o644)
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*"
	os.WriteFile(filepath.Join(infected, "e.com"), []byte(eicar), 0o644)
	return rules, clean, infected
}

func TestScanCLI(t *testing.T) {
	rules, clean, infected := scanFixture(t)
	if out, errOut, code := runCLI(t, "scan", "--rules", rules, clean); code != exitOK || !strings.Contains(out, "1 clean") {
		t.Fatalf("clean: exit %d %q %q", code, out, errOut)
	}
	out, errOut, code := runCLI(t, "scan", "--rules", rules, clean, infected)
	if code != exitVerdict || !strings.Contains(out, filepath.Join(infected, "e.com")+": match: test:eicar") {
		t.Fatalf("infected: exit %d %q %q", code, out, errOut)
	}
	out, _, code = runCLI(t, "scan", "--rules", rules, "--json", filepath.Join(infected, "e.com"))
	var rep struct {
		Files []struct {
			Path, Verdict, SHA256 string
			Rules                 []struct{ Rule, Namespace string }
		}
		Summary struct{ Match, Files int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitVerdict {
		t.Fatalf("json: exit %d %v %q", code, err, out)
	}
	if len(rep.Files) != 1 || rep.Files[0].Verdict != "match" || rep.Files[0].Rules[0].Rule != "eicar" ||
		rep.Summary.Match != 1 || len(rep.Files[0].SHA256) != 64 {
		t.Fatalf("json report %+v", rep)
	}
	// Errors: a rule file that does not compile names file:line; a missing path; no rules.
	bad := filepath.Join(t.TempDir(), "bad.yar")
	os.WriteFile(bad, []byte("rule ok { condition: true }\nrule broken {\n  condition: $nope\n}\n"), 0o644)
	if _, errOut, code := runCLI(t, "scan", "--rules", bad, clean); code != exitError || !strings.Contains(errOut, "bad.yar:4: undefined string") {
		t.Errorf("bad rules: exit %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "scan", "--rules", rules, "/no/such/path"); code != exitError || !strings.Contains(errOut, "/no/such/path") {
		t.Errorf("missing path: exit %d %q", code, errOut)
	}
	t.Setenv("AIRLOCK_RULES", "")
	if _, errOut, code := runCLI(t, "scan", clean); code != exitError || !strings.Contains(errOut, "no rules") {
		t.Errorf("no rules: exit %d %q", code, errOut)
	}
	t.Setenv("AIRLOCK_RULES", filepath.Join(testenv.RepoRoot(), "scanner", "rules"))
	if out, errOut, code := runCLI(t, "scan", infected); code != exitVerdict || !strings.Contains(out, "EICAR_Test_File") {
		t.Errorf("default rules: exit %d %q %q", code, out, errOut)
	}
}

func TestScanDecisionCLI(t *testing.T) {
	rules, clean, _ := scanFixture(t)
	keys := keysFor(t, "approver")
	list := filepath.Join(t.TempDir(), "ALLOWLIST")
	if _, errOut, code := runCLI(t, "allow", "--key", filepath.Join(keys, "approver.key"), "--out", list, filepath.Join(clean, "sub", "a.txt")); code != exitOK {
		t.Fatalf("allow: %d %s", code, errOut)
	}
	pub := filepath.Join(keys, "approver.pub")
	out, errOut, code := runCLI(t, "scan", "--rules", rules, "--allowlist", list, "--approver-pub", pub, clean)
	if code != exitOK || !strings.Contains(out, "APPROVED "+filepath.Join(clean, "sub", "a.txt")+" (allowlist)") {
		t.Fatalf("allowlisted: exit %d %q %q", code, out, errOut)
	}
	os.WriteFile(filepath.Join(clean, "unknown.bin"), []byte("not on the list"), 0o644)
	out, _, code = runCLI(t, "scan", "--rules", rules, "--allowlist", list, "--approver-pub", pub, clean)
	if code != exitVerdict || !strings.Contains(out, "REJECTED "+filepath.Join(clean, "unknown.bin")) || !strings.Contains(out, "not on the allowlist") {
		t.Fatalf("unknown file: exit %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, "scan", "--rules", rules, "--allowlist", list, clean); code != exitError || !strings.Contains(errOut, "go together") {
		t.Errorf("allowlist without key: exit %d %q", code, errOut)
	}
	vec := testenv.GuixVectors(t)
	out, errOut, code = runCLI(t, "scan", "--rules", rules, "--acl", filepath.Join(vec, "one-acl"), filepath.Join(vec, "p2-only.export"))
	if code != exitOK || !strings.Contains(out, "(guix-acl)") {
		t.Fatalf("p2-only with one-acl: exit %d %q %q", code, out, errOut)
	}
	out, _, code = runCLI(t, "scan", "--rules", rules, "--acl", filepath.Join(vec, "one-acl"), filepath.Join(vec, "unauthorized.export"))
	if code != exitVerdict || !strings.Contains(out, "unauthorized-key") {
		t.Fatalf("unauthorized: exit %d %q", code, out)
	}
	out, _, code = runCLI(t, "scan", "--rules", rules, "--json", "--acl", filepath.Join(vec, "one-acl"), filepath.Join(vec, "bundle.export"))
	var rep struct {
		Guix []struct {
			Path     string
			Accepted bool
			Items    []struct{ StorePath, Outcome string } `json:"items"`
		}
		Decisions []struct {
			Approved bool
			Reasons  []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitVerdict || len(rep.Guix) != 1 || len(rep.Guix[0].Items) != 4 ||
		rep.Guix[0].Items[3].Outcome != "unauthorized-key" || rep.Guix[0].Accepted || len(rep.Decisions) != 1 || rep.Decisions[0].Approved {
		t.Fatalf("bundle with one-acl: exit %d %v %+v", code, err, rep)
	}
}

// TestScanImageCLI scans a FAT image read in userspace through media (nothing mounted).
func TestScanImageCLI(t *testing.T) {
	testenv.Need(t, "mkfs.fat", "mcopy")
	rules, _, infected := scanFixture(t)
	img := filepath.Join(t.TempDir(), "stick.img")
	if out, err := exec.Command("mkfs.fat", "-C", img, "4096").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v %s", err, out)
	}
	tgz := filepath.Join(t.TempDir(), "pkg.tar.gz")
	if out, err := exec.Command("tar", "-C", infected, "-czf", tgz, "e.com").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if out, err := exec.Command("mcopy", "-i", img, tgz, "::PKG.TGZ").CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v %s", err, out)
	}
	out, errOut, code := runCLI(t, "scan", "--rules", rules, "--image", img)
	if code != exitVerdict || !strings.Contains(out, img+"/PKG.TGZ!e.com: match: test:eicar") {
		t.Fatalf("image: exit %d %q %q", code, out, errOut)
	}
}
