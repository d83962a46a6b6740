// Package sexp reads and writes the libgcrypt S-expressions that Guix uses for keys, ACLs and
// signatures.
//
// Two encodings are read:
//
//   - canonical: lists in parentheses, atoms as "LEN:BYTES" with no whitespace;
//   - advanced (what gcry_sexp_sprint and Guile's canonical-sexp->string write): atoms as tokens
//     ([A-Za-z0-9-./_:*+=], not starting with a digit), "quoted strings" with C escapes,
//     #HEX# and |BASE64|, plus the canonical "LEN:BYTES" form, separated by any whitespace.
//
// Display hints ("[hint]") are refused: Guix never writes them and they would make two keys that
// compare equal print differently. Input is bounded (MaxInput, MaxDepth, MaxNodes) because
// signatures come from untrusted export streams.
//
// Write renders the advanced format byte for byte as libgcrypt 1.10 does, so that a signature or
// key file airlock writes is identical to the one Guix would write for the same values.
package sexp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on hostile input.
const (
	MaxInput = 64 << 10 // bytes of text
	MaxDepth = 32       // list nesting
	MaxNodes = 4096     // atoms plus lists
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("malformed s-expression")

// Node is an atom (List == nil and IsList false) or a list.
type Node struct {
	IsList bool
	Atom   []byte
	List   []*Node
}

// A returns an atom node.
func A(b []byte) *Node { return &Node{Atom: b} }

// S returns an atom node holding the bytes of s.
func S(s string) *Node { return &Node{Atom: []byte(s)} }

// L returns a list node.
func L(items ...*Node) *Node { return &Node{IsList: true, List: items} }

// Equal reports whether a and b have the same structure and atoms (compared as bytes), whatever
// encoding they were read from.
func Equal(a, b *Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.IsList != b.IsList {
		return false
	}
	if !a.IsList {
		return bytes.Equal(a.Atom, b.Atom)
	}
	if len(a.List) != len(b.List) {
		return false
	}
	for i := range a.List {
		if !Equal(a.List[i], b.List[i]) {
			return false
		}
	}
	return true
}

// Head returns the first atom of a list as a string, or "" if n is not a list starting with an
// atom.
func (n *Node) Head() string {
	if n == nil || !n.IsList || len(n.List) == 0 || n.List[0].IsList {
		return ""
	}
	return string(n.List[0].Atom)
}

// Find returns the first direct child list of n whose head is tok, or nil.
func (n *Node) Find(tok string) *Node {
	if n == nil || !n.IsList {
		return nil
	}
	for _, c := range n.List[1:] {
		if c.Head() == tok {
			return c
		}
	}
	return nil
}

// Value returns the atom that follows the head in a list like "(q #...#)", or nil if n is not a
// two-element list whose second element is an atom.
func (n *Node) Value() []byte {
	if n == nil || !n.IsList || len(n.List) != 2 || n.List[1].IsList {
		return nil
	}
	return n.List[1].Atom
}

// Parse reads exactly one S-expression, in canonical or advanced encoding, from b. Whitespace
// around it is allowed; anything else after it is an error.
func Parse(b []byte) (*Node, error) {
	if len(b) > MaxInput {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrSyntax, len(b), MaxInput)
	}
	p := &parser{b: b}
	p.skipSpace()
	if p.i >= len(b) || b[p.i] != '(' {
		return nil, p.errf("expected '('")
	}
	n, err := p.list(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(b) {
		return nil, p.errf("data after the closing ')'")
	}
	return n, nil
}

type parser struct {
	b     []byte
	i     int
	nodes int
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, p.i, fmt.Sprintf(format, args...))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *parser) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-./_:*+=", c) >= 0
}

// list parses a list starting at '('.
func (p *parser) list(depth int) (*Node, error) {
	if depth >= MaxDepth {
		return nil, p.errf("nesting deeper than %d", MaxDepth)
	}
	p.i++ // '('
	n := &Node{IsList: true}
	for {
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.errf("unexpected end: missing ')'")
		}
		p.nodes++
		if p.nodes > MaxNodes {
			return nil, p.errf("more than %d nodes", MaxNodes)
		}
		switch c := p.b[p.i]; {
		case c == ')':
			p.i++
			return n, nil
		case c == '(':
			child, err := p.list(depth + 1)
			if err != nil {
				return nil, err
			}
			n.List = append(n.List, child)
		default:
			a, err := p.atom()
			if err != nil {
				return nil, err
			}
			n.List = append(n.List, &Node{Atom: a})
		}
	}
}

func (p *parser) atom() ([]byte, error) {
	c := p.b[p.i]
	switch {
	case c >= '0' && c <= '9':
		return p.verbatim()
	case c == '"':
		return p.quoted()
	case c == '#':
		return p.delimited('#', func(s []byte) ([]byte, error) {
			var t []byte
			for _, ch := range s {
				if !isSpace(ch) {
					t = append(t, ch)
				}
			}
			if len(t)%2 != 0 {
				return nil, errors.New("odd number of hex digits")
			}
			return hex.DecodeString(string(t))
		})
	case c == '|':
		return p.delimited('|', func(s []byte) ([]byte, error) {
			var t []byte
			for _, ch := range s {
				if !isSpace(ch) {
					t = append(t, ch)
				}
			}
			return base64.StdEncoding.DecodeString(string(t))
		})
	case c == '[':
		return nil, p.errf("display hints are not supported")
	case isTokenChar(c):
		start := p.i
		for p.i < len(p.b) && isTokenChar(p.b[p.i]) {
			p.i++
		}
		return append([]byte(nil), p.b[start:p.i]...), nil
	default:
		return nil, p.errf("unexpected byte %q", c)
	}
}

// verbatim parses LEN:BYTES (canonical), or LEN#HEX# / LEN"..." with a declared length.
func (p *parser) verbatim() ([]byte, error) {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		if p.i-start > 6 {
			return nil, p.errf("length prefix too long")
		}
	}
	n, err := strconv.Atoi(string(p.b[start:p.i]))
	if err != nil {
		return nil, p.errf("bad length prefix")
	}
	if p.b[start] == '0' && p.i-start > 1 {
		return nil, p.errf("length prefix with a leading zero")
	}
	if p.i >= len(p.b) {
		return nil, p.errf("unexpected end after length prefix")
	}
	switch p.b[p.i] {
	case ':':
		p.i++
		if n > len(p.b)-p.i {
			return nil, p.errf("atom of %d bytes runs past the end", n)
		}
		a := append([]byte(nil), p.b[p.i:p.i+n]...)
		p.i += n
		return a, nil
	case '"', '#', '|':
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		if len(a) != n {
			return nil, p.errf("atom has %d bytes, its prefix says %d", len(a), n)
		}
		return a, nil
	default:
		return nil, p.errf("atom starts with a digit but is not LEN:BYTES")
	}
}

func (p *parser) delimited(delim byte, decode func([]byte) ([]byte, error)) ([]byte, error) {
	start := p.i
	end := bytes.IndexByte(p.b[p.i+1:], delim)
	if end < 0 {
		return nil, p.errf("unterminated %c", delim)
	}
	body := p.b[p.i+1 : p.i+1+end]
	p.i += end + 2
	a, err := decode(body)
	if err != nil {
		p.i = start
		return nil, p.errf("bad %c-encoded atom: %v", delim, err)
	}
	if a == nil {
		a = []byte{}
	}
	return a, nil
}

func (p *parser) quoted() ([]byte, error) {
	p.i++ // opening quote
	a := []byte{}
	for {
		if p.i >= len(p.b) {
			return nil, p.errf("unterminated string")
		}
		c := p.b[p.i]
		p.i++
		switch c {
		case '"':
			return a, nil
		case '\\':
			if p.i >= len(p.b) {
				return nil, p.errf("unterminated escape")
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case 'b':
				a = append(a, '\b')
			case 't':
				a = append(a, '\t')
			case 'v':
				a = append(a, '\v')
			case 'n':
				a = append(a, '\n')
			case 'f':
				a = append(a, '\f')
			case 'r':
				a = append(a, '\r')
			case '"', '\'', '\\':
				a = append(a, e)
			case '\n': // line continuation
				if p.i < len(p.b) && p.b[p.i] == '\r' {
					p.i++
				}
			case '\r':
				if p.i < len(p.b) && p.b[p.i] == '\n' {
					p.i++
				}
			case 'x':
				if p.i+2 > len(p.b) {
					return nil, p.errf("short \\x escape")
				}
				v, err := hex.DecodeString(string(p.b[p.i : p.i+2]))
				if err != nil {
					return nil, p.errf("bad \\x escape")
				}
				a = append(a, v[0])
				p.i += 2
			case '0', '1', '2', '3', '4', '5', '6', '7':
				if p.i+2 > len(p.b) {
					return nil, p.errf("short octal escape")
				}
				v := 0
				for _, d := range []byte{e, p.b[p.i], p.b[p.i+1]} {
					if d < '0' || d > '7' {
						return nil, p.errf("bad octal escape")
					}
					v = v*8 + int(d-'0')
				}
				if v > 255 {
					return nil, p.errf("octal escape out of range")
				}
				a = append(a, byte(v))
				p.i += 2
			default:
				return nil, p.errf("unknown escape \\%c", e)
			}
		default:
			a = append(a, c)
		}
	}
}

// Canonical returns the canonical encoding of n.
func Canonical(n *Node) []byte {
	var b []byte
	var walk func(*Node)
	walk = func(n *Node) {
		if !n.IsList {
			b = strconv.AppendInt(b, int64(len(n.Atom)), 10)
			b = append(b, ':')
			b = append(b, n.Atom...)
			return
		}
		b = append(b, '(')
		for _, c := range n.List {
			walk(c)
		}
		b = append(b, ')')
	}
	walk(n)
	return b
}

// Advanced returns n in libgcrypt's advanced format exactly as gcry_sexp_sprint
// (GCRYSEXP_FMT_ADVANCED) prints it, which is what Guile's canonical-sexp->string returns and
// what Guix writes to key files and export streams:
//
//   - a list nested in another starts on a new line indented by its depth, unless it directly
//     follows a closing parenthesis (which already ended its line);
//   - an atom is followed by a space unless a ')' comes next;
//   - a ')' is followed by a newline and the indentation of the enclosing depth.
//
// Atoms are written as tokens when they can be, as quoted strings when they are printable, and
// as #HEX# (upper case) otherwise.
func Advanced(n *Node) []byte {
	w := &advWriter{}
	w.node(n, 0)
	return w.b
}

type advWriter struct {
	b    []byte
	prev int // 0 start, 1 open, 2 atom, 3 close
}

func (w *advWriter) node(n *Node, depth int) {
	if !n.IsList {
		w.b = appendAtom(w.b, n.Atom)
		w.prev = 2
		return
	}
	if depth > 0 && w.prev != 3 {
		w.b = append(w.b, '\n')
		w.b = append(w.b, bytes.Repeat([]byte{' '}, depth)...)
	}
	w.b = append(w.b, '(')
	w.prev = 1
	for i, c := range n.List {
		w.node(c, depth+1)
		if !c.IsList && i+1 < len(n.List) {
			w.b = append(w.b, ' ')
		}
	}
	w.b = append(w.b, ')', '\n')
	w.b = append(w.b, bytes.Repeat([]byte{' '}, depth)...)
	w.prev = 3
}

// encoding classes of libgcrypt's suitable_encoding.
const (
	encHex = iota
	encQuoted
	encToken
)

func suitableEncoding(a []byte) int {
	if len(a) == 0 {
		return encQuoted
	}
	if a[0]&0x80 != 0 || a[0] == 0 {
		return encHex
	}
	token := true
	for _, c := range a {
		if (c < 0x20 || (c >= 0x7f && c <= 0xa0)) && strings.IndexByte("\b\t\v\n\f\r\"'\\", c) < 0 {
			return encHex
		}
		if token && !isTokenChar(c) {
			token = false
		}
	}
	if token && !(a[0] >= '0' && a[0] <= '9') {
		return encToken
	}
	return encQuoted
}

func appendAtom(b, a []byte) []byte {
	switch suitableEncoding(a) {
	case encToken:
		return append(b, a...)
	case encQuoted:
		b = append(b, '"')
		for _, c := range a {
			switch c {
			case '\b':
				b = append(b, `\b`...)
			case '\t':
				b = append(b, `\t`...)
			case '\v':
				b = append(b, `\v`...)
			case '\n':
				b = append(b, `\n`...)
			case '\f':
				b = append(b, `\f`...)
			case '\r':
				b = append(b, `\r`...)
			case '"', '\'', '\\':
				b = append(b, '\\', c)
			default:
				b = append(b, c)
			}
		}
		return append(b, '"')
	default:
		b = append(b, '#')
		b = append(b, strings.ToUpper(hex.EncodeToString(a))...)
		return append(b, '#')
	}
}
