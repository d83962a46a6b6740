package guix

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"

	"github.com/airlock-appliance/airlock/guix/internal/sexp"
)

// ErrKey is wrapped by every error about a malformed key file or key s-expression.
var ErrKey = errors.New("invalid Guix key")

// PublicKey is a Guix signing public key: the Ed25519 point q of an ECDSA key.
type PublicKey struct {
	q     [32]byte
	point *edwards25519.Point
}

// PrivateKey is a Guix signing key. It is never written anywhere except by MarshalText.
type PrivateKey struct {
	// d is the secret integer, big-endian, as libgcrypt stores it: for Guix keys a clamped
	// 255-bit value (bit 254 set, low 3 bits clear), not reduced mod n. Arithmetic uses d mod n;
	// RFC 6979 hashes these bytes as they are, as libgcrypt does.
	d   [32]byte
	pub PublicKey
}

// GenerateKey returns a new key made as libgcrypt 1.10 makes the keys of
// `guix archive --generate-key` ((genkey (ecdsa (curve Ed25519) (flags rfc6979)))): 32 random
// bytes from rand (crypto/rand.Reader in production) read as a big-endian integer and clamped
// like an X25519 scalar (bit 255 cleared, bit 254 set, the 3 low bits cleared).
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	for {
		var d [32]byte
		if _, err := io.ReadFull(rand, d[:]); err != nil {
			return nil, fmt.Errorf("generate Guix key: %w", err)
		}
		d[0] = d[0]&0x7f | 0x40
		d[31] &= 0xf8
		ds := scalarToBE(scalarFromBE(d[:]))
		if isZero32(&ds) == 1 { // d a multiple of n: never happens, but d mod n must not be 0
			continue
		}
		return newPrivateKey(d), nil
	}
}

func newPrivateKey(d [32]byte) *PrivateKey {
	k := &PrivateKey{d: d}
	p := new(edwards25519.Point).ScalarBaseMult(scalarFromBE(d[:]))
	copy(k.pub.q[:], p.Bytes())
	k.pub.point = p
	return k
}

// Public returns the public half of k.
func (k *PrivateKey) Public() *PublicKey { return &k.pub }

// Bytes returns the 32-byte RFC 8032 encoding of the point q.
func (k *PublicKey) Bytes() []byte { return append([]byte(nil), k.q[:]...) }

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool { return o != nil && k.q == o.q }

func (k *PublicKey) sexp() *sexp.Node {
	return sexp.L(sexp.S("public-key"), sexp.L(sexp.S("ecc"), sexp.L(sexp.S("curve"), sexp.S("Ed25519")),
		sexp.L(sexp.S("q"), sexp.A(k.q[:]))))
}

// MarshalText returns the key in the advanced s-expression format of /etc/guix/signing-key.pub:
// (public-key (ecc (curve Ed25519) (q #HEX#))).
func (k *PublicKey) MarshalText() ([]byte, error) { return sexp.Advanced(k.sexp()), nil }

// MarshalText returns the key in the format of /etc/guix/signing-key.sec:
// (private-key (ecc (curve Ed25519) (q #HEX#) (d #HEX#))), d minimal-length big-endian.
func (k *PrivateKey) MarshalText() ([]byte, error) {
	n := sexp.L(sexp.S("private-key"), sexp.L(sexp.S("ecc"), sexp.L(sexp.S("curve"), sexp.S("Ed25519")),
		sexp.L(sexp.S("q"), sexp.A(k.pub.q[:])), sexp.L(sexp.S("d"), sexp.A(minimalBE(k.d[:])))))
	return sexp.Advanced(n), nil
}

// ParsePublicKey parses a public key file or s-expression (advanced or canonical).
func ParsePublicKey(b []byte) (*PublicKey, error) {
	n, err := sexp.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return publicKeyFromSexp(n)
}

// eccParams checks that n is (TOP (ecc (curve Ed25519) (q …) …)) and returns the ecc list.
func eccParams(n *sexp.Node, top string) (*sexp.Node, error) {
	if n.Head() != top {
		return nil, fmt.Errorf("%w: want (%s ...), got (%s ...)", ErrKey, top, n.Head())
	}
	if len(n.List) != 2 || n.List[1].Head() != "ecc" {
		return nil, fmt.Errorf("%w: want (%s (ecc ...))", ErrKey, top)
	}
	ecc := n.List[1]
	curve := ecc.Find("curve")
	if curve == nil || string(curve.Value()) != "Ed25519" {
		return nil, fmt.Errorf("%w: curve is not Ed25519", ErrKey)
	}
	return ecc, nil
}

func publicKeyFromSexp(n *sexp.Node) (*PublicKey, error) {
	ecc, err := eccParams(n, "public-key")
	if err != nil {
		return nil, err
	}
	if len(ecc.List) != 3 {
		return nil, fmt.Errorf("%w: want exactly (curve ...) and (q ...)", ErrKey)
	}
	return pointFromQ(ecc.Find("q").Value())
}

func pointFromQ(q []byte) (*PublicKey, error) {
	if len(q) != 32 {
		return nil, fmt.Errorf("%w: q has %d bytes, want 32", ErrKey, len(q))
	}
	p, err := new(edwards25519.Point).SetBytes(q)
	if err != nil {
		return nil, fmt.Errorf("%w: q is not a point: %v", ErrKey, err)
	}
	k := &PublicKey{point: p}
	copy(k.q[:], q)
	return k, nil
}

// ParsePrivateKey parses a secret key file as `guix archive --generate-key` writes it. It
// checks that q is d·G.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	n, err := sexp.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	ecc, err := eccParams(n, "private-key")
	if err != nil {
		return nil, err
	}
	if len(ecc.List) != 4 {
		return nil, fmt.Errorf("%w: want exactly (curve ...), (q ...) and (d ...)", ErrKey)
	}
	db := ecc.Find("d").Value()
	// Parsing may branch on d's leading zero bytes (there are none in a libgcrypt Ed25519 key,
	// whose bit 254 is set); signing does not branch on d.
	for len(db) > 0 && db[0] == 0 {
		db = db[1:]
	}
	if len(db) == 0 || len(db) > 32 {
		return nil, fmt.Errorf("%w: d out of range", ErrKey)
	}
	var d [32]byte
	copy(d[32-len(db):], db)
	if ds := scalarToBE(scalarFromBE(d[:])); isZero32(&ds) == 1 {
		return nil, fmt.Errorf("%w: d is 0 mod n", ErrKey)
	}
	k := newPrivateKey(d)
	q := ecc.Find("q").Value()
	if subtle.ConstantTimeCompare(q, k.pub.q[:]) != 1 {
		return nil, fmt.Errorf("%w: q is not the public key of d", ErrKey)
	}
	return k, nil
}

// Sign signs a SHA-256 digest (of an export item's signed span) and returns the signature in
// the form Guix puts in export streams, byte for byte what `guix authenticate sign` prints:
//
//	(signature (data (flags rfc6979) (hash sha256 #H#))
//	           (sig-val (ecdsa (r #R#) (s #S#)))
//	           (public-key (ecc (curve Ed25519) (q #Q#))))
//
// in libgcrypt's advanced format. RFC 6979 makes it deterministic.
func (k *PrivateKey) Sign(digest [32]byte) ([]byte, error) {
	r, s := signDigest(&k.d, digest)
	return sexp.Advanced(signatureSexp(digest, r[:], s[:], k.pub.sexp())), nil
}

func signatureSexp(digest [32]byte, r, s []byte, pub *sexp.Node) *sexp.Node {
	return sexp.L(sexp.S("signature"),
		sexp.L(sexp.S("data"), sexp.L(sexp.S("flags"), sexp.S("rfc6979")),
			sexp.L(sexp.S("hash"), sexp.S("sha256"), sexp.A(digest[:]))),
		sexp.L(sexp.S("sig-val"), sexp.L(sexp.S("ecdsa"),
			sexp.L(sexp.S("r"), sexp.A(minimalBE(r))), sexp.L(sexp.S("s"), sexp.A(minimalBE(s))))),
		pub)
}
