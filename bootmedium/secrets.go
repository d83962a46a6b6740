// Package bootmedium holds the checks of scripts/boot-medium.sh, which assembles the appliance's
// hybrid boot ISO: a site folder installed as /etc/airlock on a medium must not carry a secret
// key in plaintext (a lost or copied stick would give away the appliance's seal and log keys),
// unless the medium is a demo.
package bootmedium

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// ErrPlaintextKey is wrapped by Check when the folder holds a secret key that is not
// passphrase-encrypted.
var ErrPlaintextKey = errors.New("plaintext secret key")

// MaxFileBytes bounds each file of a site folder Check reads (policies, keys, allowlists, YARA
// rules are all far smaller).
const MaxFileBytes = 64 << 20

// Kind is what Classify found in a file.
type Kind int

// The kinds of file Classify tells apart.
const (
	NotSecret         Kind = iota // no secret key in it
	MinisignEncrypted             // minisign secret key, scrypt-encrypted ("Sc")
	MinisignPlain                 // minisign secret key without a KDF
	NoteEncrypted                 // airlock's scrypt + secretbox note key (sealing.GenerateKeys with a passphrase)
	NotePlain                     // golang.org/x/mod/sumdb/note signer key, "PRIVATE+KEY+..."
	GuixPlain                     // Guix/libgcrypt private-key S-expression (Guix has no encrypted form)
	UnknownSecret                 // named as a secret key (.key, .sec) but in no known encrypted form
)

// String names the kind as the refusal does.
func (k Kind) String() string {
	switch k {
	case NotSecret:
		return "not a secret key"
	case MinisignEncrypted:
		return "minisign secret key, encrypted"
	case MinisignPlain:
		return "minisign secret key, NOT encrypted"
	case NoteEncrypted:
		return "note signer key, encrypted"
	case NotePlain:
		return "note signer key, NOT encrypted"
	case GuixPlain:
		return "Guix private key, NOT encrypted (airlock has no encrypted form for it yet)"
	case UnknownSecret:
		return "secret key file in no known encrypted form"
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Plaintext reports whether k is a secret key readable without a passphrase.
func (k Kind) Plaintext() bool {
	return k == MinisignPlain || k == NotePlain || k == GuixPlain || k == UnknownSecret
}

// Markers of sealing's formats (sealing/keys.go), matched anywhere in a file so that a renamed
// or concatenated key is still found.
const (
	noteEncryptedHeader = "untrusted comment: airlock encrypted note key\n"
	notePlainPrefix     = "PRIVATE+KEY+"
	guixPlainMarker     = "(private-key"
	minisignComment     = "untrusted comment:"
	minisignSecretLen   = 158 // sig alg, kdf alg, cksum alg, salt, opslimit, memlimit, 104 key bytes
)

// Classify says whether b, the content of the file called name, holds a secret key and in which
// form. A file holding several is classified by its worst (plaintext) one.
func Classify(name string, b []byte) Kind {
	kind := NotSecret
	worse := func(k Kind) {
		if k.Plaintext() || kind == NotSecret {
			kind = k
		}
	}
	if bytes.Contains(b, []byte(notePlainPrefix)) {
		return NotePlain
	}
	if bytes.Contains(b, []byte(guixPlainMarker)) {
		return GuixPlain
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, minisignComment) || i+1 >= len(lines) {
			continue
		}
		if l+"\n" == noteEncryptedHeader {
			worse(NoteEncrypted)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[i+1]))
		if err != nil || len(raw) != minisignSecretLen || string(raw[:2]) != "Ed" {
			continue // a public key, a signature, or not minisign at all
		}
		switch string(raw[2:4]) {
		case "Sc":
			worse(MinisignEncrypted)
		default:
			worse(MinisignPlain)
		}
	}
	if kind == NotSecret && (strings.HasSuffix(name, ".key") || strings.HasSuffix(name, ".sec")) {
		return UnknownSecret
	}
	return kind
}

// Finding is one secret key file Check saw.
type Finding struct {
	Path string // slash-separated, relative to the folder
	Kind Kind
}

// RefusalError lists the plaintext secret keys of a folder.
type RefusalError struct {
	Dir   string
	Found []Finding // the plaintext ones, sorted by path
}

// Error names the folder and every plaintext key in it.
func (e *RefusalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v: ", e.Dir, ErrPlaintextKey)
	for i, f := range e.Found {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%v)", f.Path, f.Kind)
	}
	b.WriteString(" (encrypt them: airlock keygen --passphrase-file, minisign -C; or build a demo medium)")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrPlaintextKey) true.
func (e *RefusalError) Unwrap() error { return ErrPlaintextKey }

// Check reads every regular file under dir (fsys rooted at the site folder, named dir in
// errors) and returns every secret key it found. When demo is false and one of them is in
// plaintext, the error is a *RefusalError listing them all. Symbolic links and other
// non-regular files are refused: the image build copies the folder, and what it copies must be
// what was checked.
func Check(fsys fs.FS, dir string, demo bool) ([]Finding, error) {
	var found, plain []Finding
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, p), err)
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%v): a site folder holds only files and folders", filepath.Join(dir, p), d.Type())
		}
		f, err := fsys.Open(p)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, p), err)
		}
		b, err := readlimit.All(filepath.Join(dir, p), f, MaxFileBytes)
		f.Close()
		if err != nil {
			return err
		}
		if k := Classify(d.Name(), b); k != NotSecret {
			found = append(found, Finding{Path: p, Kind: k})
			if k.Plaintext() {
				plain = append(plain, Finding{Path: p, Kind: k})
			}
		}
		return nil
	})
	if err != nil {
		return found, err
	}
	sort.Slice(plain, func(i, j int) bool { return plain[i].Path < plain[j].Path })
	if len(plain) > 0 && !demo {
		return found, &RefusalError{Dir: dir, Found: plain}
	}
	return found, nil
}
