package channel

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrAuthorizations: a .guix-authorizations file that Guix's read-authorizations would not
// accept (git-authenticate.scm:151-161: a match failure or a bad hex string raises).
var ErrAuthorizations = errors.New("malformed .guix-authorizations")

// maxSexpDepth bounds nesting in .guix-authorizations (Guile's reader has no such bound; a
// deeper file is refused rather than recursed into).
const maxSexpDepth = 64

type sexp struct {
	atom   string // symbol, number or #-datum as written
	str    string
	isStr  bool
	list   []sexp
	isList bool
	dotted bool // an improper list (a . b): no match pattern here accepts one
}

type sexpReader struct {
	s   string
	pos int
}

func (r *sexpReader) skip() error {
	for r.pos < len(r.s) {
		c := r.s[r.pos]
		switch {
		case c == ';':
			for r.pos < len(r.s) && r.s[r.pos] != '\n' {
				r.pos++
			}
		case c == '#' && r.pos+1 < len(r.s) && r.s[r.pos+1] == '|':
			// block comment, nesting as in Guile
			depth := 1
			r.pos += 2
			for depth > 0 {
				if r.pos+1 >= len(r.s) {
					return fmt.Errorf("unterminated #| comment: %w", ErrAuthorizations)
				}
				switch r.s[r.pos : r.pos+2] {
				case "|#":
					depth--
					r.pos += 2
				case "#|":
					depth++
					r.pos += 2
				default:
					r.pos++
				}
			}
		case c == '#' && r.pos+1 < len(r.s) && r.s[r.pos+1] == ';':
			r.pos += 2
			if _, err := r.read(1); err != nil { // datum comment: read and drop one datum
				return err
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			r.pos++
		default:
			return nil
		}
	}
	return nil
}

func isDelim(c byte) bool {
	return strings.IndexByte("()[]\";' \t\n\r\f\v", c) >= 0
}

// read reads one datum like Guile's read, for the subset an authorizations file uses.
func (r *sexpReader) read(depth int) (sexp, error) {
	if depth > maxSexpDepth {
		return sexp{}, fmt.Errorf("nested deeper than %d: %w", maxSexpDepth, ErrAuthorizations)
	}
	if err := r.skip(); err != nil {
		return sexp{}, err
	}
	if r.pos >= len(r.s) {
		return sexp{}, fmt.Errorf("end of file: %w", ErrAuthorizations)
	}
	switch c := r.s[r.pos]; c {
	case '(', '[':
		closer := byte(')')
		if c == '[' {
			closer = ']'
		}
		r.pos++
		out := sexp{isList: true}
		for {
			if err := r.skip(); err != nil {
				return sexp{}, err
			}
			if r.pos >= len(r.s) {
				return sexp{}, fmt.Errorf("unterminated list: %w", ErrAuthorizations)
			}
			if r.s[r.pos] == closer {
				r.pos++
				return out, nil
			}
			if r.s[r.pos] == ')' || r.s[r.pos] == ']' {
				return sexp{}, fmt.Errorf("mismatched %q: %w", r.s[r.pos], ErrAuthorizations)
			}
			e, err := r.read(depth + 1)
			if err != nil {
				return sexp{}, err
			}
			if !e.isStr && !e.isList && e.atom == "." {
				// (a . b): exactly one datum after the dot, then the closer, or Guile's
				// reader raises.
				if len(out.list) == 0 {
					return sexp{}, fmt.Errorf("dot at the start of a list: %w", ErrAuthorizations)
				}
				tail, err := r.read(depth + 1)
				if err != nil {
					return sexp{}, err
				}
				if err := r.skip(); err != nil {
					return sexp{}, err
				}
				if r.pos >= len(r.s) || r.s[r.pos] != closer {
					return sexp{}, fmt.Errorf("more than one datum after a dot: %w", ErrAuthorizations)
				}
				r.pos++
				out.dotted = true
				out.list = append(out.list, tail)
				return out, nil
			}
			out.list = append(out.list, e)
		}
	case ')', ']':
		return sexp{}, fmt.Errorf("unexpected %q: %w", c, ErrAuthorizations)
	case '"':
		r.pos++
		var sb strings.Builder
		for {
			if r.pos >= len(r.s) {
				return sexp{}, fmt.Errorf("unterminated string: %w", ErrAuthorizations)
			}
			c := r.s[r.pos]
			r.pos++
			if c == '"' {
				return sexp{str: sb.String(), isStr: true}, nil
			}
			if c == '\\' {
				if r.pos >= len(r.s) {
					return sexp{}, fmt.Errorf("unterminated string: %w", ErrAuthorizations)
				}
				e := r.s[r.pos]
				r.pos++
				switch e {
				case '"', '\\':
					sb.WriteByte(e)
				case 'n':
					sb.WriteByte('\n')
				case 't':
					sb.WriteByte('\t')
				case 'r':
					sb.WriteByte('\r')
				case 'a':
					sb.WriteByte(7)
				case '0':
					sb.WriteByte(0)
				case '\n':
					// line continuation: skip leading whitespace of the next line
					for r.pos < len(r.s) && (r.s[r.pos] == ' ' || r.s[r.pos] == '\t') {
						r.pos++
					}
				default:
					// \x, \u and others: refuse rather than guess Guile's exact decoding
					return sexp{}, fmt.Errorf("string escape \\%c: %w", e, ErrAuthorizations)
				}
				continue
			}
			sb.WriteByte(c)
		}
	case '\'':
		r.pos++
		d, err := r.read(depth + 1)
		if err != nil {
			return sexp{}, err
		}
		return sexp{isList: true, list: []sexp{{atom: "quote"}, d}}, nil
	default:
		start := r.pos
		if c == '#' && r.pos+1 < len(r.s) && r.s[r.pos+1] == '\\' {
			r.pos = min(r.pos+3, len(r.s)) // a character: #\x, then the rest of a name like #\space
		}
		for r.pos < len(r.s) && !isDelim(r.s[r.pos]) {
			r.pos++
		}
		if start == r.pos {
			return sexp{}, fmt.Errorf("unexpected %q: %w", c, ErrAuthorizations)
		}
		return sexp{atom: r.s[start:r.pos]}, nil
	}
}

// isExactZero: atoms Guile reads as the exact integer 0, which (version 0) must be.
func isExactZero(a string) bool {
	a = strings.TrimPrefix(strings.TrimPrefix(a, "#e"), "#d")
	a = strings.TrimLeft(a, "+-")
	return a != "" && strings.Trim(a, "0") == ""
}

// ReadAuthorizations parses a .guix-authorizations file as read-authorizations does
// (git-authenticate.scm:151-161): the first datum must match
// (authorizations (version 0) ((FINGERPRINT _ ...) ...) _ ...); each fingerprint keeps only
// graphic characters (string-filter char-set:graphic), is lower-cased and decoded from hex.
func ReadAuthorizations(b []byte) ([][]byte, error) {
	r := &sexpReader{s: string(b)}
	d, err := r.read(0)
	if err != nil {
		return nil, err
	}
	if !d.isList || d.dotted || len(d.list) < 3 || d.list[0].atom != "authorizations" {
		return nil, fmt.Errorf("not (authorizations ...): %w", ErrAuthorizations)
	}
	v := d.list[1]
	if !v.isList || v.dotted || len(v.list) != 2 || v.list[0].atom != "version" || !isExactZero(v.list[1].atom) {
		return nil, fmt.Errorf("not (version 0): %w", ErrAuthorizations)
	}
	if !d.list[2].isList || d.list[2].dotted {
		return nil, fmt.Errorf("authorizations are not a list: %w", ErrAuthorizations)
	}
	var out [][]byte
	for _, e := range d.list[2].list {
		if !e.isList || e.dotted || len(e.list) == 0 || !e.list[0].isStr {
			return nil, fmt.Errorf("entry is not (\"FINGERPRINT\" ...): %w", ErrAuthorizations)
		}
		var sb strings.Builder
		for _, c := range e.list[0].str {
			if unicode.IsGraphic(c) && !unicode.IsSpace(c) {
				sb.WriteRune(unicode.ToLower(c))
			}
		}
		fpr, err := hex.DecodeString(sb.String())
		if err != nil {
			return nil, fmt.Errorf("fingerprint %q: %w", e.list[0].str, ErrAuthorizations)
		}
		out = append(out, fpr)
	}
	return out, nil
}
