package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestGuixAuthenticateCLI makes a channel with the real git and gpg and checks the exit
// statuses of airlock guix authenticate on its bundle and its git directory, and --state.
func TestGuixAuthenticateCLI(t *testing.T) {
	testenv.Need(t, "git", "gpg")
	dir := t.TempDir()
	repo, gnupg := filepath.Join(dir, "repo"), filepath.Join(dir, "gnupg")
	os.MkdirAll(repo, 0o755)
	os.MkdirAll(gnupg, 0o700)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GNUPGHOME="+gnupg, "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	fpr := func(uid string) string {
		for _, l := range strings.Split(run("gpg", "--with-colons", "--fingerprint", uid), "\n") {
			if strings.HasPrefix(l, "fpr:") {
				return strings.Split(l, ":")[9]
			}
		}
		t.Fatalf("no key %s", uid)
		return ""
	}
	for _, u := range []string{"ann", "eve"} {
		run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", u+" <"+u+"@example.org>", "ed25519", "sign", "never")
	}
	ann, eve := fpr("ann@example.org"), fpr("eve@example.org")
	run("git", "init", "-q", "-b", "keyring")
	os.WriteFile(filepath.Join(repo, "ann.key"), []byte(run("gpg", "--armor", "--export", ann)), 0o644)
	os.WriteFile(filepath.Join(repo, "eve.key"), []byte(run("gpg", "--armor", "--export", eve)), 0o644)
	run("git", "add", ".")
	run("git", "commit", "-q", "-m", "keys")
	run("git", "checkout", "-q", "--orphan", "main")
	run("git", "rm", "-q", "-rf", ".")
	os.WriteFile(filepath.Join(repo, ".guix-authorizations"), []byte("(authorizations (version 0) ((\""+ann+"\" (name \"ann\"))))\n"), 0o644)
	run("git", "add", ".")
	run("git", "commit", "-q", "-S"+ann+"!", "-m", "introduction")
	intro := run("git", "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(repo, "x"), []byte("x\n"), 0o644)
	run("git", "add", "x")
	run("git", "commit", "-q", "-S"+ann+"!", "-m", "one")
	one := run("git", "rev-parse", "HEAD")
	run("git", "checkout", "-q", "-b", "bad")
	run("git", "commit", "-q", "--allow-empty", "-S"+eve+"!", "-m", "eve")
	bad := run("git", "rev-parse", "HEAD")
	run("git", "checkout", "-q", "main")
	bundle := filepath.Join(dir, "ch.bundle")
	run("git", "bundle", "create", bundle, "main", "bad", "keyring")

	base := []string{"guix", "authenticate", "--commit", intro, "--signer", ann}
	if out, errOut, code := runCLI(t, append(base, "--end", "main", bundle)...); code != exitOK || !strings.HasPrefix(out, "authentic "+one) {
		t.Fatalf("main: exit %d %q %q", code, out, errOut)
	}
	if out, _, code := runCLI(t, append(base, "--end", "bad", bundle)...); code != exitVerdict || !strings.Contains(out, bad+" unauthorized-key") {
		t.Fatalf("bad: exit %d %q", code, out)
	}
	if out, _, code := runCLI(t, append(base, "--end", "main", "--repository", repo)...); code != exitOK {
		t.Fatalf("repository: exit %d %q", code, out)
	}
	// --state: authenticate main, then the introduction (a rollback) is refused.
	state := t.TempDir()
	if _, errOut, code := runCLI(t, append(base, "--end", "main", "--state", state, bundle)...); code != exitOK {
		t.Fatalf("state: %d %s", code, errOut)
	}
	if out, _, code := runCLI(t, append(base, "--end", intro, "--state", state, bundle)...); code != exitVerdict || !strings.Contains(out, "rollback") {
		t.Fatalf("rollback: exit %d %q", code, out)
	}
	if _, _, code := runCLI(t, append(base, filepath.Join(dir, "missing.bundle"))...); code != exitError {
		t.Fatalf("missing bundle: exit %d", code)
	}
	if _, _, code := runCLI(t, "guix", "authenticate", "--commit", intro, "--signer", "abc", bundle); code != exitError {
		t.Fatalf("bad signer: exit %d", code)
	}
}
