package guix

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// ECDSA on the Edwards25519 group, as libgcrypt computes it for Guix keys
// ((genkey (ecdsa (curve Ed25519) (flags rfc6979)))). These are not EdDSA signatures:
//
//   - n = 2^252 + 27742317777372353535851937790883648493, G = the Ed25519 base point;
//   - the secret d is a big-endian integer (clamped, not reduced mod n); the public key q is the RFC 8032
//     encoding of d·G;
//   - e = SHA-256 digest as a big-endian integer >> 3 (truncated to n's 253 bits);
//   - signing: k from RFC 6979 (HMAC-SHA-256), r = x(k·G) mod n, s = k⁻¹(e + r·d) mod n,
//     where x is the affine Edwards x coordinate as an integer;
//   - verifying: 0 < r, s < n and x((e·s⁻¹)·G + (r·s⁻¹)·Q) mod n == r.
//
// Scalars mod n are edwards25519.Scalar values (fiat-crypto, constant time). Big-endian
// integers are converted to Scalar by reversing to little endian and reducing 64 zero-extended
// bytes with SetUniformBytes, which is constant time; SetCanonicalBytes is not used on secrets
// because its range check returns early.

// groupOrder is n, big-endian.
var groupOrder = [32]byte{
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x14, 0xde, 0xf9, 0xde, 0xa2, 0xf7, 0x9c, 0xd6, 0x58, 0x12, 0x63, 0x1a, 0x5c, 0xf5, 0xd3, 0xed,
}

// scalarFromBE reduces a big-endian integer of at most 32 bytes mod n in constant time.
func scalarFromBE(b []byte) *edwards25519.Scalar {
	var wide [64]byte
	for i := 0; i < len(b); i++ {
		wide[i] = b[len(b)-1-i]
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(wide[:])
	if err != nil {
		panic("guix: internal error: " + err.Error()) // 64 bytes always fit
	}
	return s
}

// scalarToBE returns s as 32 big-endian bytes.
func scalarToBE(s *edwards25519.Scalar) [32]byte {
	var out [32]byte
	le := s.Bytes()
	for i := 0; i < 32; i++ {
		out[i] = le[31-i]
	}
	return out
}

// lessThanN reports, in constant time, whether the 32-byte big-endian b is below n (1 or 0).
func lessThanN(b *[32]byte) int {
	// Compute b - n with a borrow chain from the least significant byte; b < n iff it borrows.
	borrow := 0
	for i := 31; i >= 0; i-- {
		d := int(b[i]) - int(groupOrder[i]) - borrow
		borrow = (d >> 8) & 1
	}
	return borrow
}

// isZero32 reports, in constant time, whether b is all zeros (1 or 0).
func isZero32(b *[32]byte) int {
	var z [32]byte
	return subtle.ConstantTimeCompare(b[:], z[:])
}

// hashToInt is e: the digest as a big-endian integer shifted right by 3, as 32 big-endian bytes.
func hashToInt(digest [32]byte) [32]byte {
	var e [32]byte
	for i := 31; i >= 0; i-- {
		v := digest[i] >> 3
		if i > 0 {
			v |= digest[i-1] << 5
		}
		e[i] = v
	}
	return e
}

// xModN returns the affine x coordinate of p reduced mod n. For a secret point (k·G) this is
// constant time: field inversion and multiplication are, and so is the reduction.
func xModN(p *edwards25519.Point) *edwards25519.Scalar {
	X, _, Z, _ := p.ExtendedCoordinates()
	zinv := new(field.Element).Invert(Z)
	x := new(field.Element).Multiply(X, zinv)
	var wide [64]byte
	copy(wide[:], x.Bytes()) // canonical little-endian, < p < 2^255
	s, _ := edwards25519.NewScalar().SetUniformBytes(wide[:])
	return s
}

// rfc6979 yields the candidate nonces of RFC 6979 section 3.2 for qlen = 253 with HMAC-SHA-256,
// as libgcrypt's _gcry_dsa_gen_rfc6979_k does. x is the secret key and h1 the message digest.
type rfc6979 struct {
	k, v [32]byte
}

func newRFC6979(x, h1 *[32]byte) *rfc6979 {
	// bits2octets(h1): bits2int takes the leftmost 253 bits (e), then reduce once mod n.
	e := hashToInt(*h1)
	z2 := scalarToBE(scalarFromBE(e[:]))
	g := &rfc6979{}
	for i := range g.v {
		g.v[i] = 1
	}
	g.k = g.mac(g.v[:], []byte{0}, x[:], z2[:])
	g.v = g.mac(g.v[:])
	g.k = g.mac(g.v[:], []byte{1}, x[:], z2[:])
	g.v = g.mac(g.v[:])
	return g
}

func (g *rfc6979) mac(parts ...[]byte) [32]byte {
	m := hmac.New(sha256.New, g.k[:])
	for _, p := range parts {
		m.Write(p)
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// next returns the next candidate k = bits2int(T) (T = one HMAC block, 256 >= 253 bits) and
// whether it is in [1, n-1]. After a candidate, K and V are updated as step h.3 prescribes, so
// that calling next again gives the next candidate.
func (g *rfc6979) next() (k [32]byte, ok int) {
	g.v = g.mac(g.v[:])
	k = hashToInt(g.v) // bits2int: leftmost 253 bits of T
	ok = lessThanN(&k) & (1 - isZero32(&k))
	g.k = g.mac(g.v[:], []byte{0})
	g.v = g.mac(g.v[:])
	return k, ok
}

// signDigest computes (r, s) as 32-byte big-endian values.
//
// What is and is not constant time: the nonce loop of RFC 6979 runs until a candidate falls in
// [1, n-1] (about half of them do not, since candidates have 253 bits and n ≈ 2^252). The number
// of iterations depends only on rejected candidates, which are independent of the accepted k,
// so it reveals nothing about k or d; this is the rejection sampling every RFC 6979
// implementation (libgcrypt's included) does. Each candidate's range check is branch-free.
// Everything else touching d or k is constant time: HMAC-SHA-256, Scalar arithmetic (fiat),
// ScalarBaseMult, field inversion, SetUniformBytes. r and s are public outputs; converting them
// to minimal-length encodings branches on them, which is fine. The retry on r == 0 or s == 0
// (probability ~2^-252) branches on public values too.
func signDigest(d *[32]byte, digest [32]byte) (r, s [32]byte) {
	g := newRFC6979(d, &digest)
	dS := scalarFromBE(d[:])
	e := hashToInt(digest)
	eS := scalarFromBE(e[:])
	for {
		k, ok := g.next()
		if ok == 0 {
			continue
		}
		kS := scalarFromBE(k[:])
		R := new(edwards25519.Point).ScalarBaseMult(kS)
		rS := xModN(R)
		r = scalarToBE(rS)
		if isZero32(&r) == 1 {
			continue
		}
		kinv := new(edwards25519.Scalar).Invert(kS)
		sS := new(edwards25519.Scalar).MultiplyAdd(rS, dS, eS) // e + r·d
		sS.Multiply(sS, kinv)
		s = scalarToBE(sS)
		if isZero32(&s) == 1 {
			continue
		}
		return r, s
	}
}

var errBadScalar = errors.New("integer out of range")

// publicScalar parses a big-endian integer from a signature (public data) and requires
// 0 < v < n. Leading zero bytes are allowed (libgcrypt ignores them).
func publicScalar(b []byte) (*edwards25519.Scalar, error) {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 32 {
		return nil, errBadScalar
	}
	var v [32]byte
	copy(v[32-len(b):], b)
	if lessThanN(&v) == 0 {
		return nil, errBadScalar
	}
	return scalarFromBE(v[:]), nil
}

// verifyDigest checks (r, s) over digest for the public point q (variable time: all inputs
// are public).
func verifyDigest(q *edwards25519.Point, digest [32]byte, rb, sb []byte) bool {
	r, err := publicScalar(rb)
	if err != nil {
		return false
	}
	s, err := publicScalar(sb)
	if err != nil {
		return false
	}
	e := hashToInt(digest)
	eS := scalarFromBE(e[:])
	w := new(edwards25519.Scalar).Invert(s)
	u1 := new(edwards25519.Scalar).Multiply(eS, w)
	u2 := new(edwards25519.Scalar).Multiply(r, w)
	P := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(u2, q, u1)
	if P.Equal(edwards25519.NewIdentityPoint()) == 1 {
		return false
	}
	return xModN(P).Equal(r) == 1
}

// minimalBE strips leading zero bytes, as libgcrypt's %M prints an MPI (at least one byte).
func minimalBE(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
