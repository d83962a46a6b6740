package guix

import (
	"errors"
	"fmt"

	"github.com/airlock-appliance/airlock/guix/internal/sexp"
)

// ErrACL is wrapped by every error about a malformed ACL file.
var ErrACL = errors.New("invalid Guix ACL")

// ACL is the set of keys authorized to sign imports, as in /etc/guix/acl.
type ACL struct {
	keys []*sexp.Node // public-key s-expressions of entries tagged (guix import)
}

// ParseACL parses an ACL file as `guix archive --authorize` writes it:
//
//	(acl (entry (public-key …) (tag (guix import))) …)
//
// Only entries tagged (guix import) authorize anything; others are ignored as Guix ignores them.
func ParseACL(b []byte) (*ACL, error) {
	n, err := sexp.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrACL, err)
	}
	if n.Head() != "acl" {
		return nil, fmt.Errorf("%w: want (acl ...), got (%s ...)", ErrACL, n.Head())
	}
	acl := &ACL{}
	for i, e := range n.List[1:] {
		if e.Head() != "entry" || len(e.List) < 2 {
			return nil, fmt.Errorf("%w: element %d is not (entry KEY (tag ...))", ErrACL, i)
		}
		key := e.List[1]
		if key.Head() != "public-key" {
			return nil, fmt.Errorf("%w: entry %d: want (public-key ...), got (%s ...)", ErrACL, i, key.Head())
		}
		tag := e.Find("tag")
		if tag == nil {
			return nil, fmt.Errorf("%w: entry %d has no (tag ...)", ErrACL, i)
		}
		for _, t := range tag.List[1:] {
			if sexp.Equal(t, sexp.L(sexp.S("guix"), sexp.S("import"))) {
				acl.keys = append(acl.keys, key)
				break
			}
		}
	}
	return acl, nil
}

// NewACL returns an ACL authorizing exactly the given keys.
func NewACL(keys ...*PublicKey) *ACL {
	acl := &ACL{}
	for _, k := range keys {
		acl.keys = append(acl.keys, k.sexp())
	}
	return acl
}

// MarshalText writes the ACL as `guix archive --authorize` does.
func (a *ACL) MarshalText() ([]byte, error) {
	n := sexp.L(sexp.S("acl"))
	for _, k := range a.keys {
		n.List = append(n.List, sexp.L(sexp.S("entry"), k, sexp.L(sexp.S("tag"), sexp.L(sexp.S("guix"), sexp.S("import")))))
	}
	return sexp.Advanced(n), nil
}

// Len is the number of authorized keys.
func (a *ACL) Len() int { return len(a.keys) }

func (a *ACL) authorizes(key *sexp.Node) bool {
	for _, k := range a.keys {
		if sexp.Equal(k, key) {
			return true
		}
	}
	return false
}

// Outcome is the verdict on one export item. The strings are those of the vectors'
// expected.json.
type Outcome string

// Per-item outcomes, in the order guix-daemon checks (the first failing check wins).
const (
	OutcomeTruncated        Outcome = "truncated"         // the stream ends inside the item
	OutcomeMalformed        Outcome = "malformed"         // the item breaks the format
	OutcomeUnsigned         Outcome = "unsigned"          // signature flag 0
	OutcomeCorruptSignature Outcome = "corrupt-signature" // not a (signature (data ...) ... (public-key ...))
	OutcomeUnauthorizedKey  Outcome = "unauthorized-key"  // signer not in the ACL
	OutcomeInvalidSignature Outcome = "invalid-signature" // ECDSA verification fails
	OutcomeHashMismatch     Outcome = "hash-mismatch"     // signed hash is not the hash of the span
	OutcomeMissingReference Outcome = "missing-reference" // a reference is neither earlier nor present
	OutcomeValid            Outcome = "valid"
)

// parsedSig is a signature split into the parts Guix looks at.
type parsedSig struct {
	pubkey *sexp.Node
	hash   [32]byte
	hashOK bool // the data is (data (flags rfc6979) (hash sha256 #32 bytes#))
	r, s   []byte
	sigval bool // the sig-val has the (ecdsa (r …) (s …)) shape
}

// parseSignature extracts what `guix authenticate verify` extracts. It fails (a corrupt
// signature) when the text is not a (signature ...) s-expression or lacks the signed data or the
// public key. A data or sig-val of the wrong shape is not an error here: libgcrypt would fail to
// verify it, after the ACL check.
func parseSignature(b []byte) (*parsedSig, error) {
	n, err := sexp.Parse(b)
	if err != nil {
		return nil, err
	}
	if n.Head() != "signature" {
		return nil, fmt.Errorf("want (signature ...), got (%s ...)", n.Head())
	}
	data := n.Find("data")
	pub := n.Find("public-key")
	if data == nil || pub == nil {
		return nil, errors.New("signature lacks (data ...) or (public-key ...)")
	}
	ps := &parsedSig{pubkey: pub}
	flags, h := data.Find("flags"), data.Find("hash")
	if len(data.List) == 3 && flags != nil && string(flags.Value()) == "rfc6979" &&
		h != nil && len(h.List) == 3 && !h.List[1].IsList && string(h.List[1].Atom) == "sha256" &&
		!h.List[2].IsList && len(h.List[2].Atom) == 32 {
		copy(ps.hash[:], h.List[2].Atom)
		ps.hashOK = true
	}
	if sv := n.Find("sig-val"); sv != nil && len(sv.List) == 2 && sv.List[1].Head() == "ecdsa" {
		ec := sv.List[1]
		r, s := ec.Find("r").Value(), ec.Find("s").Value()
		if len(ec.List) == 3 && r != nil && s != nil {
			ps.r, ps.s, ps.sigval = r, s, true
		}
	}
	return ps, nil
}

// Judge returns the verdict of guix-daemon (with `guix authenticate`) on one item, checking in
// its order: unsigned, corrupt signature, unauthorized key, invalid signature, then the signed
// hash against the hash of the span. It is pure; references are judged by VerifyExport.
func (a *ACL) Judge(info *ItemInfo) Outcome {
	o, _ := a.judge(info)
	return o
}

// judge also returns a human-readable reason.
func (a *ACL) judge(info *ItemInfo) (Outcome, string) {
	o, why := checkSignature(info.Signature, info.SignedHash, a.authorizes)
	if o == OutcomeUnauthorizedKey {
		why = "signing key is not in the ACL"
	}
	return o, why
}

// checkSignature is the one copy of guix-daemon's (and `guix authenticate`'s) checks of a
// signature over signed, in their order: unsigned, corrupt signature, unauthorized key (per
// authorized, given the signature's public-key s-expression), invalid signature, then the
// signed hash against signed. Export items, narinfos and quorum votes all go through it.
func checkSignature(sig []byte, signed [32]byte, authorized func(*sexp.Node) bool) (Outcome, string) {
	if sig == nil {
		return OutcomeUnsigned, "signature flag is 0"
	}
	ps, err := parseSignature(sig)
	if err != nil {
		return OutcomeCorruptSignature, err.Error()
	}
	if !authorized(ps.pubkey) {
		return OutcomeUnauthorizedKey, "signing key is not authorized"
	}
	if !ps.hashOK {
		return OutcomeInvalidSignature, "signed data is not (data (flags rfc6979) (hash sha256 #32 bytes#))"
	}
	if !ps.sigval {
		return OutcomeInvalidSignature, "sig-val is not (ecdsa (r ...) (s ...))"
	}
	key, err := publicKeyFromSexp(ps.pubkey)
	if err != nil {
		return OutcomeInvalidSignature, err.Error()
	}
	if !verifyDigest(key.point, ps.hash, ps.r, ps.s) {
		return OutcomeInvalidSignature, "ECDSA signature does not verify"
	}
	if ps.hash != signed {
		return OutcomeHashMismatch, fmt.Sprintf("signed hash %x, actual %x", ps.hash, signed)
	}
	return OutcomeValid, ""
}
