package guix

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxNarinfoLen bounds a narinfo file: MaxReferences basenames of at most 211+33 bytes fit.
const MaxNarinfoLen = 4 << 20

// ErrNarinfo is wrapped by every error about a malformed narinfo.
var ErrNarinfo = errors.New("invalid narinfo")

// Narinfo is what `guix publish` serves for one store item (guix/scripts/publish.scm,
// narinfo-string): the item's NAR hash, size and references, signed by the server's key.
type Narinfo struct {
	StorePath    string
	URLs         []string // one URL, Compression and (optionally) FileSize per compressed NAR
	Compressions []string
	FileHashes   []string // "sha256:<nix-base32>" of the compressed file; rarely present
	FileSizes    []int64
	NARHash      [32]byte // NarHash, sha256 only
	NARSize      int64
	References   []string // full store paths, sorted (the file lists basenames)
	Deriver      string   // full store path, "" if none
	System       string
	// Host is the signature's host name; Signature the decoded signature s-expression.
	Host      string
	Signature []byte
	// SignedHash is the SHA-256 of the text above the Signature line: what Signature signs.
	SignedHash [32]byte
}

// narinfo field names, as read-narinfo lists them (guix/narinfo.scm, read-narinfo).
var narinfoFields = map[string]bool{"StorePath": true, "URL": true, "Compression": true, "FileHash": true,
	"FileSize": true, "NarHash": true, "NarSize": true, "References": true, "Deriver": true, "System": true,
	"Signature": true}

// narinfoMulti are the fields that may repeat (read-narinfo's multiple-value keys), the only
// ones allowed after the Signature line.
var narinfoMulti = map[string]bool{"URL": true, "Compression": true, "FileHash": true, "FileSize": true}

// narinfoCompressions are the compressions Guix knows (guix/narinfo.scm,
// %compression-methods).
var narinfoCompressions = map[string]bool{"none": true, "gzip": true, "lzip": true, "zstd": true, "xz": true, "bzip2": true}

// ParseNarinfo parses a narinfo strictly, as Guix's read-narinfo reads it (guix/narinfo.scm in
// Guix master, mirrored at github.com/Millak/guix commit 8af9a2aa, lines 174-190: recutils
// "Key: value" lines, the multi-valued URL/Compression/FileSize/FileHash) but refusing what
// Guix would silently accept: the file must be ASCII lines "Key: value" each ending in "\n",
// with no empty line (recutils->alist stops there and ignores the rest), no unknown field, no
// repeated single-valued field (assoc-ref would take the first), no leading or trailing blanks
// in values, and exactly one Signature line.
//
// What is signed is the SHA-256 of the exact text above the first occurrence of "Signature:"
// (narinfo-sha256, lines 192-209, uses string-contains on the whole text), which must therefore
// be the start of the Signature line; StorePath, NarHash, NarSize, References and any Deriver or
// System must be above it (Guix requires the first three there; the others are compared by
// the quorum, so they must be signed too). The Signature value is "1;HOST;BASE64" of the
// signature s-expression (narinfo-signature->canonical-sexp, lines 111-133; version 1 only).
// The s-expression itself is judged later, with the keys (corrupt, unauthorized, invalid).
//
// name names the file in errors.
func ParseNarinfo(name string, b []byte) (*Narinfo, error) {
	bad := func(line int, format string, args ...any) error {
		where := name
		if line > 0 {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		return fmt.Errorf("%w: %s: %s", ErrNarinfo, where, fmt.Sprintf(format, args...))
	}
	if len(b) > MaxNarinfoLen {
		return nil, bad(0, "larger than %d bytes", MaxNarinfoLen)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, bad(0, "empty or not ending in a newline")
	}
	for i, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' {
			return nil, bad(1+bytes.Count(b[:i], []byte("\n")), "byte %#x at offset %d: only printable ASCII", c, i)
		}
	}
	sigAt := bytes.Index(b, []byte("Signature:"))
	n := &Narinfo{}
	seen := map[string]bool{}
	signedDone := false
	var refs string
	off := 0
	for line := 1; off < len(b); line++ {
		end := off + bytes.IndexByte(b[off:], '\n')
		text := string(b[off:end])
		lineOff := off
		off = end + 1
		key, val, ok := strings.Cut(text, ": ")
		if !ok {
			if key, ok = strings.CutSuffix(text, ":"); !ok || key == "" {
				return nil, bad(line, "not \"Key: value\": %q", text)
			}
			return nil, bad(line, "%s: no value (an empty value is written \"%s: \")", key, key)
		}
		if !narinfoFields[key] {
			return nil, bad(line, "unknown field %q", key)
		}
		if val != strings.TrimSpace(val) || strings.Contains(val, "  ") && key == "References" {
			return nil, bad(line, "%s: blanks around or inside the value", key)
		}
		if val == "" && key != "References" {
			return nil, bad(line, "%s: empty value", key)
		}
		if seen[key] && !narinfoMulti[key] {
			return nil, bad(line, "%s repeated", key)
		}
		seen[key] = true
		if signedDone && !narinfoMulti[key] {
			return nil, bad(line, "%s after the Signature line: it would not be signed", key)
		}
		var err error
		switch key {
		case "StorePath":
			if err = CheckStorePath(val); err == nil {
				n.StorePath = val
			}
		case "URL":
			if strings.ContainsAny(val, " ") {
				err = errors.New("blank in URL")
			}
			n.URLs = append(n.URLs, val)
		case "Compression":
			if !narinfoCompressions[val] {
				err = fmt.Errorf("unknown compression %q", val)
			}
			n.Compressions = append(n.Compressions, val)
		case "FileHash":
			if _, err = parseNarinfoHash(val); err == nil {
				n.FileHashes = append(n.FileHashes, val)
			}
		case "FileSize":
			var sz int64
			if sz, err = parseNarinfoSize(val); err == nil {
				n.FileSizes = append(n.FileSizes, sz)
			}
		case "NarHash":
			n.NARHash, err = parseNarinfoHash(val)
		case "NarSize":
			n.NARSize, err = parseNarinfoSize(val)
			if err == nil && n.NARSize == 0 {
				err = errors.New("a NAR is never empty")
			}
		case "References":
			refs = val
		case "Deriver":
			n.Deriver = StoreDir + "/" + val
			err = CheckStorePath(n.Deriver)
		case "System":
			if strings.ContainsAny(val, " ") {
				err = errors.New("blank in system")
			}
			n.System = val
		case "Signature":
			if lineOff != sigAt {
				return nil, bad(line, "\"Signature:\" occurs earlier in the text (Guix signs only what is above its first occurrence)")
			}
			n.SignedHash = sha256.Sum256(b[:sigAt])
			n.Host, n.Signature, err = parseNarinfoSignature(val)
			signedDone = true
		}
		if err != nil {
			return nil, bad(line, "%s: %v", key, err)
		}
	}
	if !signedDone {
		return nil, bad(0, "no Signature line")
	}
	for _, k := range []string{"StorePath", "NarHash", "NarSize", "References"} {
		if !seen[k] {
			return nil, bad(0, "no %s line above the signature", k)
		}
	}
	if len(n.Compressions) != len(n.URLs) || len(n.FileSizes) > len(n.URLs) || len(n.FileHashes) > len(n.URLs) {
		return nil, bad(0, "%d URL, %d Compression, %d FileSize, %d FileHash lines do not pair up",
			len(n.URLs), len(n.Compressions), len(n.FileSizes), len(n.FileHashes))
	}
	if refs != "" {
		for _, r := range strings.Split(refs, " ") {
			p := StoreDir + "/" + r
			if err := CheckStorePath(p); err != nil {
				return nil, bad(0, "References: %q: %v", r, err)
			}
			n.References = append(n.References, p)
		}
		if len(n.References) > MaxReferences {
			return nil, bad(0, "References: %d > %d", len(n.References), MaxReferences)
		}
		sort.Strings(n.References)
		for i := 1; i < len(n.References); i++ {
			if n.References[i] == n.References[i-1] {
				return nil, bad(0, "References: %s twice", n.References[i])
			}
		}
	}
	return n, nil
}

// parseNarinfoHash reads "sha256:<52 nix-base32 digits>" (narinfo-hash->sha256).
func parseNarinfoHash(v string) ([32]byte, error) {
	var h [32]byte
	rest, ok := strings.CutPrefix(v, "sha256:")
	if !ok {
		return h, fmt.Errorf("%q: want sha256:<nix-base32>", v)
	}
	b, err := DecodeBase32(rest)
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("%q: not a nix-base32 SHA-256", v)
	}
	copy(h[:], b)
	return h, nil
}

// parseNarinfoSize reads a decimal size: digits only, no leading zero, within int64.
func parseNarinfoSize(v string) (int64, error) {
	if v == "" || v[0] < '0' || v[0] > '9' || len(v) > 1 && v[0] == '0' {
		return 0, fmt.Errorf("%q: want a decimal size", v)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want a decimal size", v)
	}
	return n, nil
}

// parseNarinfoSignature splits "1;HOST;BASE64" and decodes the s-expression text.
func parseNarinfoSignature(v string) (host string, sig []byte, err error) {
	parts := strings.Split(v, ";")
	if len(parts) != 3 {
		return "", nil, fmt.Errorf("want 1;HOST;BASE64, got %d fields", len(parts))
	}
	if parts[0] != "1" {
		return "", nil, fmt.Errorf("unsupported signature version %q (only 1)", parts[0])
	}
	if parts[1] == "" {
		return "", nil, errors.New("empty host name")
	}
	sig, err = base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return "", nil, fmt.Errorf("signature is not base64: %v", err)
	}
	if len(sig) == 0 || len(sig) > MaxSignatureLen {
		return "", nil, fmt.Errorf("signature of %d bytes", len(sig))
	}
	return parts[1], sig, nil
}

// MarshalNarinfo writes n as `guix publish` does (narinfo-string in guix/scripts/publish.scm):
// StorePath, then URL/Compression/FileSize per compressed NAR, NarHash, NarSize, References
// (basenames), Deriver if any, System if any, then the signature by key of the SHA-256 of
// that text, with host. n.Signature, n.Host and n.SignedHash are set to what was written.
func MarshalNarinfo(n *Narinfo, host string, key *PrivateKey) ([]byte, error) {
	if err := CheckStorePath(n.StorePath); err != nil {
		return nil, err
	}
	if len(n.Compressions) != len(n.URLs) || len(n.FileSizes) > len(n.URLs) {
		return nil, errors.New("narinfo: URL, Compression and FileSize do not pair up")
	}
	if host == "" || strings.ContainsAny(host, ";\n") {
		return nil, fmt.Errorf("narinfo: bad host name %q", host)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "StorePath: %s\n", n.StorePath)
	for i, u := range n.URLs {
		fmt.Fprintf(&b, "URL: %s\nCompression: %s\n", u, n.Compressions[i])
		if i < len(n.FileSizes) {
			fmt.Fprintf(&b, "FileSize: %d\n", n.FileSizes[i])
		}
	}
	refs := append([]string(nil), n.References...)
	sort.Strings(refs)
	base := make([]string, len(refs))
	for i, r := range refs {
		base[i] = strings.TrimPrefix(r, StoreDir+"/")
	}
	fmt.Fprintf(&b, "NarHash: sha256:%s\nNarSize: %d\nReferences: %s\n", EncodeBase32(n.NARHash[:]), n.NARSize, strings.Join(base, " "))
	if n.Deriver != "" {
		fmt.Fprintf(&b, "Deriver: %s\n", strings.TrimPrefix(n.Deriver, StoreDir+"/"))
	}
	if n.System != "" {
		fmt.Fprintf(&b, "System: %s\n", n.System)
	}
	signed := b.String()
	n.SignedHash = sha256.Sum256([]byte(signed))
	sig, err := key.Sign(n.SignedHash)
	if err != nil {
		return nil, err
	}
	n.Host, n.Signature = host, sig
	fmt.Fprintf(&b, "Signature: 1;%s;%s\n", host, base64.StdEncoding.EncodeToString(sig))
	return []byte(b.String()), nil
}
