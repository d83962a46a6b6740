package guix

import "github.com/airlock-appliance/airlock/guix/internal/sexp"

// Keys returns the authorized Ed25519 keys, in ACL order. Entries holding keys of another kind
// (which Guix never signs with) are not returned; OtherKeys counts them.
func (a *ACL) Keys() []*PublicKey {
	var out []*PublicKey
	for _, n := range a.keys {
		if k, err := publicKeyFromSexp(n); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// OtherKeys is the number of authorized keys that are not Ed25519 keys.
func (a *ACL) OtherKeys() int { return len(a.keys) - len(a.Keys()) }

// Authorize adds k as `guix archive --authorize` does: in front of the keys already there, and
// a key already authorized moves to the front instead of being listed twice (Guix 1.5: authorizing
// A then B writes (B A); A, B, A writes (A B)). It reports whether k was new.
func (a *ACL) Authorize(k *PublicKey) bool {
	added := !a.Deauthorize(k)
	a.keys = append([]*sexp.Node{k.sexp()}, a.keys...)
	return added
}

// Deauthorize removes k and reports whether it was there.
func (a *ACL) Deauthorize(k *PublicKey) bool {
	kept := a.keys[:0]
	for _, n := range a.keys {
		if !sexp.Equal(n, k.sexp()) {
			kept = append(kept, n)
		}
	}
	removed := len(kept) != len(a.keys)
	a.keys = kept
	return removed
}
