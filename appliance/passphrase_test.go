package appliance

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/sealing"
)

// TestAskPassphrase: a wrong passphrase is said and asked again; the right one opens the keys
// airlock keygen encrypted; after MaxPassphraseTries wrong ones, or at the end of the input,
// it gives up.
func TestAskPassphrase(t *testing.T) {
	// The log key alone (an auditor's note key renamed): its scrypt is cheap, a minisign key's
	// costs seconds a try; TestHWRunStartup opens a whole appliance set.
	tmp := t.TempDir()
	if _, err := sealing.GenerateKeys(tmp, sealing.KeygenOptions{Role: sealing.RoleAuditor, Passphrase: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, sealing.AuditorKeyFile), filepath.Join(dir, sealing.LogKeyFile)); err != nil {
		t.Fatal(err)
	}
	pol := &policy.Policy{}
	pol.Keys.Dir = dir
	ask := func(input string) (string, string, error) {
		var out strings.Builder
		sc := bufio.NewScanner(strings.NewReader(input))
		read := func() (string, error) {
			if !sc.Scan() {
				return "", io.EOF
			}
			return sc.Text(), nil
		}
		p, err := AskPassphrase(&out, read, pol)
		return p, out.String(), err
	}
	p, out, err := ask("wrong\ns3cret\n")
	if err != nil || p != "s3cret" {
		t.Fatalf("wrong then right: %q, %v\n%s", p, err, out)
	}
	if strings.Count(out, "airlock: prompt passphrase: ") != 2 || !strings.Contains(out, "airlock: info wrong passphrase") {
		t.Errorf("wrong then right: not asked again:\n%s", out)
	}
	if _, out, err := ask("a\nb\nc\nd\ne\ns3cret\n"); err == nil || strings.Count(out, "prompt passphrase") != MaxPassphraseTries {
		t.Errorf("%d wrong: %v\n%s", MaxPassphraseTries, err, out)
	}
	if _, _, err := ask("wrong\n"); !errors.Is(err, io.EOF) {
		t.Errorf("end of input: %v", err)
	}
}
