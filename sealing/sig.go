package sealing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"aead.dev/minisign"

	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// Sentinel errors of signature checks. Callers branch on them with errors.Is; the wrapping error
// names the file.
var (
	// ErrMalformedSignature: the .minisig file is not a minisign signature.
	ErrMalformedSignature = errors.New("malformed minisign signature")
	// ErrWrongKey: the signature was made by a key other than the trusted one(s).
	ErrWrongKey = errors.New("signed by an untrusted key")
	// ErrBadSignature: the signature was made by the trusted key but does not match the signed
	// bytes or its trusted comment: the file or the signature was altered.
	ErrBadSignature = errors.New("signature does not match (file or trusted comment altered)")
	// ErrMissingSignature: the signature file does not exist.
	ErrMissingSignature = errors.New("signature file missing")
)

// MaxSignatureSize bounds a .minisig file read from untrusted media. A minisign signature is
// about 300 bytes plus its comments.
const MaxSignatureSize = 8 << 10

// SealKey is a minisign secret key: the appliance's seal key (seals, certificates) or an
// approver's key (allowlists). Its signatures verify with the stock minisign CLI.
type SealKey struct {
	priv minisign.PrivateKey
}

// PublicKey is a minisign public key, as written in a .pub file.
type PublicKey struct {
	pub minisign.PublicKey
}

// ID is the key's 64-bit minisign key ID.
func (k *SealKey) ID() uint64 { return k.priv.ID() }

// Public returns the public half of k.
func (k *SealKey) Public() *PublicKey {
	return &PublicKey{pub: k.priv.Public().(minisign.PublicKey)}
}

// ID is the key's 64-bit minisign key ID.
func (p *PublicKey) ID() uint64 { return p.pub.ID() }

// String is the key ID as minisign prints it (upper-case hex).
func (p *PublicKey) String() string { return strings.ToUpper(strconv.FormatUint(p.pub.ID(), 16)) }

// MarshalText returns the key in minisign's .pub file format.
func (p *PublicKey) MarshalText() ([]byte, error) { return p.pub.MarshalText() }

// ParsePublicKey parses a minisign .pub file (or its bare base64 line).
func ParsePublicKey(text []byte) (*PublicKey, error) {
	if len(text) > 4<<10 {
		return nil, errors.New("public key file too large")
	}
	var p PublicKey
	if err := p.pub.UnmarshalText(bytes.TrimSpace(text)); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadPublicKey reads a minisign .pub file.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := readlimit.File(path, 4<<10)
	if err != nil {
		return nil, err
	}
	p, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseSealKey parses a minisign secret key file. An encrypted key (minisign's scrypt format)
// needs its passphrase; an unencrypted one ignores it.
func ParseSealKey(text []byte, passphrase string) (*SealKey, error) {
	text = bytes.TrimSpace(text)
	var k SealKey
	if minisign.IsEncrypted(text) {
		if passphrase == "" {
			return nil, ErrPassphraseNeeded
		}
		priv, err := minisign.DecryptKey(passphrase, text)
		if err != nil {
			return nil, err
		}
		k.priv = priv
		return &k, nil
	}
	if err := k.priv.UnmarshalText(text); err != nil {
		return nil, err
	}
	return &k, nil
}

// LoadSealKey reads a minisign secret key file (see ParseSealKey).
func LoadSealKey(path, passphrase string) (*SealKey, error) {
	b, err := readlimit.File(path, 4<<10)
	if err != nil {
		return nil, err
	}
	k, err := ParseSealKey(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ErrPassphraseNeeded: the secret key is encrypted and no passphrase was given.
var ErrPassphraseNeeded = errors.New("secret key is encrypted: passphrase needed")

// SignDetached returns a minisign signature of msg (prehashed, as minisign 0.11 makes by
// default) with the given trusted comment. The untrusted comment names the key, as minisign's
// does.
func (k *SealKey) SignDetached(msg []byte, trustedComment string) []byte {
	r := minisign.NewReader(bytes.NewReader(msg))
	_, _ = io.Copy(io.Discard, r)
	untrusted := "signature from airlock secret key " + strings.ToUpper(strconv.FormatUint(k.priv.ID(), 16))
	return r.SignWithComments(k.priv, sanitizeComment(trustedComment), untrusted)
}

// sanitizeComment keeps a trusted comment on one line: minisign's format has no escaping.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Signature is a parsed minisign signature that verified.
type Signature struct {
	KeyID          uint64
	TrustedComment string
}

// VerifyDetached checks sig (a .minisig file's bytes) over msg against any of the trusted keys
// and returns its trusted comment. Errors wrap ErrMalformedSignature, ErrWrongKey or
// ErrBadSignature. It accepts both minisign algorithms (prehashed "ED" and legacy "Ed").
func VerifyDetached(msg, sig []byte, trusted ...*PublicKey) (*Signature, error) {
	if len(sig) > MaxSignatureSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedSignature, len(sig), MaxSignatureSize)
	}
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedSignature, err)
	}
	if strings.ContainsAny(s.TrustedComment, "\r") {
		return nil, fmt.Errorf("%w: carriage return in trusted comment", ErrMalformedSignature)
	}
	var ids []string
	for _, p := range trusted {
		if p == nil {
			continue
		}
		ids = append(ids, p.String())
		if p.pub.ID() != s.KeyID {
			continue
		}
		if !minisign.Verify(p.pub, msg, sig) {
			return nil, ErrBadSignature
		}
		return &Signature{KeyID: s.KeyID, TrustedComment: s.TrustedComment}, nil
	}
	return nil, fmt.Errorf("%w: key ID %X, trusted: %s", ErrWrongKey, s.KeyID, strings.Join(ids, ", "))
}
