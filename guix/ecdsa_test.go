package guix

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/airlock-appliance/airlock/guix/internal/sexp"
)

// TestSignVerifyRoundTrip signs thousands of random digests with random keys and verifies each
// through the full path (s-expression text, ACL, Judge), checks that a changed digest, r, s or
// key is refused, and that signatures with r or s shorter than 32 bytes occur and verify.
func TestSignVerifyRoundTrip(t *testing.T) {
	n := 3000
	if testing.Short() || raceEnabled {
		n = 300 // the plain `go test` run does the thousands
	}
	rnd := testRand(99)
	shortR, shortS := 0, 0
	var key *PrivateKey
	var acl *ACL
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			var err error
			if key, err = GenerateKey(rnd); err != nil {
				t.Fatal(err)
			}
			acl = NewACL(key.Public())
		}
		var d [32]byte
		rnd.Read(d[:])
		sig, err := key.Sign(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := acl.Judge(&ItemInfo{Signature: sig, SignedHash: d}); got != OutcomeValid {
			t.Fatalf("iteration %d: %s for %s", i, got, sig)
		}
		ps, err := parseSignature(sig)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps.r) < 32 {
			shortR++
		}
		if len(ps.s) < 32 {
			shortS++
		}
		if len(ps.r) > 32 || len(ps.s) > 32 || ps.r[0] == 0 || ps.s[0] == 0 {
			t.Fatalf("r/s not minimal: %x %x", ps.r, ps.s)
		}
		if i%7 == 0 {
			d2 := d
			d2[i%32] ^= 1 << (i % 8)
			if verifyDigest(key.pub.point, d2, ps.r, ps.s) {
				t.Fatalf("iteration %d: verifies for another digest", i)
			}
			r2 := bytes.Clone(ps.r)
			r2[len(r2)-1] ^= 1
			if verifyDigest(key.pub.point, d, r2, ps.s) {
				t.Fatalf("iteration %d: verifies with another r", i)
			}
			s2 := bytes.Clone(ps.s)
			s2[len(s2)/2] ^= 0x10
			if verifyDigest(key.pub.point, d, ps.r, s2) {
				t.Fatalf("iteration %d: verifies with another s", i)
			}
			other, _ := GenerateKey(rnd)
			if verifyDigest(other.pub.point, d, ps.r, ps.s) {
				t.Fatalf("iteration %d: verifies with another key", i)
			}
		}
	}
	// r and s are close to uniform below n ≈ 2^252: about 1 in 16 is below 2^248.
	if shortR == 0 || shortS == 0 {
		t.Errorf("no short r (%d) or s (%d) in %d signatures", shortR, shortS, n)
	}
	t.Logf("%d signatures, %d with a short r, %d with a short s", n, shortR, shortS)
}

// TestVerifyReference recomputes the verification equation with math/big and the Edwards
// addition law for a few signatures, independently of the edwards25519 package: the x
// coordinate of (e/s)·G + (r/s)·Q mod n must equal r.
func TestVerifyReference(t *testing.T) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	nInt := new(big.Int).SetBytes(groupOrder[:])
	// d = -121665/121666 mod p
	dc := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	dc.Mod(dc, p)
	type pt struct{ x, y *big.Int }
	add := func(a, b pt) pt {
		x1y2 := new(big.Int).Mul(a.x, b.y)
		y1x2 := new(big.Int).Mul(a.y, b.x)
		y1y2 := new(big.Int).Mul(a.y, b.y)
		x1x2 := new(big.Int).Mul(a.x, b.x)
		t := new(big.Int).Mul(dc, new(big.Int).Mul(x1x2, y1y2))
		t.Mod(t, p)
		den1 := new(big.Int).Add(big.NewInt(1), t)
		den2 := new(big.Int).Sub(big.NewInt(1), t)
		x := new(big.Int).Mul(new(big.Int).Add(x1y2, y1x2), new(big.Int).ModInverse(den1.Mod(den1, p), p))
		y := new(big.Int).Mul(new(big.Int).Add(y1y2, x1x2), new(big.Int).ModInverse(den2.Mod(den2, p), p))
		return pt{x.Mod(x, p), y.Mod(y, p)}
	}
	mul := func(k *big.Int, a pt) pt {
		r := pt{big.NewInt(0), big.NewInt(1)}
		for i := k.BitLen() - 1; i >= 0; i-- {
			r = add(r, r)
			if k.Bit(i) == 1 {
				r = add(r, a)
			}
		}
		return r
	}
	// Base point: y = 4/5, x positive (even).
	gy := new(big.Int).Mul(big.NewInt(4), new(big.Int).ModInverse(big.NewInt(5), p))
	gy.Mod(gy, p)
	gx, _ := new(big.Int).SetString("15112221349535400772501151409588531511454012693041857206046113283949847762202", 10)
	G := pt{gx, gy}
	rnd := testRand(5)
	for i := 0; i < 5; i++ {
		key, _ := GenerateKey(rnd)
		var dg [32]byte
		rnd.Read(dg[:])
		sig, _ := key.Sign(dg)
		ps, err := parseSignature(sig)
		if err != nil {
			t.Fatal(err)
		}
		dInt := new(big.Int).SetBytes(key.d[:])
		Q := mul(dInt, G)
		// q in the signature is the RFC 8032 encoding of Q: y little-endian, sign of x on top.
		enc := make([]byte, 32)
		Q.y.FillBytes(enc)
		for a, b := 0, 31; a < b; a, b = a+1, b-1 {
			enc[a], enc[b] = enc[b], enc[a]
		}
		if Q.x.Bit(0) == 1 {
			enc[31] |= 0x80
		}
		if !bytes.Equal(enc, key.pub.q[:]) {
			t.Fatalf("q = %x, reference %x", key.pub.q, enc)
		}
		e := new(big.Int).Rsh(new(big.Int).SetBytes(dg[:]), 3)
		r, s := new(big.Int).SetBytes(ps.r), new(big.Int).SetBytes(ps.s)
		w := new(big.Int).ModInverse(s, nInt)
		u1 := new(big.Int).Mod(new(big.Int).Mul(e, w), nInt)
		u2 := new(big.Int).Mod(new(big.Int).Mul(r, w), nInt)
		X := add(mul(u1, G), mul(u2, Q))
		if new(big.Int).Mod(X.x, nInt).Cmp(r) != 0 {
			t.Errorf("signature %d does not satisfy the reference equation", i)
		}
	}
}

func TestGenerateKeyShape(t *testing.T) {
	k, err := GenerateKey(testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if k.d[0]&0xc0 != 0x40 || k.d[31]&7 != 0 {
		t.Errorf("d %x is not clamped like libgcrypt's Ed25519 ECDSA keys", k.d)
	}
	sec, _ := k.MarshalText()
	k2, err := ParsePrivateKey(sec)
	if err != nil || k2.d != k.d || !k2.Public().Equal(k.Public()) {
		t.Errorf("round trip: %v", err)
	}
	pub, _ := k.Public().MarshalText()
	if p, err := ParsePublicKey(pub); err != nil || !p.Equal(k.Public()) {
		t.Errorf("public round trip: %v", err)
	}
	// Canonical encodings parse the same.
	n, _ := sexp.Parse(sec)
	if k3, err := ParsePrivateKey(sexp.Canonical(n)); err != nil || k3.d != k.d {
		t.Errorf("canonical secret key: %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateKey with an empty random source succeeded")
	}
}

func TestParseKeyRejects(t *testing.T) {
	k, _ := GenerateKey(testRand(2))
	sec, _ := k.MarshalText()
	other, _ := GenerateKey(testRand(3))
	osec, _ := other.MarshalText()
	for name, b := range map[string][]byte{
		"not a sexp":     []byte("nope"),
		"public as sec":  mustText(k.Public()),
		"wrong curve":    bytes.Replace(sec, []byte("Ed25519"), []byte("NIST P-256"), 1),
		"q of other key": append(append([]byte{}, osec[:bytes.Index(osec, []byte("(d"))]...), sec[bytes.Index(sec, []byte("(d")):]...),
		"d zero":         []byte("(private-key (ecc (curve Ed25519) (q #" + string(hexOf(k.pub.q[:])) + "#) (d #00#)))"),
		"extra element":  []byte("(private-key (ecc (curve Ed25519) (q #00#) (d #01#) (e #02#)))"),
	} {
		if _, err := ParsePrivateKey(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, b := range map[string][]byte{
		"short q":   []byte("(public-key (ecc (curve Ed25519) (q #0102#)))"),
		"not point": []byte("(public-key (ecc (curve Ed25519) (q #" + notAPoint(t) + "#)))"),
		"no curve":  []byte("(public-key (ecc (q #00#)))"),
		"secret":    sec,
	} {
		if _, err := ParsePublicKey(b); err == nil {
			t.Errorf("public %s: accepted", name)
		}
	}
}

// notAPoint returns the hex of 32 bytes that are not the encoding of a curve point.
func notAPoint(t *testing.T) string {
	for y := byte(2); y < 255; y++ {
		var q [32]byte
		q[0] = y
		if _, err := pointFromQ(q[:]); err != nil {
			return string(hexOf(q[:]))
		}
	}
	t.Fatal("no invalid encoding found")
	return ""
}

func mustText(k *PublicKey) []byte { b, _ := k.MarshalText(); return b }
