package sexp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// Outputs of Guile's canonical-sexp->string (guile-gcrypt 0.4, libgcrypt 1.10) for the inputs.
var advancedCases = []struct{ in, want string }{
	{"(a (b c) (d (e f)))", "(a \n (b c)\n (d \n  (e f)\n  )\n )\n"},
	{"(a b c)", "(a b c)\n"},
	{"(a)", "(a)\n"},
	{"((a))", "(\n (a)\n )\n"},
	{"(a (b) c)", "(a \n (b)\n c)\n"},
	{`(a "x y" |AAEC| #00ff# "\x01")`, "(a \"x y\" #000102# #00FF# #01#)\n"},
	{"(a (b (c d) e) f)", "(a \n (b \n  (c d)\n  e)\n f)\n"},
}

func TestAdvancedMatchesLibgcrypt(t *testing.T) {
	for _, c := range advancedCases {
		n, err := Parse([]byte(c.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if got := string(Advanced(n)); got != c.want {
			t.Errorf("Advanced(%q) = %q, want %q", c.in, got, c.want)
		}
		// The advanced form and the canonical form parse back to the same tree.
		for _, enc := range [][]byte{Advanced(n), Canonical(n)} {
			m, err := Parse(enc)
			if err != nil || !Equal(n, m) {
				t.Errorf("re-parse of %q: %v, equal=%v", enc, err, Equal(n, m))
			}
		}
	}
}

// TestAdvancedVsGuile asks Guile itself to print random-ish trees and compares.
func TestAdvancedVsGuile(t *testing.T) {
	testenv.Need(t, "guile")
	inputs := []string{
		"(signature (data (flags rfc6979) (hash sha256 #00112233#)) (sig-val (ecdsa (r #7F#) (s #80#))) (public-key (ecc (curve Ed25519) (q #01#))))",
		`(x "a\nb" "it's" 1:a "1abc" (y) (z (w)) "")`,
		"(acl (entry (public-key (ecc (curve Ed25519) (q #AA#))) (tag (guix import))))",
	}
	dir := t.TempDir()
	var script strings.Builder
	script.WriteString("(use-modules (gcrypt pk-crypto))\n")
	for i, in := range inputs {
		f := filepath.Join(dir, "in"+string(rune('0'+i)))
		if err := os.WriteFile(f, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		script.WriteString(`(display (canonical-sexp->string (string->canonical-sexp (call-with-input-file "` + f + `" (lambda (p) ((@ (ice-9 textual-ports) get-string-all) p))))))` + "\n(display \"\\x00\")\n")
	}
	out, err := exec.Command("guile", "--no-auto-compile", "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("guile: %v", err)
	}
	got := bytes.Split(out, []byte{0})
	for i, in := range inputs {
		n, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if want := got[i]; !bytes.Equal(Advanced(n), want) {
			t.Errorf("input %d: ours %q, guile %q", i, Advanced(n), want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "a", "(", "(a", "(a))", "(a) b", "(#0#)", "(#zz#)", "(|!|)", `("abc)`, "(5:abc)",
		"([hint]a)", "(01:a)", "(a\x00)", `("\q")`, strings.Repeat("(", 40) + strings.Repeat(")", 40),
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range advancedCases {
		f.Add([]byte(c.in))
	}
	if dir := testenv.GuixVectors(f); true {
		for _, name := range []string{"two-acl", "one-acl", "keys/signer1/signing-key.pub", "keys/signer1/signing-key.sec"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Parse(b)
		if err != nil {
			return
		}
		for _, enc := range [][]byte{Advanced(n), Canonical(n)} {
			m, err := Parse(enc)
			if err != nil {
				t.Fatalf("re-parse of %q: %v", enc, err)
			}
			if !Equal(n, m) {
				t.Fatalf("round trip changed the tree: %q", enc)
			}
		}
	})
}
