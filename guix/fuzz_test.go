package guix

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func addVectorSeeds(f *testing.F, names ...string) {
	dir := testenv.GuixVectors(f)
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			f.Add(b)
		}
	}
}

// FuzzNARReader: the reader never panics, errors are FormatErrors of the documented kinds, and
// whatever it accepts re-encodes from its entries to the same bytes (the strict reader accepts
// only canonical NARs).
func FuzzNARReader(f *testing.F) {
	addVectorSeeds(f, "p2.nar", "p3.nar", "p4.nar")
	f.Add(nb().dir(ent("a", fileNode("x")), ent("b", linkNode("a"))).b)
	f.Add(nb().file("", true).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		nr := NewNARReader(bytes.NewReader(b))
		var ents []NAREntry
		for {
			e, err := nr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) || !(errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF)) {
					t.Fatalf("error of an unexpected kind: %v", err)
				}
				return
			}
			if e.Type == Regular {
				if c, _ := io.ReadAll(nr); int64(len(c)) != e.Size {
					continue // a truncated file: the next Next reports it
				}
			}
			ents = append(ents, *e)
		}
		// Accepted: re-encode from the entries and compare.
		if got := encodeEntries(t, b, ents); !bytes.Equal(got, b) {
			t.Fatalf("accepted NAR is not canonical: re-encoded %d bytes, input %d", len(got), len(b))
		}
	})
}

// encodeEntries re-serialises a list of NAR entries (with contents taken from a second read of
// src) into NAR bytes.
func encodeEntries(t *testing.T, src []byte, ents []NAREntry) []byte {
	contents := map[string][]byte{}
	nr := NewNARReader(bytes.NewReader(src))
	for {
		e, err := nr.Next()
		if err != nil {
			break
		}
		if e.Type == Regular {
			c, _ := io.ReadAll(nr)
			contents[e.Path] = c
		}
	}
	var out narB
	out.s("nix-archive-1")
	depthOf := func(p string) int { return bytes.Count([]byte(p), []byte("/")) }
	var stack []string // open directories
	closeTo := func(d int) {
		for len(stack) > d {
			out.s(")") // directory node
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				out.s(")") // entry
			}
		}
	}
	for _, e := range ents {
		d := depthOf(e.Path)
		closeTo(d)
		if e.Path != "" {
			name := e.Path[bytes.LastIndexByte([]byte(e.Path), '/')+1:]
			out.s("entry", "(", "name", name, "node")
		}
		switch e.Type {
		case Regular:
			out.s("(", "type", "regular")
			if e.Executable {
				out.s("executable", "")
			}
			out.s("contents", string(contents[e.Path]), ")")
			if e.Path != "" {
				out.s(")")
			}
		case Symlink:
			out.s("(", "type", "symlink", "target", e.Target, ")")
			if e.Path != "" {
				out.s(")")
			}
		case Directory:
			out.s("(", "type", "directory")
			stack = append(stack, e.Path)
		}
	}
	closeTo(0)
	return out.b
}

// FuzzExportReader: VerifyExport and ResignExport never panic; a stream VerifyExport calls
// complete re-signs, and the re-signed stream verifies under the new key with the same items.
func FuzzExportReader(f *testing.F) {
	addVectorSeeds(f, "p2-only.export", "unauthorized.export", "partial-closure.export",
		"trailing-garbage.export", "bad-signature.export")
	key, err := GenerateKey(testRand(1))
	if err != nil {
		f.Fatal(err)
	}
	acl := NewACL(key.Public())
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyExport(context.Background(), bytes.NewReader(b), acl, nil)
		if err != nil {
			t.Fatalf("VerifyExport returned an error for in-memory input: %v", err)
		}
		var out bytes.Buffer
		rerr := ResignExport(context.Background(), &out, bytes.NewReader(b), key)
		if rep.Stream != StreamComplete || len(rep.Items) == 0 {
			if rerr == nil {
				t.Fatalf("ResignExport accepted a %s stream", rep.Stream)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("ResignExport refused a complete stream: %v", rerr)
		}
		rep2, err := VerifyExport(context.Background(), bytes.NewReader(out.Bytes()), acl, nil)
		if err != nil || rep2.Stream != StreamComplete || len(rep2.Items) != len(rep.Items) {
			t.Fatalf("re-signed stream: %v %+v", err, rep2)
		}
		for i, it := range rep2.Items {
			if it.Outcome != OutcomeValid && it.Outcome != OutcomeMissingReference {
				t.Fatalf("re-signed item %d: %s (%s)", i, it.Outcome, it.Reason)
			}
			if it.StorePath != rep.Items[i].StorePath || it.Info.NARHash != rep.Items[i].Info.NARHash {
				t.Fatalf("re-signed item %d changed", i)
			}
		}
	})
}

// FuzzBase32: decoding is strict (anything decoded re-encodes to the same string) and never
// panics.
func FuzzBase32(f *testing.F) {
	f.Add("01kc1fg4r4a7q6lx8ahnj79572g06a7pl5pbh6lsc2xs86m6vnkv")
	f.Add("1h2gb46jkvhkn1jrry1ncz2y7y9d0gwyz3ix98i8r32w4kwfgn7a")
	f.Add("hfj39pdgk5syajdqf8w4ibp7766cfsv3")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase32(s)
		if err != nil {
			return
		}
		if got := EncodeBase32(b); got != s {
			t.Fatalf("DecodeBase32(%q) re-encodes as %q", s, got)
		}
	})
}

// FuzzJudge: signature and ACL s-expressions from the stream never panic the judge, and only a
// signature that really verifies is valid.
func FuzzJudge(f *testing.F) {
	dir := testenv.GuixVectors(f)
	acl, _ := os.ReadFile(filepath.Join(dir, "two-acl"))
	for _, name := range []string{"p2-only.export", "bad-signature.export", "unauthorized.export"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if i := bytes.Index(b, []byte("(signature")); i >= 0 {
			f.Add(acl, b[i:i+430])
		}
	}
	f.Add([]byte("(acl)"), []byte("(signature)"))
	f.Fuzz(func(t *testing.T, aclText, sig []byte) {
		a, err := ParseACL(aclText)
		if err != nil {
			return
		}
		ps, perr := parseSignature(sig)
		info := &ItemInfo{Signature: sig}
		if perr == nil {
			info.SignedHash = ps.hash
		}
		if a.Judge(info) == OutcomeValid {
			if !ps.hashOK || !ps.sigval {
				t.Fatalf("valid with a malformed data or sig-val")
			}
			key, err := publicKeyFromSexp(ps.pubkey)
			if err != nil || !verifyDigest(key.point, ps.hash, ps.r, ps.s) {
				t.Fatalf("valid without a verifying signature")
			}
		}
	})
}

// FuzzParseKey: key files never panic the parsers, and an accepted key writes back to a file
// that parses to the same key.
func FuzzParseKey(f *testing.F) {
	addVectorSeeds(f, "keys/signer1/signing-key.pub", "keys/signer1/signing-key.sec",
		"keys/rogue/signing-key.sec", "two-acl")
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParsePrivateKey(b); err == nil {
			text, _ := k.MarshalText()
			k2, err := ParsePrivateKey(text)
			if err != nil || k2.d != k.d || !k2.Public().Equal(k.Public()) {
				t.Fatalf("secret key round trip: %v", err)
			}
		}
		if p, err := ParsePublicKey(b); err == nil {
			text, _ := p.MarshalText()
			p2, err := ParsePublicKey(text)
			if err != nil || !p2.Equal(p) {
				t.Fatalf("public key round trip: %v", err)
			}
		}
	})
}
