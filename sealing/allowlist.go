package sealing

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// Allowlist limits on untrusted input.
const (
	MaxAllowlistSize    = 64 << 20
	MaxAllowlistEntries = 1 << 20
	MaxAllowNameLen     = 1024
)

// ErrAllowlistMalformed is wrapped by every allowlist parse error; the message names the line.
var ErrAllowlistMalformed = errors.New("malformed allowlist")

// AllowEntry is one approved file: its SHA-256, its size and the name the approver gave it.
type AllowEntry struct {
	Sum  [32]byte
	Size int64
	Name string
}

type allowKey struct {
	sum  [32]byte
	size int64
}

// Allowlist is a set of approved files, the offline-known-good hashes an approver signed.
//
// Its text form is one line per entry,
//
//	<sha256, 64 lower-case hex>  <size, decimal>  <name>\n
//
// sorted by name, then hash, then size, with no duplicate lines. Names are informational (the
// decision looks at hash and size only): UTF-8 without control characters or backslashes,
// at most MaxAllowNameLen bytes. The signature is a minisign signature of the whole text in
// ALLOWLIST.minisig, so `minisign -Vm ALLOWLIST -p approver.pub` checks it.
type Allowlist struct {
	entries []AllowEntry
	index   map[allowKey]int
}

// NewAllowlist returns an empty allowlist.
func NewAllowlist() *Allowlist { return &Allowlist{index: map[allowKey]int{}} }

// Lookup reports whether a file with this SHA-256 and size is approved, and its name.
func (a *Allowlist) Lookup(sum [32]byte, size int64) (name string, ok bool) {
	i, ok := a.index[allowKey{sum, size}]
	if !ok {
		return "", false
	}
	return a.entries[i].Name, true
}

// Len is the number of entries.
func (a *Allowlist) Len() int { return len(a.entries) }

// Entries returns the entries in order.
func (a *Allowlist) Entries() []AllowEntry { return append([]AllowEntry(nil), a.entries...) }

func less(x, y AllowEntry) bool {
	if x.Name != y.Name {
		return x.Name < y.Name
	}
	if c := bytes.Compare(x.Sum[:], y.Sum[:]); c != 0 {
		return c < 0
	}
	return x.Size < y.Size
}

// Add adds entries, keeping the list sorted; an entry already present is ignored.
func (a *Allowlist) Add(es ...AllowEntry) error {
	have := make(map[AllowEntry]bool, len(a.entries))
	for _, x := range a.entries {
		have[x] = true
	}
	for _, e := range es {
		if err := checkAllowName(e.Name); err != nil {
			return fmt.Errorf("allowlist entry %q: %w", e.Name, err)
		}
		if e.Size < 0 {
			return fmt.Errorf("allowlist entry %q: negative size", e.Name)
		}
		if !have[e] {
			have[e] = true
			a.entries = append(a.entries, e)
		}
	}
	sort.Slice(a.entries, func(i, j int) bool { return less(a.entries[i], a.entries[j]) })
	a.reindex()
	return nil
}

func (a *Allowlist) reindex() {
	a.index = make(map[allowKey]int, len(a.entries))
	for i, e := range a.entries {
		k := allowKey{e.Sum, e.Size}
		if _, ok := a.index[k]; !ok {
			a.index[k] = i
		}
	}
}

func checkAllowName(n string) error {
	switch {
	case n == "":
		return errors.New("empty name")
	case len(n) > MaxAllowNameLen:
		return fmt.Errorf("name longer than %d bytes", MaxAllowNameLen)
	case !utf8.ValidString(n):
		return errors.New("name is not UTF-8")
	case strings.ContainsAny(n, "\\\x7f"):
		return errors.New("backslash or DEL in name")
	}
	for _, r := range n {
		if r < 0x20 {
			return errors.New("control character in name")
		}
	}
	return nil
}

// MarshalText returns the list's text form.
func (a *Allowlist) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	for _, e := range a.entries {
		fmt.Fprintf(&b, "%s  %d  %s\n", hex.EncodeToString(e.Sum[:]), e.Size, e.Name)
	}
	return b.Bytes(), nil
}

// Sign returns the text form and its minisign signature by the approver's key.
func (a *Allowlist) Sign(key *SealKey, comment string) (text, sig []byte) {
	text, _ = a.MarshalText()
	tc := fmt.Sprintf("airlock-allowlist entries=%d", len(a.entries))
	if comment != "" {
		tc += " comment=" + escapeField(comment)
	}
	return text, key.SignDetached(text, tc)
}

// ParseAllowlist parses the text form strictly (see Allowlist); errors name the line.
func ParseAllowlist(b []byte) (*Allowlist, error) {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("line %d: %w: %s", line, ErrAllowlistMalformed, fmt.Sprintf(format, args...))
	}
	if len(b) > MaxAllowlistSize {
		return nil, bad(1, "larger than %d bytes", MaxAllowlistSize)
	}
	a := NewAllowlist()
	if len(b) == 0 {
		return a, nil
	}
	if b[len(b)-1] != '\n' {
		return nil, bad(bytes.Count(b, []byte("\n"))+1, "last line not terminated by a newline")
	}
	lines := bytes.Split(b[:len(b)-1], []byte("\n"))
	if len(lines) > MaxAllowlistEntries {
		return nil, bad(MaxAllowlistEntries+1, "more than %d entries", MaxAllowlistEntries)
	}
	for i, l := range lines {
		n := i + 1
		f := strings.SplitN(string(l), "  ", 3)
		if len(f) != 3 {
			return nil, bad(n, "want \"SHA256  SIZE  NAME\"")
		}
		var e AllowEntry
		if len(f[0]) != 64 || strings.ToLower(f[0]) != f[0] {
			return nil, bad(n, "hash is not 64 lower-case hex digits")
		}
		if _, err := hex.Decode(e.Sum[:], []byte(f[0])); err != nil {
			return nil, bad(n, "hash is not 64 lower-case hex digits")
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 || strconv.FormatInt(size, 10) != f[1] {
			return nil, bad(n, "size %q is not a decimal number", f[1])
		}
		e.Size, e.Name = size, f[2]
		if err := checkAllowName(e.Name); err != nil {
			return nil, bad(n, "%v", err)
		}
		if len(a.entries) > 0 {
			prev := a.entries[len(a.entries)-1]
			if prev == e {
				return nil, bad(n, "duplicate entry")
			}
			if !less(prev, e) {
				return nil, bad(n, "entries not sorted")
			}
		}
		a.entries = append(a.entries, e)
	}
	a.reindex()
	return a, nil
}

// VerifyAllowlist checks the signature over text against the trusted approver keys, then
// parses it. An unsigned, altered or wrongly-signed list is refused whole.
func VerifyAllowlist(text, sig []byte, trusted ...*PublicKey) (*Allowlist, error) {
	s, err := VerifyDetached(text, sig, trusted...)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(s.TrustedComment, "airlock-allowlist ") {
		return nil, fmt.Errorf("%w: trusted comment %q is not an airlock allowlist's", ErrBadTrustedComment, s.TrustedComment)
	}
	return ParseAllowlist(text)
}

// LoadAllowlist reads path and path.minisig and verifies them (see VerifyAllowlist). Errors
// name the file.
func LoadAllowlist(path string, trusted ...*PublicKey) (*Allowlist, error) {
	text, err := readlimit.File(path, MaxAllowlistSize)
	if err != nil {
		return nil, err
	}
	sigPath := path + ".minisig"
	sig, err := readlimit.File(sigPath, MaxSignatureSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (an unsigned allowlist is refused)", sigPath, ErrMissingSignature)
	}
	if err != nil {
		return nil, err
	}
	a, err := VerifyAllowlist(text, sig, trusted...)
	if err != nil {
		if errors.Is(err, ErrAllowlistMalformed) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w", sigPath, err)
	}
	return a, nil
}

// AllowFiles adds files (hashed in parallel; each named by its base name) to the allowlist at
// path, creating it or, if it exists, first verifying it against key's own public key, and
// writes the list and path.minisig. It returns the list written.
func AllowFiles(ctx context.Context, path string, key *SealKey, files []string) (*Allowlist, error) {
	a := NewAllowlist()
	if _, err := os.Stat(path); err == nil {
		if a, err = LoadAllowlist(path, key.Public()); err != nil {
			return nil, fmt.Errorf("existing allowlist: %w", err)
		}
	}
	jobs := make([]File, len(files))
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w", f, ErrNotRegular)
		}
		jobs[i] = File{Path: f, Size: st.Size()}
	}
	err := parallel(ctx, jobs, 0, func(f *File) error {
		r, err := os.Open(f.Path)
		if err != nil {
			return err
		}
		defer r.Close()
		h := newSHA256()
		n, err := copyCtx(ctx, h, r)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		f.Size = n
		copy(f.Sum[:], h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if err := a.Add(AllowEntry{Sum: j.Sum, Size: j.Size, Name: filepath.Base(j.Path)}); err != nil {
			return nil, err
		}
	}
	text, sig := a.Sign(key, "")
	if err := writeFileSync(path+".tmp", text); err != nil {
		return nil, err
	}
	if err := writeFileSync(path+".minisig.tmp", sig); err != nil {
		return nil, err
	}
	// Signature first: a crash between the renames leaves a list that fails verification
	// (refused whole) rather than one that passes with the old signature.
	if err := os.Rename(path+".minisig.tmp", path+".minisig"); err != nil {
		return nil, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return nil, err
	}
	return a, nil
}
