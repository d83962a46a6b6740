package sealing

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestAllowlist(t *testing.T) {
	key, sec, pub := testKey(t, "approver")
	dir := t.TempDir()
	a1, a2 := filepath.Join(dir, "guix-1.4.tar.gz"), filepath.Join(dir, "zlib ü.tar")
	writeFile(t, a1, []byte("one"))
	writeFile(t, a2, []byte("two"))
	list := filepath.Join(dir, "ALLOWLIST")
	if _, err := AllowFiles(context.Background(), list, key, []string{a2}); err != nil {
		t.Fatal(err)
	}
	a, err := AllowFiles(context.Background(), list, key, []string{a1, a2})
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 2 {
		t.Fatalf("%d entries", a.Len())
	}
	text, _ := os.ReadFile(list)
	want := "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed  3  guix-1.4.tar.gz\n" +
		"3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3  3  zlib ü.tar\n"
	if string(text) != want {
		t.Fatalf("allowlist text\n%s\nwant\n%s", text, want)
	}
	if o, ok := minisignVerify(t, list, list+".minisig", pub); !ok || !strings.Contains(o, "airlock-allowlist entries=2") {
		t.Fatalf("minisign: %s", o)
	}
	got, err := LoadAllowlist(list, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := got.Lookup(sha256.Sum256([]byte("two")), 3); !ok || n != "zlib ü.tar" {
		t.Errorf("lookup: %q %v", n, ok)
	}
	if _, ok := got.Lookup(sha256.Sum256([]byte("two")), 4); ok {
		t.Error("lookup with wrong size hit")
	}
	// The stock CLI signs an allowlist with the approver key; airlock loads it.
	testenv.Need(t, "minisign")
	if o, err := exec.Command("minisign", "-S", "-s", sec, "-m", list, "-t", "airlock-allowlist entries=2 by-cli").CombinedOutput(); err != nil {
		t.Fatalf("minisign -S: %v\n%s", err, o)
	}
	if _, err := LoadAllowlist(list, key.Public()); err != nil {
		t.Fatalf("CLI-signed allowlist: %v", err)
	}

	other, _, _ := testKey(t, "other")
	refuse := func(name string, is error, msg string, setup func()) {
		t.Helper()
		d := t.TempDir()
		l := filepath.Join(d, "ALLOWLIST")
		if _, err := AllowFiles(context.Background(), l, key, []string{a1}); err != nil {
			t.Fatal(err)
		}
		list = l
		setup()
		if _, err := LoadAllowlist(l, key.Public()); !errors.Is(err, is) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
	refuse("unsigned", ErrMissingSignature, "ALLOWLIST.minisig: signature file missing", func() { os.Remove(list + ".minisig") })
	refuse("tampered", ErrBadSignature, "ALLOWLIST.minisig: signature does not match", func() {
		b, _ := os.ReadFile(list)
		os.WriteFile(list, []byte(strings.Replace(string(b), "  3  ", "  4  ", 1)), 0o644)
	})
	refuse("wrong key", ErrWrongKey, "signed by an untrusted key", func() {
		b, _ := os.ReadFile(list)
		_, sig := mustParse(t, b).Sign(other, "")
		os.WriteFile(list+".minisig", sig, 0o644)
	})
	refuse("malformed signature", ErrMalformedSignature, "malformed minisign signature", func() { os.WriteFile(list+".minisig", []byte("garbage"), 0o644) })
	refuse("malformed list", ErrAllowlistMalformed, "ALLOWLIST: line 2: malformed allowlist: entries not sorted", func() {
		bad := []byte(strings.Repeat("a", 64) + "  1  b\n" + strings.Repeat("a", 64) + "  1  a\n")
		os.WriteFile(list, bad, 0o644)
		os.WriteFile(list+".minisig", key.SignDetached(bad, "airlock-allowlist entries=2"), 0o644)
	})
	refuse("other signed file", ErrBadTrustedComment, "not an airlock allowlist", func() {
		b, _ := os.ReadFile(list)
		os.WriteFile(list+".minisig", key.SignDetached(b, SealInfo{LogIndex: NoLogIndex}.TrustedComment()), 0o644)
	})
	// Adding to a list signed by someone else is refused.
	d := t.TempDir()
	l := filepath.Join(d, "ALLOWLIST")
	AllowFiles(context.Background(), l, other, []string{a1})
	if _, err := AllowFiles(context.Background(), l, key, []string{a2}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("adding to another approver's list: %v", err)
	}
}

func mustParse(t *testing.T, b []byte) *Allowlist {
	a, err := ParseAllowlist(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseAllowlistRejects(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for name, in := range map[string]string{
		"one space":    h + " 1  a\n",
		"upper hex":    strings.ToUpper(h) + "  1  a\n",
		"neg size":     h + "  -1  a\n",
		"leading zero": h + "  01  a\n",
		"duplicate":    h + "  1  a\n" + h + "  1  a\n",
		"control":      h + "  1  a\tb\n",
		"no newline":   h + "  1  a",
		"short hash":   h[:62] + "  1  a\n",
		"empty name":   h + "  1  \n",
		"backslash":    h + "  1  a\\b\n",
	} {
		if _, err := ParseAllowlist([]byte(in)); !errors.Is(err, ErrAllowlistMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseAllowlist(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32) + "  12  name with spaces\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAllowlist(b)
		if err != nil {
			return
		}
		out, _ := a.MarshalText()
		if string(out) != string(b) {
			t.Fatalf("round trip %q -> %q", b, out)
		}
	})
}
