// Package git reads the parts of git that channel authentication needs, from hostile bytes:
// bundles (v2, v3), packs (indexed here, with bounds) and git directories (loose objects,
// packs with their .idx, refs, packed-refs). Every object read is hashed with SHA-1 collision
// detection (github.com/pjbgf/sha1cd); a detected collision is an error, never a value.
package git

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/pjbgf/sha1cd"
)

// OID is a SHA-1 object name.
type OID [20]byte

// String returns the 40-digit lower-case hex form.
func (o OID) String() string { return hex.EncodeToString(o[:]) }

// ParseOID parses a 40-digit hex object name.
func ParseOID(s string) (OID, error) {
	var o OID
	if len(s) != 40 {
		return o, fmt.Errorf("object name %q: want 40 hex digits", s)
	}
	if _, err := hex.Decode(o[:], []byte(s)); err != nil {
		return o, fmt.Errorf("object name %q: %w", s, err)
	}
	return o, nil
}

// Type is a git object type, numbered as in packs.
type Type int

// Object types (pack numbering).
const (
	TypeCommit Type = 1
	TypeTree   Type = 2
	TypeBlob   Type = 3
	TypeTag    Type = 4
	typeOfs    Type = 6
	typeRef    Type = 7
)

func (t Type) String() string {
	switch t {
	case TypeCommit:
		return "commit"
	case TypeTree:
		return "tree"
	case TypeBlob:
		return "blob"
	case TypeTag:
		return "tag"
	}
	return "type" + strconv.Itoa(int(t))
}

func parseType(s string) (Type, bool) {
	switch s {
	case "commit":
		return TypeCommit, true
	case "tree":
		return TypeTree, true
	case "blob":
		return TypeBlob, true
	case "tag":
		return TypeTag, true
	}
	return 0, false
}

// Errors the package returns (wrapped with context).
var (
	// ErrMissing: the object is not in the store (a partial clone, a prerequisite).
	ErrMissing = errors.New("object missing")
	// ErrCollision: SHA-1 collision detection fired on an object or a pack.
	ErrCollision = errors.New("SHA-1 collision attack detected")
	// ErrCorrupt: malformed bytes (header, zlib, delta, checksum).
	ErrCorrupt = errors.New("corrupt")
	// ErrLimit: a bound of Limits was exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// Limits bounds the work spent on one input. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxObjects    int   // objects in one pack
	MaxObjectSize int64 // declared or inflated size of one object, delta results included
	MaxDeltaDepth int   // delta chain length
	MaxWork       int64 // total bytes inflated or produced by deltas; 0: max(4 GiB, 64 × input size)
	MaxRefs       int   // refs in a bundle header or a repository
}

// DefaultLimits are generous for Guix's own channel (about 110,000 commits, 700k objects) and
// small enough that a hostile bundle cannot exhaust the appliance.
var DefaultLimits = Limits{
	MaxObjects:    4 << 20,
	MaxObjectSize: 128 << 20,
	MaxDeltaDepth: 4096,
	MaxRefs:       100000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxObjects > 0 {
		d.MaxObjects = l.MaxObjects
	}
	if l.MaxObjectSize > 0 {
		d.MaxObjectSize = l.MaxObjectSize
	}
	if l.MaxDeltaDepth > 0 {
		d.MaxDeltaDepth = l.MaxDeltaDepth
	}
	if l.MaxWork > 0 {
		d.MaxWork = l.MaxWork
	}
	if l.MaxRefs > 0 {
		d.MaxRefs = l.MaxRefs
	}
	return d
}

// hashObject returns the object name of (t, data), refusing detected collisions.
func hashObject(t Type, data []byte) (OID, error) {
	h := sha1cd.New().(interface {
		Write([]byte) (int, error)
		CollisionResistantSum([]byte) ([]byte, bool)
	})
	h.Write([]byte(t.String() + " " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	sum, collision := h.CollisionResistantSum(nil)
	var o OID
	copy(o[:], sum)
	if collision {
		return o, fmt.Errorf("%s %s: %w", t, o, ErrCollision)
	}
	return o, nil
}

// Store gives objects by name. Object returns an error wrapping ErrMissing when absent.
type Store interface {
	Object(oid OID) (Type, []byte, error)
}

// Commit is the part of a commit object the rules read.
type Commit struct {
	Tree    OID
	Parents []OID
	// Signature is the ASCII-armored gpgsig header (continuation lines joined), "" if none.
	Signature string
	// Signed is the commit with the gpgsig header removed: the bytes gpg signed
	// (what libgit2's git_commit_extract_signature returns).
	Signed []byte
}

// ParseCommit parses a commit object. Like git's parser it requires the tree line first and
// parent lines next; the gpgsig header is taken from the header block only.
func ParseCommit(data []byte) (*Commit, error) {
	c := &Commit{}
	hdrEnd := bytes.Index(data, []byte("\n\n")) + 1 // keep the last header's newline
	if hdrEnd <= 0 {
		hdrEnd = len(data)
	}
	header := data[:hdrEnd]
	var signed bytes.Buffer
	lines := bytes.SplitAfter(header, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	sawTree, sawSig := false, false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		key, val, _ := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		switch {
		case i == 0:
			if string(key) != "tree" {
				return nil, fmt.Errorf("commit: first header is not tree: %w", ErrCorrupt)
			}
			o, err := ParseOID(string(val))
			if err != nil {
				return nil, fmt.Errorf("commit tree: %w: %v", ErrCorrupt, err)
			}
			c.Tree, sawTree = o, true
		case string(key) == "parent" && len(c.Parents) == i-1:
			o, err := ParseOID(string(val))
			if err != nil {
				return nil, fmt.Errorf("commit parent: %w: %v", ErrCorrupt, err)
			}
			c.Parents = append(c.Parents, o)
		case string(key) == "gpgsig":
			// Continuation lines start with a space (libgit2 commit.c, extract_signature).
			var sig bytes.Buffer
			sig.Write(val)
			sig.WriteByte('\n')
			for i+1 < len(lines) && len(lines[i+1]) > 0 && lines[i+1][0] == ' ' {
				i++
				sig.Write(bytes.TrimSuffix(lines[i][1:], []byte("\n")))
				sig.WriteByte('\n')
			}
			if sawSig {
				return nil, fmt.Errorf("commit: two gpgsig headers: %w", ErrCorrupt)
			}
			sawSig = true
			c.Signature = sig.String()
			continue
		}
		signed.Write(line)
	}
	if !sawTree {
		return nil, fmt.Errorf("commit: no tree: %w", ErrCorrupt)
	}
	signed.Write(data[hdrEnd:])
	c.Signed = signed.Bytes()
	return c, nil
}

// TreeEntry is one entry of a tree object.
type TreeEntry struct {
	Mode uint32
	Name string
	OID  OID
}

// Modes of tree entries that the package names.
const (
	ModeTree    = 0o40000
	ModeBlob    = 0o100644
	ModeExec    = 0o100755
	ModeSymlink = 0o120000
	ModeGitlink = 0o160000
)

// ParseTree parses a tree object.
func ParseTree(data []byte) ([]TreeEntry, error) {
	var out []TreeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return nil, fmt.Errorf("tree entry mode: %w", ErrCorrupt)
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("tree entry mode %q: %w", data[:sp], ErrCorrupt)
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+21 {
			return nil, fmt.Errorf("tree entry name: %w", ErrCorrupt)
		}
		e := TreeEntry{Mode: uint32(mode), Name: string(data[:nul])}
		copy(e.OID[:], data[nul+1:nul+21])
		out = append(out, e)
		data = data[nul+21:]
	}
	return out, nil
}

// ReadCommit reads and parses a commit from s.
func ReadCommit(s Store, oid OID) (*Commit, error) {
	t, data, err := s.Object(oid)
	if err != nil {
		return nil, err
	}
	if t != TypeCommit {
		return nil, fmt.Errorf("%s is a %s, not a commit: %w", oid, t, ErrCorrupt)
	}
	c, err := ParseCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", oid, err)
	}
	return c, nil
}

// ReadTree reads and parses a tree from s.
func ReadTree(s Store, oid OID) ([]TreeEntry, error) {
	t, data, err := s.Object(oid)
	if err != nil {
		return nil, err
	}
	if t != TypeTree {
		return nil, fmt.Errorf("%s is a %s, not a tree: %w", oid, t, ErrCorrupt)
	}
	e, err := ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", oid, err)
	}
	return e, nil
}
