package channel

import (
	"bytes"
	"context"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix/channel/internal/openpgp"
	"github.com/airlock-appliance/airlock/internal/benchtab"
)

// TestDifferentialSignatureBytes mutates the signature packet of a real gpg-signed commit
// (re-armored with a correct CRC, so that the mutation reaches the packet parser), writes each
// mutant as a commit, and asks airlock and the real guix git authenticate 1.5.0 about it:
// airlock must never accept what Guix refuses. It runs only where the Guix root is, on every
// AIRLOCK_CHANNEL_DIFF_STRIDE-th byte (default 29: about 24 mutants, 30 s; stride 1 is 172
// mutants, 190 s: airlock stricter on 3 — MPI and unhashed-subpacket lengths past the end,
// which Guix's get-bytevector-n reads short — and never more lenient).
func TestDifferentialSignatureBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("real Guix: not in -short")
	}
	f := newFixture(t)
	root := guixRoot(t)
	if root == "" {
		return
	}
	alice := f.key("alice", "rsa2048")
	bob := f.key("bob", "ed25519")
	f.git("checkout", "-q", "--orphan", "keyring")
	f.write("alice.key", f.run(nil, "gpg", "--armor", "--export", alice))
	f.write("bob.key", f.run(nil, "gpg", "--armor", "--export", bob))
	f.commit("keyring", "")
	f.git("checkout", "-q", "--orphan", "main")
	f.git("rm", "-q", "-rf", "--cached", ".")
	f.write(".guix-authorizations", authz(alice, bob))
	intro := f.commit("introduction", alice)
	var tips []string
	for _, k := range []string{bob, alice} {
		f.git("checkout", "-q", "-f", "-B", "main", intro)
		f.write("x", k+"\n")
		tips = append(tips, f.commit("signed", k))
	}
	io, _ := ParseOID(intro)
	fp, _ := hex.DecodeString(alice)
	ctx := context.Background()
	stricter, n := 0, 0
	stride := benchtab.EnvInt(t, "AIRLOCK_CHANNEL_DIFF_STRIDE", 29)
	for _, tip := range tips {
		raw := f.git("cat-file", "commit", tip) + "\n"
		head, rest, _ := strings.Cut(raw, "gpgsig ")
		var sig, after strings.Builder
		lines := strings.SplitAfter(rest, "\n")
		sig.WriteString(lines[0])
		i := 1
		for ; i < len(lines) && strings.HasPrefix(lines[i], " "); i++ {
			sig.WriteString(lines[i][1:])
		}
		for ; i < len(lines); i++ {
			after.WriteString(lines[i])
		}
		pkt, err := openpgp.Dearmor(sig.String())
		if err != nil {
			t.Fatal(err)
		}
		for pos := 0; pos < len(pkt); pos += stride {
			for _, bit := range []byte{0x01, 0x80} {
				m := bytes.Clone(pkt)
				m[pos] ^= bit
				arm := strings.Split(strings.TrimSuffix(armor("PGP SIGNATURE", m), "\n"), "\n")
				var c strings.Builder
				c.WriteString(head + "gpgsig " + arm[0] + "\n")
				for _, l := range arm[1:] {
					c.WriteString(" " + l + "\n")
				}
				c.WriteString(after.String())
				cmd := exec.Command("git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally")
				cmd.Dir, cmd.Stdin = f.dir, strings.NewReader(c.String())
				out, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				mut := strings.TrimSpace(string(out))
				src, err := OpenRepository(f.dir, Policy{})
				if err != nil {
					t.Fatal(err)
				}
				_, aerr := src.Authenticate(ctx, Policy{Introduction: io, Signer: [20]byte(fp), End: mut})
				src.Close()
				gok, gout := guixAuthenticate(t, root, f.dir, intro, alice, mut, n)
				n++
				switch {
				case aerr == nil && !gok:
					t.Errorf("byte %d ^%#x of %s: airlock accepts, Guix refuses:\n%s", pos, bit, tip, gout)
				case aerr != nil && gok:
					stricter++
					t.Logf("byte %d ^%#x: airlock stricter: %v", pos, bit, aerr)
				}
			}
		}
	}
	t.Logf("%d mutants, airlock stricter on %d, never more lenient", n, stricter)
}

// TestDifferentialAuthorizations writes .guix-authorizations variants (Scheme comments,
// brackets, dotted lists, escapes, version forms) in a commit by alice followed by a commit by
// bob, and compares airlock's verdict with the real guix git authenticate's: equal, or
// airlock stricter where noted; never more lenient.
func TestDifferentialAuthorizations(t *testing.T) {
	if testing.Short() {
		t.Skip("real Guix: not in -short")
	}
	f := newFixture(t)
	root := guixRoot(t)
	if root == "" {
		return
	}
	A := f.key("alice", "ed25519")
	B := f.key("bob", "ed25519")
	f.git("checkout", "-q", "--orphan", "keyring")
	f.write("alice.key", f.run(nil, "gpg", "--armor", "--export", A))
	f.write("bob.key", f.run(nil, "gpg", "--armor", "--export", B))
	f.commit("keyring", "")
	f.git("checkout", "-q", "--orphan", "main")
	f.git("rm", "-q", "-rf", "--cached", ".")
	f.write(".guix-authorizations", authz(A))
	intro := f.commit("introduction", A)
	lowerB := strings.ToLower(B)
	variants := []struct {
		text     string
		stricter bool // airlock refuses where Guix accepts (documented)
	}{
		{text: `(authorizations (version 0) (("` + A + `") ("` + B + `")))`},
		{text: `#| a #| nested |# block |# (authorizations (version 0) (("` + A + `") ("` + B + `" (name "b"))))`},
		{text: `(authorizations (version 0) (("` + A + `") #;("` + B + `")))`},
		{text: "(authorizations (version 0) ((\"" + A + "\")\n ;(\"" + B + "\")\n))"},
		{text: `[authorizations [version 0] [("` + A + `") ("` + B + `")]]`},
		{text: `(authorizations (version 0.0) (("` + B + `")))`},
		{text: `(authorizations (version #e0) (("` + B + `")))`},
		{text: `(authorizations (version 0) (("` + lowerB[:10] + "\t\n " + lowerB[10:] + `")))`},
		{text: `(authorizations (version 0) (("` + B + `")) extra (stuff)) ))) junk`},
		{text: `(authorizations (version 0) (("` + B[:39] + `")))`},
		{text: `'(authorizations (version 0) (("` + B + `")))`},
		{text: `(Authorizations (version 0) (("` + B + `")))`},
		{text: `(authorizations (version 0) (("` + B + `" . "x")))`},
		{text: `(authorizations (version 0) (("` + B + `" (name . "x"))))`},
		{text: `(authorizations (version 0) (("` + B + `" (name . "x" "y"))))`},
		{text: `(authorizations (version 0) (("` + B + `")) . x)`},
		{text: `(authorizations (version 0) (("\x` + hex.EncodeToString([]byte(B[:1])) + `;` + B[1:] + `")))`, stricter: true},
		{text: `(authorizations (version 0) ((` + "\"" + B + "\"" + ` #t #\a #\space)))`},
	}
	io, _ := ParseOID(intro)
	fp, _ := hex.DecodeString(A)
	for i, v := range variants {
		f.git("checkout", "-q", "-f", "-B", "main", intro)
		f.write(".guix-authorizations", v.text+"\n")
		f.commit("variant", A)
		f.write("x", "y\n")
		end := f.commit("bob", B)
		src, err := OpenRepository(f.dir, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		_, aerr := src.Authenticate(context.Background(), Policy{Introduction: io, Signer: [20]byte(fp), End: end})
		src.Close()
		gok, gout := guixAuthenticate(t, root, f.dir, intro, A, end, i)
		switch {
		case aerr == nil && !gok:
			t.Errorf("variant %d %q: airlock accepts, Guix refuses:\n%s", i, v.text, gout)
		case aerr != nil && gok && !v.stricter:
			t.Errorf("variant %d %q: airlock refuses (%v), Guix accepts", i, v.text, aerr)
		case aerr == nil && gok && v.stricter:
			t.Errorf("variant %d %q: now both accept: drop the stricter mark", i, v.text)
		}
	}
}
