package canonjson

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// CheckObject reports whether b is exactly in canonical form and is a JSON object, like Check,
// and returns the raw (canonical) bytes of the value of b's top-level member key, or nil when b
// has no such member.
//
// It is one pass over b that allocates nothing for ordinary input, so that an audit log of a
// hundred thousand records can be checked at the speed of hashing them. It accepts exactly what
// Check accepts (FuzzCheckObject holds it to that).
func CheckObject(b []byte, key string) ([]byte, error) {
	if len(b) == 0 || b[0] != '{' {
		if err := Check(b); err != nil {
			return nil, err
		}
		return nil, errNotObject
	}
	c := checker{b: b, want: key}
	end, err := c.value(0, 0)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, c.fail(end, "data after the value")
	}
	return c.found, nil
}

var errNotObject = errors.New("JSON value is not an object")

type checker struct {
	b     []byte
	want  string // top-level member whose value is returned
	found []byte
	keys  [MaxDepth + 2][]byte // previous key at each object depth (decoded), for the order check
	tmp   []byte               // decoded key being compared
}

func (c *checker) fail(off int, why string) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrNotCanonical, off, why)
}

// value checks the value starting at i, nested depth containers deep, and returns its end.
func (c *checker) value(i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, fmt.Errorf("JSON nested deeper than %d", MaxDepth)
	}
	if i >= len(c.b) {
		return 0, c.fail(i, "unexpected end")
	}
	switch ch := c.b[i]; {
	case ch == '{':
		return c.object(i, depth)
	case ch == '[':
		return c.array(i, depth)
	case ch == '"':
		return c.str(i, nil)
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number(i)
	case ch == 't':
		return c.literal(i, "true")
	case ch == 'f':
		return c.literal(i, "false")
	case ch == 'n':
		return c.literal(i, "null")
	}
	return 0, c.fail(i, fmt.Sprintf("unexpected %q", c.b[i]))
}

func (c *checker) literal(i int, lit string) (int, error) {
	if !bytes.HasPrefix(c.b[i:], []byte(lit)) {
		return 0, c.fail(i, "invalid literal")
	}
	return i + len(lit), nil
}

func (c *checker) object(i, depth int) (int, error) {
	i++ // '{'
	if i < len(c.b) && c.b[i] == '}' {
		return i + 1, nil
	}
	prev := c.keys[depth][:0]
	first := true
	for {
		if i >= len(c.b) || c.b[i] != '"' {
			return 0, c.fail(i, "expected a member name")
		}
		c.tmp = c.tmp[:0]
		end, err := c.str(i, &c.tmp)
		if err != nil {
			return 0, err
		}
		if !first && bytes.Compare(prev, c.tmp) >= 0 {
			return 0, c.fail(i, "member names not sorted or duplicated")
		}
		prev = append(prev[:0], c.tmp...)
		first = false
		keyIsWanted := depth == 0 && string(c.tmp) == c.want
		i = end
		if i >= len(c.b) || c.b[i] != ':' {
			return 0, c.fail(i, "expected ':'")
		}
		start := i + 1
		if i, err = c.value(start, depth+1); err != nil {
			return 0, err
		}
		if keyIsWanted {
			c.found = c.b[start:i]
		}
		if i >= len(c.b) {
			return 0, c.fail(i, "unexpected end in object")
		}
		switch c.b[i] {
		case ',':
			i++
		case '}':
			c.keys[depth] = prev
			return i + 1, nil
		default:
			return 0, c.fail(i, "expected ',' or '}'")
		}
	}
}

func (c *checker) array(i, depth int) (int, error) {
	i++ // '['
	if i < len(c.b) && c.b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = c.value(i, depth+1); err != nil {
			return 0, err
		}
		if i >= len(c.b) {
			return 0, c.fail(i, "unexpected end in array")
		}
		switch c.b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return 0, c.fail(i, "expected ',' or ']'")
		}
	}
}

// number accepts only what encode writes: an integer in shortest form within ±(2^53-1).
func (c *checker) number(i int) (int, error) {
	start := i
	neg := c.b[i] == '-'
	if neg {
		i++
	}
	digits := i
	for i < len(c.b) && c.b[i] >= '0' && c.b[i] <= '9' {
		i++
	}
	n := i - digits
	switch {
	case n == 0:
		return 0, c.fail(start, "invalid number")
	case i < len(c.b) && (c.b[i] == '.' || c.b[i] == 'e' || c.b[i] == 'E'):
		return 0, c.fail(start, "number is not an integer")
	case c.b[digits] == '0' && (n > 1 || neg):
		return 0, c.fail(start, "number not in shortest form")
	case n > 16:
		return 0, c.fail(start, "number outside ±(2^53-1)")
	}
	var v int64
	for _, d := range c.b[digits:i] {
		v = v*10 + int64(d-'0')
	}
	if v > maxSafeInt {
		return 0, c.fail(start, "number outside ±(2^53-1)")
	}
	return i, nil
}

// str checks the string starting at the quote at i, escaped exactly as writeString escapes,
// appending its decoded bytes to *dec when dec is not nil, and returns its end.
func (c *checker) str(i int, dec *[]byte) (int, error) {
	start := i
	i++
	run := i
	flush := func(to int) {
		if dec != nil {
			*dec = append(*dec, c.b[run:to]...)
		}
	}
	for i < len(c.b) {
		ch := c.b[i]
		switch {
		case ch == '"':
			flush(i)
			return i + 1, nil
		case ch < 0x20:
			return 0, c.fail(i, "control character not escaped")
		case ch == '\\':
			flush(i)
			n, r, err := c.escape(i)
			if err != nil {
				return 0, err
			}
			if dec != nil {
				*dec = utf8.AppendRune(*dec, r)
			}
			i += n
			run = i
		case ch < 0x80:
			i++
		default:
			r, size := utf8.DecodeRune(c.b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, errors.New("JSON is not valid UTF-8")
			}
			if r == '\u2028' || r == '\u2029' {
				return 0, c.fail(i, "U+2028/U+2029 not escaped")
			}
			i += size
		}
	}
	return 0, c.fail(start, "unterminated string")
}

// escape checks the escape at i and returns its length and the rune it stands for. Only the
// escapes writeString writes are canonical.
func (c *checker) escape(i int) (int, rune, error) {
	if i+1 >= len(c.b) {
		return 0, 0, c.fail(i, "unterminated escape")
	}
	switch c.b[i+1] {
	case '"', '\\':
		return 2, rune(c.b[i+1]), nil
	case 'b':
		return 2, '\b', nil
	case 'f':
		return 2, '\f', nil
	case 'n':
		return 2, '\n', nil
	case 'r':
		return 2, '\r', nil
	case 't':
		return 2, '\t', nil
	case 'u':
		if i+6 > len(c.b) {
			return 0, 0, c.fail(i, "unterminated escape")
		}
		var r rune
		for _, h := range c.b[i+2 : i+6] {
			switch {
			case h >= '0' && h <= '9':
				r = r<<4 | rune(h-'0')
			case h >= 'a' && h <= 'f':
				r = r<<4 | rune(h-'a'+10)
			default:
				return 0, 0, c.fail(i, "escape not in canonical form")
			}
		}
		short := r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t'
		if (r < 0x20 && !short) || r == '\u2028' || r == '\u2029' {
			return 6, r, nil
		}
	}
	return 0, 0, c.fail(i, "escape not in canonical form")
}
