package guix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// NAR limits. guix-daemon and Nix accept more; airlock refuses anything a real store item
// cannot contain (names are file names, targets are paths).
const (
	MaxNARDepth      = 64   // directory nesting below the root
	MaxNameLen       = 255  // bytes of one entry name
	MaxTargetLen     = 4095 // bytes of a symlink target
	maxTagLen        = 16   // longest NAR tag is "executable"
	narMagic         = "nix-archive-1"
	maxContentsBytes = 1<<63 - 1
)

// ErrMalformed is wrapped by every error that reports a NAR or export stream breaking a rule
// of the format (as opposed to a truncated stream, which wraps io.ErrUnexpectedEOF, or an I/O
// error).
var ErrMalformed = errors.New("malformed")

// Rule names a rule of the NAR or export format that input broke; FormatError carries it so
// callers and tests can tell which one.
type Rule string

// The rules a strict reader enforces (GUIX-FORMATS.md).
const (
	RuleTruncated     Rule = "truncated"
	RuleRead          Rule = "read error"
	RuleMagic         Rule = "bad magic"
	RuleTag           Rule = "unexpected tag"
	RuleType          Rule = "unknown node type"
	RuleExecutable    Rule = "non-empty executable marker"
	RulePadding       Rule = "non-zero padding"
	RuleLength        Rule = "length out of range"
	RuleName          Rule = "invalid entry name"
	RuleNameLength    Rule = "entry name too long"
	RuleOrder         Rule = "entry names not strictly increasing"
	RuleTarget        Rule = "invalid symlink target"
	RuleTargetLength  Rule = "symlink target too long"
	RuleDepth         Rule = "nesting too deep"
	RuleTrailing      Rule = "trailing bytes"
	RuleItemMarker    Rule = "bad item marker"
	RuleExportMagic   Rule = "bad export magic"
	RuleStorePath     Rule = "invalid store path"
	RuleReferences    Rule = "references not sorted and unique"
	RuleSignatureFlag Rule = "bad signature flag"
	RuleSignatureLen  Rule = "signature too long"
	RuleTooManyRefs   Rule = "too many references"
	RuleTooManyItems  Rule = "too many items or references in the stream"
)

// FormatError reports where and why a NAR or export stream was refused.
type FormatError struct {
	Offset int64  // stream offset of the offending field
	Item   int    // export item index, -1 for a standalone NAR
	Path   string // path inside the NAR ("" for the root or outside the NAR)
	Rule   Rule
	Detail string
	Err    error // ErrMalformed, io.ErrUnexpectedEOF or the I/O error
}

// Error says where (item, offset, NAR path) and which rule, e.g.
// "item 2, offset 3161784, NAR path \"/share/quux\": truncated: unexpected EOF".
func (e *FormatError) Error() string {
	where := fmt.Sprintf("offset %d", e.Offset)
	if e.Item >= 0 {
		where = fmt.Sprintf("item %d, %s", e.Item, where)
	}
	if e.Path != "" {
		where += fmt.Sprintf(", NAR path %q", e.Path)
	}
	msg := string(e.Rule)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Err != nil && e.Err != ErrMalformed {
		msg += ": " + e.Err.Error()
	}
	return where + ": " + msg
}

// Unwrap returns ErrMalformed, ErrTrailingData, io.ErrUnexpectedEOF or the I/O error.
func (e *FormatError) Unwrap() error { return e.Err }

// EntryType is the type of a NAR node.
type EntryType int

// NAR node types.
const (
	Regular EntryType = iota + 1
	Directory
	Symlink
)

// String returns the NAR type name: regular, directory or symlink.
func (t EntryType) String() string {
	switch t {
	case Regular:
		return "regular"
	case Directory:
		return "directory"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("EntryType(%d)", int(t))
}

// NAREntry is one node of a NAR, in archive order (a directory before its entries, entries
// sorted by name).
type NAREntry struct {
	Path       string // "" for the root, else "/a/b"
	Type       EntryType
	Executable bool   // regular files only
	Size       int64  // regular files only: bytes of contents
	Target     string // symlinks only
}

type narFrame struct {
	path     string
	prevName []byte
}

// NARReader reads a NAR ("nix-archive-1") as a stream of entries, like archive/tar: Next moves
// to the next node and Read reads the contents of the current regular file. It holds only a
// fixed buffer and the stack of open directories, whatever the size of the archive.
//
// The reader is strict: it refuses every input that breaks a rule of GUIX-FORMATS.md with a
// *FormatError wrapping ErrMalformed (or io.ErrUnexpectedEOF for a truncated archive). Errors
// are sticky.
type NARReader struct {
	w        *wire
	item     int // export item index or -1
	embedded bool
	started  bool
	done     bool
	err      error
	stack    []narFrame
	inFile   bool
	ended    bool // the current node's closing ")" has been read
	remain   int64
	size     int64
	curPath  string
	tok      []byte
}

// NewNARReader returns a reader of a standalone NAR: after the root node, r must be at its end
// (trailing bytes are an error).
func NewNARReader(r io.Reader) *NARReader {
	return &NARReader{w: newWire(r), item: -1}
}

// NewEmbeddedNARReader returns a reader of a NAR that other data follows (as in an export
// item): after the root node it returns io.EOF without looking further. It reads ahead of the
// NAR's end, so the data after the NAR must be read through Rest, not from r.
func NewEmbeddedNARReader(r io.Reader) *NARReader {
	return newEmbeddedNAR(newWire(r), -1)
}

// Rest returns a reader of the input after the NAR of an embedded reader that has returned
// io.EOF: the bytes it read ahead, then the rest of the underlying reader.
func (r *NARReader) Rest() io.Reader {
	buffered := bytes.NewReader(append([]byte(nil), r.w.buf[r.w.pos:r.w.end]...))
	if r.w.err != nil {
		return io.MultiReader(buffered, errReader{r.w.err})
	}
	return io.MultiReader(buffered, r.w.r)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// newEmbeddedNAR reads a NAR that continues with other data (an export item): it stops after
// the root node without looking further.
func newEmbeddedNAR(w *wire, item int) *NARReader {
	return &NARReader{w: w, item: item, embedded: true}
}

func (r *NARReader) fail(rule Rule, path, detail string, err error) error {
	if err == nil {
		err = ErrMalformed
	}
	return &FormatError{Offset: r.w.off, Item: r.item, Path: path, Rule: rule, Detail: detail, Err: err}
}

// wireErr turns an error of the wire primitives into a FormatError; tooLong is the rule for a
// string over its bound.
func (r *NARReader) wireErr(err error, path string, tooLong Rule) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return r.fail(RuleTruncated, path, "", io.ErrUnexpectedEOF)
	case errors.Is(err, errUpper32):
		return r.fail(RuleLength, path, err.Error(), nil)
	case errors.Is(err, errTooLong):
		return r.fail(tooLong, path, err.Error(), nil)
	case errors.Is(err, errNonZeroPd):
		return r.fail(RulePadding, path, "", nil)
	}
	return r.fail(RuleRead, path, "", err)
}

// expect reads a tag and checks it is want.
func (r *NARReader) expect(want, path string) error {
	tok, err := r.w.str(r.tok, maxTagLen)
	if err != nil {
		return r.wireErr(err, path, RuleTag)
	}
	r.tok = tok
	if string(tok) != want {
		return r.fail(RuleTag, path, fmt.Sprintf("got %q, want %q", tok, want), nil)
	}
	return nil
}

// Next advances to the next entry, skipping what is left of the current file. It returns
// io.EOF after the root node ends.
func (r *NARReader) Next() (*NAREntry, error) {
	if r.err != nil {
		return nil, r.err
	}
	e, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return e, nil
}

func (r *NARReader) next() (*NAREntry, error) {
	if !r.started {
		r.started = true
		magic, err := r.w.str(r.tok, len(narMagic))
		if err != nil {
			if errors.Is(err, errTooLong) || errors.Is(err, errUpper32) {
				return nil, r.fail(RuleMagic, "", "", nil)
			}
			return nil, r.wireErr(err, "", RuleMagic)
		}
		if string(magic) != narMagic {
			return nil, r.fail(RuleMagic, "", fmt.Sprintf("%q", magic), nil)
		}
		return r.node("", 0)
	}
	if r.done {
		return nil, io.EOF
	}
	if r.inFile {
		if err := r.w.skip(r.remain); err != nil {
			return nil, r.wireErr(err, r.curPath, RuleLength)
		}
		r.remain = 0
		if err := r.endFile(); err != nil {
			return nil, err
		}
	}
	for {
		if r.ended {
			r.ended = false
			if len(r.stack) == 0 {
				return nil, r.finish()
			}
			if err := r.expect(")", r.stack[len(r.stack)-1].path); err != nil {
				return nil, err
			}
		}
		top := &r.stack[len(r.stack)-1]
		tok, err := r.w.str(r.tok, maxTagLen)
		if err != nil {
			return nil, r.wireErr(err, top.path, RuleTag)
		}
		r.tok = tok
		switch string(tok) {
		case ")":
			r.stack = r.stack[:len(r.stack)-1]
			r.ended = true
			continue
		case "entry":
		default:
			return nil, r.fail(RuleTag, top.path, fmt.Sprintf("got %q in a directory", tok), nil)
		}
		if err := r.expect("(", top.path); err != nil {
			return nil, err
		}
		if err := r.expect("name", top.path); err != nil {
			return nil, err
		}
		nameOff := r.w.off
		name, err := r.w.str(nil, MaxNameLen)
		if err != nil {
			return nil, r.wireErr(err, top.path, RuleNameLength)
		}
		if why := badName(name); why != "" {
			return nil, &FormatError{Offset: nameOff, Item: r.item, Path: top.path + "/" + string(name),
				Rule: RuleName, Detail: why, Err: ErrMalformed}
		}
		if top.prevName != nil && bytes.Compare(name, top.prevName) <= 0 {
			return nil, &FormatError{Offset: nameOff, Item: r.item, Path: top.path + "/" + string(name),
				Rule: RuleOrder, Detail: fmt.Sprintf("%q after %q", name, top.prevName), Err: ErrMalformed}
		}
		top.prevName = name
		path := top.path + "/" + string(name)
		if err := r.expect("node", path); err != nil {
			return nil, err
		}
		return r.node(path, len(r.stack))
	}
}

func badName(name []byte) string {
	switch {
	case len(name) == 0:
		return "empty"
	case string(name) == "." || string(name) == "..":
		return fmt.Sprintf("%q", name)
	case bytes.IndexByte(name, '/') >= 0:
		return "contains '/'"
	case bytes.IndexByte(name, 0) >= 0:
		return "contains NUL"
	}
	return ""
}

// node reads a node header up to the point where its entries or contents begin.
func (r *NARReader) node(path string, depth int) (*NAREntry, error) {
	if depth > MaxNARDepth {
		return nil, r.fail(RuleDepth, path, fmt.Sprintf("more than %d levels", MaxNARDepth), nil)
	}
	if err := r.expect("(", path); err != nil {
		return nil, err
	}
	if err := r.expect("type", path); err != nil {
		return nil, err
	}
	typ, err := r.w.str(r.tok, maxTagLen)
	if err != nil {
		return nil, r.wireErr(err, path, RuleType)
	}
	r.tok = typ
	r.curPath = path
	switch string(typ) {
	case "regular":
		e := &NAREntry{Path: path, Type: Regular}
		tok, err := r.w.str(r.tok, maxTagLen)
		if err != nil {
			return nil, r.wireErr(err, path, RuleTag)
		}
		r.tok = tok
		if string(tok) == "executable" {
			v, err := r.w.str(r.tok, 0)
			if err != nil {
				return nil, r.wireErr(err, path, RuleExecutable)
			}
			r.tok = v
			e.Executable = true
			if err := r.expect("contents", path); err != nil {
				return nil, err
			}
		} else if string(tok) != "contents" {
			return nil, r.fail(RuleTag, path, fmt.Sprintf("got %q, want \"contents\" or \"executable\"", tok), nil)
		}
		size, err := r.w.u64()
		if err != nil {
			return nil, r.wireErr(err, path, RuleLength)
		}
		if size > maxContentsBytes {
			return nil, r.fail(RuleLength, path, fmt.Sprintf("file size %d", size), nil)
		}
		e.Size = int64(size)
		r.inFile, r.remain, r.size = true, e.Size, e.Size
		return e, nil
	case "symlink":
		if err := r.expect("target", path); err != nil {
			return nil, err
		}
		target, err := r.w.str(nil, MaxTargetLen)
		if err != nil {
			return nil, r.wireErr(err, path, RuleTargetLength)
		}
		switch {
		case len(target) == 0:
			return nil, r.fail(RuleTarget, path, "empty", nil)
		case bytes.IndexByte(target, 0) >= 0:
			return nil, r.fail(RuleTarget, path, "contains NUL", nil)
		}
		if err := r.expect(")", path); err != nil {
			return nil, err
		}
		r.ended = true
		return &NAREntry{Path: path, Type: Symlink, Target: string(target)}, nil
	case "directory":
		r.stack = append(r.stack, narFrame{path: path})
		return &NAREntry{Path: path, Type: Directory}, nil
	}
	return nil, r.fail(RuleType, path, fmt.Sprintf("%q", typ), nil)
}

// endFile checks the padding and ")" after a file's contents.
func (r *NARReader) endFile() error {
	r.inFile = false
	if err := r.w.padding(r.size); err != nil {
		return r.wireErr(err, r.curPath, RuleLength)
	}
	if err := r.expect(")", r.curPath); err != nil {
		return err
	}
	r.ended = true
	return nil
}

func (r *NARReader) finish() error {
	r.done = true
	if !r.embedded {
		eof, err := r.w.atEOF()
		if err != nil {
			return r.fail(RuleRead, "", "", err)
		}
		if !eof {
			return r.fail(RuleTrailing, "", "after the root node", nil)
		}
	}
	return io.EOF
}

// Read reads contents of the current regular file. It returns io.EOF at the end of the file,
// and 0, io.EOF if the current entry is not a regular file.
func (r *NARReader) Read(p []byte) (int, error) {
	if r.err != nil && r.err != io.EOF {
		return 0, r.err
	}
	if !r.inFile || r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.w.read(p)
	r.remain -= int64(n)
	if err != nil {
		r.err = r.wireErr(err, r.curPath, RuleLength)
		return n, r.err
	}
	return n, nil
}
