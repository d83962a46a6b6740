package guix

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestNarinfoVerifiedByLibgcrypt: narinfos airlock writes (the layout of guix publish's
// narinfo-string) verify under libgcrypt, run through guile-gcrypt the way guix/narinfo.scm
// does it (signed text up to the first "Signature:", "1;HOST;BASE64"); a tampered line is a
// hash mismatch for both, and a narinfo signed by a key not in the ACL is unauthorized for both.
func TestNarinfoVerifiedByLibgcrypt(t *testing.T) {
	testenv.Need(t, "guile")
	f := newQuorumFixture(t, 2)
	acl, _ := NewACL(f.keys[0].Public(), f.keys[1].Public()).MarshalText()
	good := f.narinfo(t, 1, f.app, f.narApp, f.lib)
	lib := f.narinfo(t, 0, f.lib, f.narLib)
	tampered := []byte(strings.Replace(string(good), "NarSize: ", "NarSize: 1", 1))
	outsider := f.narinfo(t, 3, f.lib, f.narLib)
	dir := t.TempDir()
	aclFile := filepath.Join(dir, "acl")
	os.WriteFile(aclFile, acl, 0o644)
	args := []string{"--no-auto-compile", scriptPath("narinfo-verify.scm"), aclFile}
	ins := [][]byte{good, lib, tampered, outsider}
	for i, b := range ins {
		p := filepath.Join(dir, string(rune('a'+i))+".narinfo")
		os.WriteFile(p, b, 0o644)
		args = append(args, p)
	}
	out, err := exec.Command("guile", args...).Output()
	if err != nil {
		t.Fatalf("guile narinfo-verify: %v\n%s", err, exitStderr(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	ACL := NewACL(f.keys[0].Public(), f.keys[1].Public())
	want := []string{"valid-signature", "valid-signature", "hash-mismatch", "unauthorized-key"}
	for i, b := range ins {
		n, err := ParseNarinfo("n", b)
		if err != nil {
			t.Fatal(err)
		}
		ours, _ := ACL.judge(&ItemInfo{Signature: n.Signature, SignedHash: n.SignedHash})
		if !strings.HasPrefix(lines[i], want[i]) || string(ours) != strings.Fields(want[i])[0] && !(ours == OutcomeValid && want[i] == "valid-signature") {
			t.Errorf("narinfo %d: guile %q, airlock %s, want %s", i, lines[i], ours, want[i])
		}
		if want[i] == "valid-signature" && lines[i] != "valid-signature "+hex.EncodeToString(n.SignedHash[:]) {
			t.Errorf("narinfo %d: guile signed hash %q, airlock %x", i, lines[i], n.SignedHash)
		}
	}
}
