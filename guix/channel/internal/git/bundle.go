package git

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrBundle: the bundle header is malformed or asks for something refused.
var ErrBundle = errors.New("bundle refused")

// Ref is a named object.
type Ref struct {
	Name string
	OID  OID
}

// BundleHeader is what precedes a bundle's pack (git's Documentation/gitformat-bundle.txt).
type BundleHeader struct {
	Version       int
	Prerequisites []OID
	Refs          []Ref
	PackOffset    int64 // where the pack starts
}

// maxHeaderLine bounds one header line (an OID, a space and a ref name of at most 4 KiB).
const maxHeaderLine = 4200

// ParseBundleHeader parses the header of a git bundle v2 or v3 from r. It refuses unknown
// capabilities, an object-format other than sha1 and filters (a filtered bundle lacks
// objects). Prerequisites are returned; whether they are acceptable is the caller's policy.
func ParseBundleHeader(r io.Reader, lim Limits) (*BundleHeader, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 1<<16)
	h := &BundleHeader{}
	var off int64
	readLine := func() (string, error) {
		var sb strings.Builder
		for {
			c, err := br.ReadByte()
			if err != nil {
				return "", fmt.Errorf("header: %w", truncated(err))
			}
			off++
			if c == '\n' {
				return sb.String(), nil
			}
			if sb.Len() >= maxHeaderLine {
				return "", fmt.Errorf("header line longer than %d bytes: %w", maxHeaderLine, ErrBundle)
			}
			sb.WriteByte(c)
		}
	}
	sig, err := readLine()
	if err != nil {
		return nil, err
	}
	switch sig {
	case "# v2 git bundle":
		h.Version = 2
	case "# v3 git bundle":
		h.Version = 3
	default:
		return nil, fmt.Errorf("signature %.40q is not a git bundle v2 or v3: %w", sig, ErrBundle)
	}
	capsDone := h.Version == 2
	for {
		line, err := readLine()
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		if line[0] == '@' {
			if capsDone {
				return nil, fmt.Errorf("capability %q after the capability block: %w", line, ErrBundle)
			}
			key, val, _ := strings.Cut(line[1:], "=")
			switch key {
			case "object-format":
				if val != "sha1" {
					return nil, fmt.Errorf("object-format %q (only sha1): %w", val, ErrBundle)
				}
			case "filter":
				return nil, fmt.Errorf("filtered bundle (filter=%s) lacks objects: %w", val, ErrBundle)
			default:
				return nil, fmt.Errorf("unknown capability %q: %w", key, ErrBundle)
			}
			continue
		}
		capsDone = true
		if len(h.Prerequisites)+len(h.Refs) >= lim.MaxRefs {
			return nil, fmt.Errorf("more than %d refs: %w", lim.MaxRefs, ErrLimit)
		}
		if line[0] == '-' {
			hex, _, _ := strings.Cut(line[1:], " ")
			o, err := ParseOID(hex)
			if err != nil {
				return nil, fmt.Errorf("prerequisite: %w: %v", ErrBundle, err)
			}
			h.Prerequisites = append(h.Prerequisites, o)
			continue
		}
		hex, name, ok := strings.Cut(line, " ")
		if !ok || name == "" {
			return nil, fmt.Errorf("ref line %.60q: %w", line, ErrBundle)
		}
		o, err := ParseOID(hex)
		if err != nil {
			return nil, fmt.Errorf("ref %q: %w: %v", name, ErrBundle, err)
		}
		if strings.ContainsAny(name, "\x00\x7f ~^:?*[\\") || strings.Contains(name, "..") {
			return nil, fmt.Errorf("ref name %q is not a valid git ref: %w", name, ErrBundle)
		}
		h.Refs = append(h.Refs, Ref{Name: name, OID: o})
	}
	if len(h.Refs) == 0 {
		return nil, fmt.Errorf("no refs: %w", ErrBundle)
	}
	h.PackOffset = off
	return h, nil
}

// Bundle is an opened bundle: its header and its indexed pack.
type Bundle struct {
	Header *BundleHeader
	*Pack
}

// OpenBundle parses the bundle in r[0:size] and indexes its pack. ext supplies the
// prerequisites' objects (nil: none held; a thin delta against them is then an error).
func OpenBundle(name string, r io.ReaderAt, size int64, lim Limits, ext Store) (*Bundle, error) {
	h, err := ParseBundleHeader(io.NewSectionReader(r, 0, size), lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p, err := IndexPack(name, io.NewSectionReader(r, h.PackOffset, size-h.PackOffset), size-h.PackOffset, lim, ext)
	if err != nil {
		return nil, err
	}
	return &Bundle{Header: h, Pack: p}, nil
}

// ResolveRef finds name among refs as git and libgit2's branch lookup would: the exact
// name, then refs/NAME, refs/heads/NAME, refs/remotes/NAME, refs/tags/NAME.
func ResolveRef(refs []Ref, name string) (OID, bool) {
	for _, cand := range []string{name, "refs/" + name, "refs/heads/" + name, "refs/remotes/" + name, "refs/tags/" + name} {
		for _, r := range refs {
			if r.Name == cand {
				return r.OID, true
			}
		}
	}
	return OID{}, false
}
