// Package openpgp reads OpenPGP signatures and keyrings exactly as Guix 1.5's
// guix/openpgp.scm does (line numbers below are of that file at tag v1.5.0), and verifies
// signatures with the standard library's RSA, DSA and Ed25519. It deliberately does not use a
// general OpenPGP library's key model: Guix accepts expired keys and subkeys whose binding
// signatures it never checks, and a stricter reader would refuse channels Guix authenticates.
//
// Where Guix would read past the end of a truncated packet (Guile's get-bytevector-n returns
// fewer bytes), this reader refuses instead.
package openpgp

import (
	"bytes"
	"crypto"
	//lint:ignore SA1019 Guix accepts DSA keys (openpgp.scm:859).
	"crypto/dsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"unicode/utf8"

	//lint:ignore SA1019 Guix accepts RIPEMD-160 digests (openpgp.scm:331).
	"golang.org/x/crypto/ripemd160"
)

// Errors (wrapped with context).
var (
	ErrInvalid     = errors.New("invalid OpenPGP data")
	ErrUnsupported = errors.New("unsupported OpenPGP data")
	ErrBadSig      = errors.New("bad signature")
	ErrMissingKey  = errors.New("signing key missing from the keyring")
)

// Hash algorithm identifiers (openpgp.scm:329-335).
const (
	HashMD5    = 1
	HashSHA1   = 2
	HashRMD160 = 3
	HashSHA256 = 8
	HashSHA384 = 9
	HashSHA512 = 10
	HashSHA224 = 11
)

// Public-key algorithms Guix verifies (openpgp.scm:287-295).
const (
	AlgRSA   = 1
	AlgDSA   = 17
	AlgEdDSA = 22
)

// knownHash mirrors openpgp-hash-algorithm (openpgp.scm:337): any other id raises.
func knownHash(id byte) bool {
	switch id {
	case HashMD5, HashSHA1, HashRMD160, HashSHA256, HashSHA384, HashSHA512, HashSHA224:
		return true
	}
	return false
}

// HashName names a hash algorithm id as Guix prints it.
func HashName(id byte) string {
	return map[byte]string{1: "md5", 2: "sha1", 3: "rmd160", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}[id]
}

// Signature is a parsed signature packet (the <openpgp-signature> record, openpgp.scm:496).
type Signature struct {
	Version    byte
	Type       byte
	PKAlg      byte
	HashAlg    byte
	appendData []byte // hashed after the data (openpgp.scm:676-689)
	IssuerID   uint64
	HasID      bool
	IssuerFpr  []byte // nil when absent
	// Created, SigExpires and KeyExpires are the hashed creation time and the signature's
	// and key's validity periods in seconds (0: none), for Policy.Strict only: Guix reads
	// them (openpgp.scm:723-737) and checks none.
	Created, SigExpires, KeyExpires uint32
	hashedDone                      bool
	mpis                            [][]byte
}

// reader is a bounds-checked cursor.
type reader struct {
	b   []byte
	err error
}

func (r *reader) n(k int) []byte {
	if r.err != nil {
		return nil
	}
	if k < 0 || k > len(r.b) {
		r.err = fmt.Errorf("truncated: %w", ErrInvalid)
		return nil
	}
	v := r.b[:k]
	r.b = r.b[k:]
	return v
}
func (r *reader) u8() byte {
	v := r.n(1)
	if v == nil {
		return 0
	}
	return v[0]
}
func (r *reader) u16() int {
	v := r.n(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}
func (r *reader) u32() uint32 {
	v := r.n(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// mpi reads an MPI's bytes (get-mpi/bytevector, openpgp.scm:422).
func (r *reader) mpi() []byte {
	bits := r.u16()
	return r.n((bits + 7) / 8)
}

// v4Length is get-v4-length (openpgp.scm:430); partial lengths are read as Guix reads them.
func (r *reader) v4Length() int {
	o1 := r.u8()
	switch {
	case o1 < 192:
		return int(o1)
	case o1 < 255:
		return (int(o1)-192)<<8 + int(r.u8()) + 192
	default:
		return int(r.u32())
	}
}

// Packet tags Guix recognises (get-data, openpgp.scm:462-483); any other raises.
const (
	tagSignature = 2
	tagPublicKey = 6
	tagTrust     = 12
	tagUserID    = 13
	tagSubkey    = 14
	tagUserAttr  = 17
	tagOnePass   = 4
)

// nextPacket is get-packet* (openpgp.scm:446): it returns the tag and body.
func nextPacket(r *reader) (byte, []byte, error) {
	tag := r.u8()
	var t byte
	var body []byte
	if tag&0x40 != 0 {
		t = tag & 0x3f
		body = r.n(r.v4Length())
	} else {
		t = (tag >> 2) & 0x0f
		switch tag & 3 {
		case 0:
			body = r.n(int(r.u8()))
		case 1:
			body = r.n(r.u16())
		case 2:
			body = r.n(int(r.u32()))
		case 3:
			body = r.n(len(r.b)) // indeterminate length: the rest
		}
	}
	if r.err != nil {
		return 0, nil, r.err
	}
	switch t {
	case tagSignature, tagPublicKey, tagTrust, tagUserID, tagSubkey, tagUserAttr, tagOnePass:
		return t, body, nil
	}
	return 0, nil, fmt.Errorf("packet type %d: %w", t, ErrUnsupported)
}

// ParseSignaturePacket parses a signature packet body (get-signature, openpgp.scm:602).
func ParseSignaturePacket(body []byte) (*Signature, error) {
	r := &reader{b: body}
	s := &Signature{Version: r.u8()}
	switch s.Version {
	case 3: // openpgp.scm:641-663
		if hmlen := r.u8(); hmlen != 5 && r.err == nil {
			return nil, fmt.Errorf("v3 signature hashed length %d: %w", hmlen, ErrInvalid)
		}
		s.Type = r.u8()
		ctime := r.n(4)
		id := r.n(8)
		s.PKAlg, s.HashAlg = r.u8(), r.u8()
		r.n(2)
		if r.err != nil {
			return nil, r.err
		}
		s.appendData = append([]byte{s.Type}, ctime...)
		s.Created = binary.BigEndian.Uint32(ctime)
		s.IssuerID, s.HasID = binary.BigEndian.Uint64(id), true
	case 4: // openpgp.scm:664-713
		s.Type, s.PKAlg, s.HashAlg = r.u8(), r.u8(), r.u8()
		hashed := r.n(r.u16())
		unhashed := r.n(r.u16())
		r.n(2)
		if r.err != nil {
			return nil, r.err
		}
		n := len(hashed)
		s.appendData = append([]byte{4, s.Type, s.PKAlg, s.HashAlg, byte(n >> 8), byte(n)}, hashed...)
		s.appendData = append(s.appendData, 4, 0xff, byte((n+6)>>24), byte((n+6)>>16), byte((n+6)>>8), byte(n+6))
		// Hashed subpackets come first; assoc-ref takes the first match (openpgp.scm:693-697).
		for _, sp := range [][]byte{hashed, unhashed} {
			if err := s.parseSubpackets(sp); err != nil {
				return nil, err
			}
			s.hashedDone = true
		}
		// openpgp.scm:698-703.
		if s.HasID && s.IssuerFpr != nil && binary.BigEndian.Uint64(s.IssuerFpr[len(s.IssuerFpr)-8:]) != s.IssuerID {
			return nil, fmt.Errorf("issuer key id does not match the issuer fingerprint: %w", ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("signature version %d: %w", s.Version, ErrUnsupported)
	}
	if !knownHash(s.HashAlg) {
		return nil, fmt.Errorf("hash algorithm %d: %w", s.HashAlg, ErrInvalid)
	}
	// get-sig (openpgp.scm:606-638).
	switch s.PKAlg {
	case AlgRSA:
		s.mpis = [][]byte{r.mpi()}
	case AlgDSA, AlgEdDSA:
		s.mpis = [][]byte{r.mpi(), r.mpi()}
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// parseSubpackets is parse-subpackets (openpgp.scm:718-827), keeping what verification needs
// and raising where Guix raises.
func (s *Signature) parseSubpackets(b []byte) error {
	r := &reader{b: b}
	for len(r.b) > 0 && r.err == nil {
		l := r.v4Length() - 1
		tag := r.u8()
		data := r.n(l)
		if r.err != nil {
			return fmt.Errorf("subpacket: %w", r.err)
		}
		typ, critical := tag&0x7f, tag&0x80 != 0
		need := map[byte]int{2: 4, 3: 4, 5: 1, 7: 1, 9: 4, 16: 8, 25: 1, 29: 1, 33: 1, 20: 8}[typ]
		if len(data) < need {
			return fmt.Errorf("subpacket %d of %d bytes: %w", typ, len(data), ErrInvalid)
		}
		switch typ {
		case 2, 3, 9:
			if !s.hashedDone {
				v := binary.BigEndian.Uint32(data)
				switch {
				case typ == 2 && s.Created == 0:
					s.Created = v
				case typ == 3 && s.SigExpires == 0:
					s.SigExpires = v
				case typ == 9 && s.KeyExpires == 0:
					s.KeyExpires = v
				}
			}
		case 5, 7, 11, 22, 23, 27, 30:
		case 16:
			if !s.HasID {
				s.IssuerID, s.HasID = binary.BigEndian.Uint64(data), true
			}
		case 33:
			n := map[byte]int{4: 20, 5: 32}[data[0]]
			if n == 0 || len(data) < 1+n {
				return fmt.Errorf("issuer fingerprint version %d: %w", data[0], ErrInvalid)
			}
			if s.IssuerFpr == nil {
				s.IssuerFpr = append([]byte(nil), data[1:1+n]...)
			}
		case 20:
			nl, vl := int(binary.BigEndian.Uint16(data[4:])), int(binary.BigEndian.Uint16(data[6:]))
			if len(data) < 8+nl+vl || !utf8.Valid(data[8:8+nl]) || (data[0]&0x80 != 0 && !utf8.Valid(data[8+nl:8+nl+vl])) {
				return fmt.Errorf("notation subpacket: %w", ErrInvalid)
			}
		case 21:
			for _, h := range data {
				if !knownHash(h) {
					return fmt.Errorf("preferred hash algorithm %d: %w", h, ErrInvalid)
				}
			}
		case 24, 26, 28:
			if !utf8.Valid(data) {
				return fmt.Errorf("subpacket %d is not UTF-8: %w", typ, ErrInvalid)
			}
		case 29:
			if !utf8.Valid(data[1:]) {
				return fmt.Errorf("revocation reason is not UTF-8: %w", ErrInvalid)
			}
		case 32:
			if _, err := ParseSignaturePacket(data); err != nil {
				return fmt.Errorf("embedded signature: %w", err)
			}
		default:
			if critical {
				return fmt.Errorf("critical subpacket %d: %w", typ, ErrUnsupported)
			}
		}
	}
	return r.err
}

// Key is a v4 public key or subkey (<openpgp-public-key>, openpgp.scm:485).
type Key struct {
	Subkey      bool
	Fingerprint [20]byte
	Alg         byte
	pub         any // *rsa.PublicKey, *dsa.PublicKey, ed25519.PublicKey, or nil (unsupported)
	// For Policy.Strict only, from the keyring's unverified self-signatures (which can only
	// make it stricter): creation time, validity in seconds (0: none), a revocation seen.
	Created, Expires uint32
	Revoked          bool
	Primary          *Key // the primary key of a subkey, nil for a primary
}

// ID is the key id: the low 8 bytes of the fingerprint (openpgp.scm:832).
func (k *Key) ID() uint64 { return binary.BigEndian.Uint64(k.Fingerprint[12:]) }

var oidEd25519 = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01}
var oidCurve25519 = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}

// parseKey is get-public-key (openpgp.scm:838-907). It returns nil, nil for key versions
// other than 4 ('unsupported-public-key-version).
func parseKey(body []byte, subkey bool) (*Key, error) {
	r := &reader{b: body}
	if v := r.u8(); v != 4 {
		return nil, r.err
	}
	ctime := r.n(4)
	k := &Key{Subkey: subkey, Alg: r.u8()}
	if ctime != nil {
		k.Created = binary.BigEndian.Uint32(ctime)
	}
	switch k.Alg {
	case AlgRSA:
		n, e := r.mpi(), r.mpi()
		if r.err == nil {
			if len(e) > 4 {
				return nil, fmt.Errorf("RSA exponent of %d bytes: %w", len(e), ErrUnsupported)
			}
			k.pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	case AlgDSA:
		p, q, g, y := r.mpi(), r.mpi(), r.mpi(), r.mpi()
		if r.err == nil {
			k.pub = &dsa.PublicKey{Parameters: dsa.Parameters{P: new(big.Int).SetBytes(p), Q: new(big.Int).SetBytes(q), G: new(big.Int).SetBytes(g)}, Y: new(big.Int).SetBytes(y)}
		}
	case AlgEdDSA:
		oid := r.n(int(r.u8()))
		q := r.mpi()
		if r.err == nil {
			switch {
			case bytes.Equal(oid, oidEd25519):
				if len(q) == 33 && q[0] == 0x40 {
					k.pub = ed25519.PublicKey(q[1:])
				}
			case bytes.Equal(oid, oidCurve25519):
			default:
				// (match oid ...) has no other clause: Guix raises (openpgp.scm:879-882).
				return nil, fmt.Errorf("EdDSA curve OID %x: %w", oid, ErrUnsupported)
			}
		}
	default:
		r.b = nil // 'unsupported-algorithm takes the rest
	}
	if r.err != nil {
		return nil, r.err
	}
	// fingerprint: SHA-1 over 0x99, u16 length, body (openpgp.scm:839-848).
	h := sha1.New()
	h.Write([]byte{0x99, byte(len(body) >> 8), byte(len(body))})
	h.Write(body)
	copy(k.Fingerprint[:], h.Sum(nil))
	return k, nil
}

// Keyring maps key ids and fingerprints to keys; a later insertion wins, as with Guix's
// vhash-cons (openpgp.scm:945-971).
type Keyring struct {
	byID  map[uint64]*Key
	byFpr map[[20]byte]*Key
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{byID: map[uint64]*Key{}, byFpr: map[[20]byte]*Key{}}
}

// Len is the number of fingerprints in the keyring.
func (kr *Keyring) Len() int { return len(kr.byFpr) }

// Add reads a .key file as load-keyring-from-blob does (git-authenticate.scm:249-266):
// ASCII-armored when its first byte does not look like a packet tag, binary otherwise.
func (kr *Keyring) Add(data []byte) error {
	if asciiArmored(data) {
		d, err := Dearmor(string(data))
		if err != nil {
			return err
		}
		data = d
	}
	return kr.addBinary(data)
}

// asciiArmored is port-ascii-armored? (openpgp.scm:412-420).
func asciiArmored(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	tag := b[0]
	if tag&0x80 == 0 {
		return true
	}
	t := (tag >> 2) & 0x0f
	if tag&0x40 != 0 {
		t = tag & 0x3f
	}
	return !(t >= 1 && t <= 19)
}

// addBinary is get-openpgp-keyring (openpgp.scm:980-1016).
func (kr *Keyring) addBinary(data []byte) error {
	r := &reader{b: data}
	var keys []*Key
	flush := func() {
		// fold over keys (most recent first) inserting each: the primary is inserted last.
		for i := len(keys) - 1; i >= 0; i-- {
			kr.byID[keys[i].ID()] = keys[i]
			kr.byFpr[keys[i].Fingerprint] = keys[i]
		}
		keys = nil
	}
	for len(r.b) > 0 {
		t, body, err := nextPacket(r)
		if err != nil {
			return err
		}
		switch t {
		case tagPublicKey, tagSubkey:
			k, err := parseKey(body, t == tagSubkey)
			if err != nil {
				return err
			}
			if k == nil { // an unsupported key version ends the current key (openpgp.scm:1000)
				if keys != nil {
					flush()
				}
				continue
			}
			if !k.Subkey {
				flush()
				keys = []*Key{k}
			} else if keys != nil {
				k.Primary = keys[0]
				keys = append(keys, k)
			}
		case tagSignature:
			sig, err := ParseSignaturePacket(body)
			if err != nil {
				// get-signature raises; only the unsupported-version case is a value.
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "signature version") {
					return fmt.Errorf("keyring signature: %w", err)
				}
				continue
			}
			if len(keys) > 0 {
				noteSelfSignature(keys[0], keys[len(keys)-1], sig)
			}
		case tagUserID:
			if !utf8.Valid(body) {
				return fmt.Errorf("user id is not UTF-8: %w", ErrInvalid)
			}
		}
	}
	flush()
	return nil
}

// Lookup returns the key that issued s: by issuer fingerprint when the signature has one,
// else by key id (openpgp.scm:584-588).
func (kr *Keyring) Lookup(s *Signature) *Key {
	if s.IssuerFpr != nil {
		if len(s.IssuerFpr) != 20 {
			return nil
		}
		return kr.byFpr[[20]byte(s.IssuerFpr)]
	}
	if !s.HasID {
		return nil
	}
	return kr.byID[s.IssuerID]
}

// Dearmor is read-radix-64 (openpgp.scm:1036-1082): one block, headers skipped, a CRC24
// line required and checked.
func Dearmor(s string) ([]byte, error) {
	lines := strings.Split(s, "\n")
	first := strings.TrimRight(lines[0], " \t\r\n")
	if !strings.HasPrefix(first, "-----BEGIN ") || !strings.HasSuffix(first, "-----") || len(first) < 16 {
		return nil, fmt.Errorf("not ASCII armor: %w", ErrInvalid)
	}
	kind := first[len("-----BEGIN ") : len(first)-5]
	end := "-----END " + kind + "-----"
	i := 1
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
	}
	i++ // the blank line
	var body []string
	for ; i < len(lines); i++ {
		str := strings.TrimSpace(lines[i])
		if str == "" {
			continue
		}
		if str == end {
			if len(body) == 0 || !strings.HasPrefix(body[len(body)-1], "=") {
				return nil, fmt.Errorf("armor without a CRC line: %w", ErrInvalid)
			}
			crc, err := base64.StdEncoding.DecodeString(body[len(body)-1][1:])
			if err != nil {
				return nil, fmt.Errorf("armor CRC: %w", ErrInvalid)
			}
			data, err := base64.StdEncoding.DecodeString(strings.Join(body[:len(body)-1], ""))
			if err != nil {
				return nil, fmt.Errorf("armor base64: %w", ErrInvalid)
			}
			var c uint32
			for _, b := range crc {
				c = c<<8 | uint32(b)
			}
			if c != crc24(data) {
				return nil, fmt.Errorf("armor CRC mismatch: %w", ErrInvalid)
			}
			return data, nil
		}
		body = append(body, str)
	}
	return nil, fmt.Errorf("armor truncated: %w", ErrInvalid)
}

func crc24(b []byte) uint32 {
	crc := uint32(0xb704ce)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864cfb
			}
		}
	}
	return crc & 0xffffff
}

// ParseArmoredSignature is string->openpgp-packet (openpgp.scm:1084) applied to a commit's
// gpgsig header: the first packet, which must be a signature.
func ParseArmoredSignature(s string) (*Signature, error) {
	data, err := Dearmor(s)
	if err != nil {
		return nil, err
	}
	r := &reader{b: data}
	t, body, err := nextPacket(r)
	if err != nil {
		return nil, err
	}
	if t != tagSignature {
		return nil, fmt.Errorf("packet type %d is not a signature: %w", t, ErrInvalid)
	}
	return ParseSignaturePacket(body)
}

func newHash(id byte) (hash.Hash, crypto.Hash) {
	switch id {
	case HashSHA1:
		return sha1.New(), crypto.SHA1
	case HashRMD160:
		return ripemd160.New(), crypto.RIPEMD160
	case HashSHA256:
		return sha256.New(), crypto.SHA256
	case HashSHA384:
		return sha512.New384(), crypto.SHA384
	case HashSHA512:
		return sha512.New(), crypto.SHA512
	case HashSHA224:
		return sha256.New224(), crypto.SHA224
	}
	return nil, 0
}

// Verify checks s over data with the issuer's key from kr (verify-openpgp-signature,
// openpgp.scm:541-592): binary signatures only; the key must exist; the hash covers the data
// and the signature's trailer. It returns the key found (a subkey is itself, with its own
// fingerprint).
func Verify(s *Signature, kr *Keyring, data []byte) (*Key, error) {
	if s.Type != 0 { // SIGNATURE-BINARY only (openpgp.scm:582-583)
		return nil, fmt.Errorf("signature type %#x is not binary: %w", s.Type, ErrUnsupported)
	}
	k := kr.Lookup(s)
	if k == nil {
		if s.IssuerFpr != nil {
			return nil, fmt.Errorf("key %s: %w", FormatFingerprint(s.IssuerFpr), ErrMissingKey)
		}
		return nil, fmt.Errorf("key id %016X: %w", s.IssuerID, ErrMissingKey)
	}
	h, ch := newHash(s.HashAlg)
	if h == nil { // md5: Guix refuses it before verification (git-authenticate.scm:115)
		return k, fmt.Errorf("%s digest: %w", HashName(s.HashAlg), ErrUnsupported)
	}
	h.Write(data)
	h.Write(s.appendData)
	sum := h.Sum(nil)
	ok := false
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		ok = s.PKAlg == AlgRSA && rsa.VerifyPKCS1v15(pub, ch, sum, leftPad(s.mpis[0], pub.Size())) == nil
	case *dsa.PublicKey:
		if s.PKAlg == AlgDSA {
			qb := (pub.Q.BitLen() + 7) / 8
			if len(sum) > qb {
				sum = sum[:qb]
			}
			ok = dsa.Verify(pub, sum, new(big.Int).SetBytes(s.mpis[0]), new(big.Int).SetBytes(s.mpis[1]))
		}
	case ed25519.PublicKey:
		// Guix pads an odd-length R or S with one zero byte and libgcrypt wants 32 bytes
		// (openpgp.scm:620-634): a 30-byte R fails there, so it fails here.
		even := func(b []byte) int { return len(b) + len(b)%2 }
		if s.PKAlg == AlgEdDSA && even(s.mpis[0]) == 32 && even(s.mpis[1]) == 32 {
			var sig [64]byte
			copy(sig[32-len(s.mpis[0]):32], s.mpis[0])
			copy(sig[64-len(s.mpis[1]):], s.mpis[1])
			ok = ed25519.Verify(pub, sum, sig[:])
		}
	}
	if !ok {
		return k, fmt.Errorf("by %s: %w", FormatFingerprint(k.Fingerprint[:]), ErrBadSig)
	}
	return k, nil
}

// FormatFingerprint prints a fingerprint as openpgp-format-fingerprint does
// (openpgp.scm:253): ten groups of four upper-case digits, two spaces in the middle.
func FormatFingerprint(fpr []byte) string {
	h := strings.ToUpper(hex.EncodeToString(fpr))
	if len(h) != 40 {
		return h
	}
	var sb strings.Builder
	for i := 0; i < 10; i++ {
		if i == 5 {
			sb.WriteString(" ")
		}
		if i > 0 {
			sb.WriteString(" ")
		}
		sb.WriteString(h[4*i : 4*i+4])
	}
	return sb.String()
}

// noteSelfSignature records expiry and revocation from a signature following a key, for
// Policy.Strict. The signatures are not verified: a forged one can only refuse more.
func noteSelfSignature(primary, last *Key, s *Signature) {
	switch {
	case s.Type == 0x20:
		primary.Revoked = true
	case s.Type == 0x28 && last.Subkey:
		last.Revoked = true
	case s.Type >= 0x10 && s.Type <= 0x13 && s.KeyExpires != 0:
		primary.Expires = s.KeyExpires
	case s.Type == 0x18 && last.Subkey && s.KeyExpires != 0:
		last.Expires = s.KeyExpires
	}
}

// StrictCheck is Policy.Strict's extra rule, which Guix does not apply: the key (and the
// primary of a subkey) is not revoked, and the key has not expired, neither when the
// signature was made nor at now (Unix seconds, the appliance's clock).
func StrictCheck(s *Signature, k *Key, now int64) error {
	for key := k; key != nil; key = key.Primary {
		if key.Revoked {
			return fmt.Errorf("key %s is revoked", FormatFingerprint(key.Fingerprint[:]))
		}
		end := int64(key.Created) + int64(key.Expires)
		if key.Expires != 0 && (int64(s.Created) >= end || now >= end) {
			return fmt.Errorf("key %s has expired", FormatFingerprint(key.Fingerprint[:]))
		}
	}
	if s.SigExpires != 0 {
		return fmt.Errorf("signature with an expiry (%d s): not accepted under the strict policy", s.SigExpires)
	}
	return nil
}

// leftPad returns an MPI's bytes as a k-byte big-endian number. OpenPGP writes an MPI without
// its leading zero bytes, so one RSA signature in 256 is shorter than the modulus; libgcrypt
// (and so Guix) verifies it, while crypto/rsa wants exactly k bytes. A longer MPI is returned
// as is, for crypto/rsa to refuse.
func leftPad(b []byte, k int) []byte {
	if len(b) >= k {
		return b
	}
	out := make([]byte, k)
	copy(out[k-len(b):], b)
	return out
}
