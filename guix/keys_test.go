package guix

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestSignMatchesLibgcrypt signs each item of bundle.export with the key that signed it and
// requires the signature libgcrypt wrote, byte for byte (RFC 6979 is deterministic).
func TestSignMatchesLibgcrypt(t *testing.T) {
	dir := testenv.GuixVectors(t)
	keys := map[int]string{0: "signer1", 1: "signer1", 2: "signer1", 3: "signer2"}
	f, err := os.Open(filepath.Join(dir, "bundle.export"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	er := NewExportReader(f)
	for i := 0; i < 4; i++ {
		it, err := er.Next()
		if err != nil {
			t.Fatal(err)
		}
		info, err := it.Trailer()
		if err != nil {
			t.Fatal(err)
		}
		sec, err := os.ReadFile(filepath.Join(dir, "keys", keys[i], "signing-key.sec"))
		if err != nil {
			t.Fatal(err)
		}
		key, err := ParsePrivateKey(sec)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := key.Sign(info.SignedHash)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sig, info.Signature) {
			t.Errorf("item %d: ours\n%s\nlibgcrypt's\n%s", i, sig, info.Signature)
		}
	}
}

// TestKeyFilesRoundTrip parses the vectors' key files and writes them back byte for byte.
func TestKeyFilesRoundTrip(t *testing.T) {
	dir := testenv.GuixVectors(t)
	for _, who := range []string{"signer1", "signer2", "rogue"} {
		sec, err := os.ReadFile(filepath.Join(dir, "keys", who, "signing-key.sec"))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(filepath.Join(dir, "keys", who, "signing-key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(sec)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		p, err := ParsePublicKey(pub)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if !p.Equal(k.Public()) {
			t.Errorf("%s: public key file does not match the secret key", who)
		}
		if got, _ := k.MarshalText(); !bytes.Equal(got, sec) {
			t.Errorf("%s: secret key written as\n%q\nwant\n%q", who, got, sec)
		}
		if got, _ := p.MarshalText(); !bytes.Equal(got, pub) {
			t.Errorf("%s: public key written as\n%q\nwant\n%q", who, got, pub)
		}
	}
	// two-acl is what `guix archive --authorize` wrote for signer1 then signer2.
	acl, err := os.ReadFile(filepath.Join(dir, "two-acl"))
	if err != nil {
		t.Fatal(err)
	}
	var pubs []*PublicKey
	for _, who := range []string{"signer1", "signer2"} {
		b, _ := os.ReadFile(filepath.Join(dir, "keys", who, "signing-key.pub"))
		p, err := ParsePublicKey(b)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
	}
	if got, _ := NewACL(pubs...).MarshalText(); !bytes.Equal(got, acl) {
		t.Errorf("ACL written as\n%q\nwant\n%q", got, acl)
	}
}

// TestResignVectors re-signs bundle.export with a fresh key and checks that the result verifies
// under an ACL of that key alone, and that only the signatures changed.
func TestResignVectors(t *testing.T) {
	dir := testenv.GuixVectors(t)
	in, err := os.ReadFile(filepath.Join(dir, "bundle.export"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := GenerateKey(testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ResignExport(context.Background(), &out, bytes.NewReader(in), key); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyExport(context.Background(), bytes.NewReader(out.Bytes()), NewACL(key.Public()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Accept || len(rep.Items) != 4 {
		t.Fatalf("re-signed bundle: accept=%v items=%+v", rep.Accept, rep.Items)
	}
	// Under the original ACL every item is now unauthorized.
	rep, err = VerifyExport(context.Background(), bytes.NewReader(out.Bytes()), loadACL(t, filepath.Join(dir, "two-acl")), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range rep.Items {
		if it.Outcome != OutcomeUnauthorizedKey {
			t.Errorf("item %d: %s under the old ACL", it.Index, it.Outcome)
		}
	}
}
