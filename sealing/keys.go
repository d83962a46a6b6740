package sealing

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"aead.dev/minisign"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/mod/sumdb/note"

	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// Role is whose keys keygen writes.
type Role string

// The three roles and their key files (DESIGN.md, "Keys").
const (
	RoleAppliance Role = "appliance" // seal.key/.pub, log.key/.vkey, guix-signing-key.sec/.pub
	RoleApprover  Role = "approver"  // approver.key/.pub
	RoleAuditor   Role = "auditor"   // auditor.key/.vkey
)

// Key file names.
const (
	SealKeyFile     = "seal.key"
	SealPubFile     = "seal.pub"
	LogKeyFile      = "log.key"
	LogVKeyFile     = "log.vkey"
	GuixSecFile     = "guix-signing-key.sec"
	GuixPubFile     = "guix-signing-key.pub"
	ApproverKeyFile = "approver.key"
	ApproverPubFile = "approver.pub"
	AuditorKeyFile  = "auditor.key"
	AuditorVKeyFile = "auditor.vkey"
)

// ErrKeyExists: keygen refuses to overwrite a key file.
var ErrKeyExists = errors.New("key file already exists (refusing to overwrite)")

// KeyFiles lists the files keygen writes for role, secret keys first.
func KeyFiles(role Role) ([]string, error) {
	switch role {
	case RoleAppliance:
		return []string{SealKeyFile, SealPubFile, LogKeyFile, LogVKeyFile, GuixSecFile, GuixPubFile}, nil
	case RoleApprover:
		return []string{ApproverKeyFile, ApproverPubFile}, nil
	case RoleAuditor:
		return []string{AuditorKeyFile, AuditorVKeyFile}, nil
	}
	return nil, fmt.Errorf("unknown role %q (appliance, approver or auditor)", role)
}

// GuixKeyGen makes the appliance's Guix signing key pair as the two files' contents (secret,
// public). The guix package provides it; sealing takes it as a function so that it needs no
// more of guix than this.
type GuixKeyGen func(rand io.Reader) (sec, pub []byte, err error)

// KeygenOptions are the inputs of GenerateKeys.
type KeygenOptions struct {
	Role       Role
	Name       string     // note key name (checkpoint origin); default "airlock-<role>"
	Passphrase string     // when set, secret keys are encrypted with it
	Rand       io.Reader  // default crypto/rand
	Guix       GuixKeyGen // needed for RoleAppliance
}

// GenerateKeys writes role's key files into dir (created 0700 if missing). It refuses to
// overwrite any existing file and writes nothing if one exists. Secret files are 0600.
func GenerateKeys(dir string, o KeygenOptions) (written []string, err error) {
	files, err := KeyFiles(o.Role)
	if err != nil {
		return nil, err
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Name == "" {
		o.Name = "airlock-" + string(o.Role)
	}
	if strings.ContainsAny(o.Name, " +\t\n") || !isPrintableASCII(o.Name) {
		return nil, fmt.Errorf("key name %q: must be printable ASCII without spaces or '+'", o.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, f), ErrKeyExists)
		}
	}
	contents := map[string][]byte{}
	minisignPair := func(secName, pubName string) error {
		pub, priv, err := minisign.GenerateKey(o.Rand)
		if err != nil {
			return err
		}
		var sec []byte
		if o.Passphrase != "" {
			sec, err = minisign.EncryptKey(o.Passphrase, priv)
		} else {
			sec, err = priv.MarshalText()
		}
		if err != nil {
			return err
		}
		p, _ := pub.MarshalText()
		id := strings.ToUpper(strconv.FormatUint(pub.ID(), 16))
		sec = withMarker(sec, o.Role, secName, "minisign secret key "+id)
		p = withMarker(p, o.Role, pubName, "minisign public key "+id)
		contents[secName], contents[pubName] = append(sec, '\n'), append(p, '\n')
		return nil
	}
	notePair := func(secName, pubName string) error {
		skey, vkey, err := note.GenerateKey(o.Rand, o.Name)
		if err != nil {
			return err
		}
		sec := []byte(skey + "\n")
		if o.Passphrase != "" {
			if sec, err = encryptNoteKey(o.Rand, o.Passphrase, skey); err != nil {
				return err
			}
		}
		sec = append(sec, roleMarker(o.Role, secName, "note secret key")+"\n"...)
		contents[secName], contents[pubName] = sec, []byte(vkey+"\n")
		return nil
	}
	switch o.Role {
	case RoleAppliance:
		if o.Guix == nil {
			return nil, errors.New("appliance keys: no Guix key generator")
		}
		if err := minisignPair(SealKeyFile, SealPubFile); err != nil {
			return nil, err
		}
		if err := notePair(LogKeyFile, LogVKeyFile); err != nil {
			return nil, err
		}
		sec, pub, err := o.Guix(o.Rand)
		if err != nil {
			return nil, fmt.Errorf("guix key: %w", err)
		}
		contents[GuixSecFile], contents[GuixPubFile] = sec, pub
	case RoleApprover:
		if err := minisignPair(ApproverKeyFile, ApproverPubFile); err != nil {
			return nil, err
		}
	case RoleAuditor:
		if err := notePair(AuditorKeyFile, AuditorVKeyFile); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		mode := os.FileMode(0o644)
		if isSecretFile(f) {
			mode = 0o600
		}
		p := filepath.Join(dir, f)
		if err := writeExclusive(p, contents[f], mode); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func isSecretFile(name string) bool {
	return strings.HasSuffix(name, ".key") || strings.HasSuffix(name, ".sec")
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// writeExclusive creates path (failing if it exists), writes b and syncs it.
func writeExclusive(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrKeyExists)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// Encrypted note keys: "untrusted comment: airlock encrypted note key\n" followed by
// base64(salt[32] || nonce[24] || secretbox(skey)), key = scrypt(passphrase, salt, N=2^15, r=8,
// p=1). note has no encrypted key format of its own.
const noteKeyHeader = "untrusted comment: airlock encrypted note key\n"

func encryptNoteKey(r io.Reader, passphrase, skey string) ([]byte, error) {
	var salt [32]byte
	var nonce [24]byte
	if _, err := io.ReadFull(r, salt[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, nonce[:]); err != nil {
		return nil, err
	}
	k, err := scrypt.Key([]byte(passphrase), salt[:], 1<<15, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	var key [32]byte
	copy(key[:], k)
	blob := append(append(salt[:], nonce[:]...), secretbox.Seal(nil, []byte(skey), &nonce, &key)...)
	return []byte(noteKeyHeader + base64.StdEncoding.EncodeToString(blob) + "\n"), nil
}

// ParseNoteSigner parses a note signer key file (log.key, auditor.key), decrypting it with
// passphrase if it is encrypted.
func ParseNoteSigner(text []byte, passphrase string) (note.Signer, error) {
	text, _ = cutTrailingMarker(text)
	if bytes.HasPrefix(text, []byte(noteKeyHeader)) {
		if passphrase == "" {
			return nil, ErrPassphraseNeeded
		}
		blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text[len(noteKeyHeader):])))
		if err != nil || len(blob) < 56+secretbox.Overhead {
			return nil, errors.New("malformed encrypted note key")
		}
		k, err := scrypt.Key([]byte(passphrase), blob[:32], 1<<15, 8, 1, 32)
		if err != nil {
			return nil, err
		}
		var key [32]byte
		var nonce [24]byte
		copy(key[:], k)
		copy(nonce[:], blob[32:56])
		plain, ok := secretbox.Open(nil, blob[56:], &nonce, &key)
		if !ok {
			return nil, errors.New("wrong passphrase for encrypted note key")
		}
		text = plain
	}
	return note.NewSigner(strings.TrimSpace(string(text)))
}

// LoadNoteSigner reads a note signer key file (see ParseNoteSigner).
func LoadNoteSigner(path, passphrase string) (note.Signer, error) {
	b, err := readlimit.File(path, 4<<10)
	if err != nil {
		return nil, err
	}
	s, err := ParseNoteSigner(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadNoteVerifier reads a note verifier key file (log.vkey, auditor.vkey).
func LoadNoteVerifier(path string) (note.Verifier, error) {
	b, err := readlimit.File(path, 4<<10)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Role markers. Every key file keygen writes starts with one line that names its role and
// file, in minisign's "untrusted comment" (which minisign and package minisign skip):
//
//	untrusted comment: airlock key role=approver file=approver.key minisign secret key 1A2B...
//
// Note keys (airlock's own format) carry the same line below the key, so that their first line
// stays what other tools look for (ParseNoteSigner drops it). Verifier keys
// (log.vkey, auditor.vkey) and the Guix key pair have no comment syntax and carry none. The
// marker is a label against mistakes (an auditor's key handed to `airlock allow`), not a
// security boundary: anyone may edit it, and trust comes from which public keys a site installs.
const markerPrefix = "untrusted comment: airlock key role="

func roleMarker(role Role, file, what string) string {
	return markerPrefix + string(role) + " file=" + file + " " + what
}

// withMarker replaces key text's untrusted comment (its first line) by the role marker.
func withMarker(text []byte, role Role, file, what string) []byte {
	_, rest, comment := cutComment(text)
	if !comment {
		rest = text
	}
	return append([]byte(roleMarker(role, file, what)+"\n"), rest...)
}

// cutComment splits an "untrusted comment: " first line off text.
func cutComment(text []byte) (first string, rest []byte, ok bool) {
	line, rest, found := bytes.Cut(text, []byte("\n"))
	if !found || !bytes.HasPrefix(line, []byte("untrusted comment: ")) {
		return "", text, false
	}
	return strings.TrimRight(string(line), "\r"), rest, true
}

// cutTrailingMarker removes a role marker that is text's last line.
func cutTrailingMarker(text []byte) (key []byte, marker string) {
	t := bytes.TrimRight(text, "\r\n")
	i := bytes.LastIndexByte(t, '\n')
	if i < 0 || !bytes.HasPrefix(t[i+1:], []byte(markerPrefix)) {
		return text, ""
	}
	return t[:i+1], string(t[i+1:])
}

// KeyInfo is what a key file's role marker says about it.
type KeyInfo struct {
	// Role is the marker's role; "" when the file carries no airlock role marker.
	Role Role
	// File is the file name keygen gave it (approver.key, seal.key, ...), from the marker.
	File string
	// Kind is "minisign" or "note" (the key format), or "" when not recognized.
	Kind string
}

// String names the key for a person: "an approver key (approver.key)", "a minisign key
// without an airlock role".
func (k KeyInfo) String() string {
	switch {
	case k.Role != "":
		article := "a"
		if strings.ContainsAny(string(k.Role)[:1], "aeiou") {
			article = "an"
		}
		return fmt.Sprintf("%s %s key (%s)", article, k.Role, k.File)
	case k.Kind != "":
		return "a " + k.Kind + " key without an airlock role marker"
	}
	return "not a key file airlock knows"
}

// IdentifyKey reads the role marker (if any) and the format of a key file's text. It never
// fails: what it cannot tell is left empty.
func IdentifyKey(text []byte) KeyInfo {
	var k KeyInfo
	first, _, comment := cutComment(text)
	body, trailing := cutTrailingMarker(text)
	if trailing != "" {
		first, comment = trailing, true
	}
	if comment && strings.HasPrefix(first, markerPrefix) {
		f := strings.Fields(strings.TrimPrefix(first, "untrusted comment: airlock key "))
		for _, kv := range f {
			if v, ok := strings.CutPrefix(kv, "role="); ok {
				k.Role = Role(v)
			} else if v, ok := strings.CutPrefix(kv, "file="); ok {
				k.File = v
			}
		}
		switch {
		case strings.Contains(first, " minisign "):
			k.Kind = "minisign"
		case strings.Contains(first, " note "):
			k.Kind = "note"
		}
		switch k.Role {
		case RoleAppliance, RoleApprover, RoleAuditor:
		default:
			k.Role = ""
		}
		return k
	}
	switch {
	case bytes.HasPrefix(body, []byte(noteKeyHeader)):
		k.Kind = "note"
	case strings.HasPrefix(strings.TrimSpace(string(body)), "PRIVATE+KEY+"):
		k.Kind = "note"
	case comment && strings.HasPrefix(first, "untrusted comment: minisign"):
		k.Kind = "minisign"
	}
	return k
}

// LoadKeyInfo reads path's role marker (see IdentifyKey).
func LoadKeyInfo(path string) (KeyInfo, error) {
	b, err := readlimit.File(path, 4<<10)
	if err != nil {
		return KeyInfo{}, err
	}
	return IdentifyKey(b), nil
}
