// Package canonjson defines airlock's canonical JSON, the one byte form of a record or a
// certificate that is hashed and signed.
//
// Canonical form: a single JSON value; no insignificant white space; object members sorted by
// key (byte order of the UTF-8 key) with no duplicates; strings as Go's encoding/json writes them
// with HTML escaping off (so "<" stays "<"), valid UTF-8 only; numbers are integers in
// [-(2^53-1), 2^53-1] written in shortest decimal form (no fraction, no exponent, no "-0"), so
// every JSON implementation reads them exactly. Nesting is bounded by MaxDepth.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxDepth bounds object/array nesting.
const MaxDepth = 32

const maxSafeInt = 1<<53 - 1

// ErrNotCanonical: the input is valid JSON but not in canonical form.
var ErrNotCanonical = errors.New("JSON not in canonical form")

// Canonicalize returns the canonical form of the JSON value b.
func Canonicalize(b []byte) ([]byte, error) {
	v, err := parse(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := encode(&buf, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Marshal encodes v with encoding/json and returns its canonical form.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(b)
}

// Check returns nil if b is exactly in canonical form. Duplicate keys, white space, unsorted
// keys, escapes written differently and non-integer numbers all fail.
func Check(b []byte) error {
	c, err := Canonicalize(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(c, b) {
		return ErrNotCanonical
	}
	return nil
}

func encode(buf *bytes.Buffer, v any, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("JSON nested deeper than %d", MaxDepth)
	}
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n > maxSafeInt || n < -maxSafeInt {
			return fmt.Errorf("number %s is not an integer within ±(2^53-1)", v)
		}
		buf.WriteString(strconv.FormatInt(n, 10))
	case string:
		writeString(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encode(buf, e, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := encode(buf, v[k], depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// writeString writes s (valid UTF-8) quoted exactly as encoding/json does with HTML escaping
// off: short escapes for \" \\ \b \f \n \r \t, \u00XX for other control characters, and
// \u2028 \u2029 escaped. (TestWriteStringMatchesEncodingJSON holds it to that.)
func writeString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c < 0x80 {
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}

// Decode parses b, which must be in canonical form, and returns its value (objects as
// map[string]any, numbers as json.Number).
func Decode(b []byte) (any, error) {
	v, err := parse(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := encode(&buf, v, 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(buf.Bytes(), b) {
		return nil, ErrNotCanonical
	}
	return v, nil
}

// parse decodes the single JSON value b (valid UTF-8, nothing after it), keeping numbers as
// json.Number so that no precision is lost before they are checked.
func parse(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("JSON is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}
