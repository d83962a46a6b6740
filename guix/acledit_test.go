package guix

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestAuthorizeOrder: Authorize orders keys as guix archive --authorize 1.5 does (measured with
// the real Guix: A then B gives (B A); A, B, A gives (A B)), and MarshalText writes the file Guix
// writes.
func TestAuthorizeOrder(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	acl := NewACL()
	if !acl.Authorize(a.Public()) || !acl.Authorize(b.Public()) {
		t.Fatal("new keys not reported as added")
	}
	if ks := acl.Keys(); len(ks) != 2 || !ks[0].Equal(b.Public()) || !ks[1].Equal(a.Public()) {
		t.Fatalf("A then B: %v", ks)
	}
	if acl.Authorize(a.Public()) {
		t.Fatal("A authorized again reported as new")
	}
	if ks := acl.Keys(); len(ks) != 2 || !ks[0].Equal(a.Public()) || !ks[1].Equal(b.Public()) {
		t.Fatalf("A, B, A: %v", ks)
	}
	text, _ := acl.MarshalText()
	back, err := ParseACL(text)
	if err != nil || back.Len() != 2 {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if !acl.Deauthorize(b.Public()) || acl.Deauthorize(b.Public()) || acl.Len() != 1 {
		t.Fatalf("Deauthorize: %d keys left", acl.Len())
	}
	if again, _ := back.MarshalText(); !bytes.Equal(again, text) {
		t.Fatal("ACL text not stable over a round trip")
	}
}

func mustKey(t *testing.T) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
