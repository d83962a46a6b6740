// Package sums reads and writes SHA256SUMS manifests in GNU coreutils' format, byte for byte as
// `sha256sum` writes them and `sha256sum -c` reads them.
//
// Each line is 64 lower-case hex digits, two spaces (text mode; "<space>*" binary mode is read too)
// and the file name. A name holding a backslash, newline or carriage return is escaped as
// coreutils 9 does: the line starts with a backslash and in the name "\" becomes "\\", newline
// "\n" and carriage return "\r". Lines end with "\n".
package sums

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Entry is one manifest line.
type Entry struct {
	Name string
	Sum  [32]byte
}

// Limits on untrusted manifests.
const (
	MaxLines   = 1 << 20
	MaxNameLen = 4096
)

// ErrMalformed is wrapped by every parse error; the error text names the line.
var ErrMalformed = errors.New("malformed SHA256SUMS")

// Format renders entries sorted by name (byte order). Duplicate names are an error.
func Format(entries []Entry) ([]byte, error) {
	es := append([]Entry(nil), entries...)
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	var b bytes.Buffer
	for i, e := range es {
		if i > 0 && es[i-1].Name == e.Name {
			return nil, fmt.Errorf("duplicate name %q", e.Name)
		}
		if e.Name == "" {
			return nil, errors.New("empty file name")
		}
		name := e.Name
		if strings.ContainsAny(name, "\\\n\r") {
			b.WriteByte('\\')
			name = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(name)
		}
		b.WriteString(hex.EncodeToString(e.Sum[:]))
		b.WriteString("  ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// LineError is a parse error at a 1-based line.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }
func (e *LineError) Unwrap() error { return ErrMalformed }

// Parse parses a manifest strictly: every line well formed and newline-terminated, names unique
// and sorted, no empty lines. The order check makes a manifest have exactly one byte form.
func Parse(b []byte) ([]Entry, error) {
	if len(b) == 0 {
		return nil, &LineError{1, "empty manifest"}
	}
	if b[len(b)-1] != '\n' {
		return nil, &LineError{bytes.Count(b, []byte("\n")) + 1, "last line not terminated by a newline"}
	}
	lines := bytes.Split(b[:len(b)-1], []byte("\n"))
	if len(lines) > MaxLines {
		return nil, &LineError{MaxLines + 1, fmt.Sprintf("more than %d lines", MaxLines)}
	}
	out := make([]Entry, 0, len(lines))
	for i, l := range lines {
		e, err := parseLine(l)
		if err != nil {
			return nil, &LineError{i + 1, err.Error()}
		}
		if i > 0 {
			switch prev := out[i-1].Name; {
			case prev == e.Name:
				return nil, &LineError{i + 1, fmt.Sprintf("duplicate name %q", e.Name)}
			case prev > e.Name:
				return nil, &LineError{i + 1, fmt.Sprintf("name %q not sorted after %q", e.Name, prev)}
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func parseLine(l []byte) (Entry, error) {
	var e Entry
	escaped := len(l) > 0 && l[0] == '\\'
	if escaped {
		l = l[1:]
	}
	if len(l) < 64+2+1 {
		return e, errors.New("too short for a SHA-256 line")
	}
	if bytes.ContainsRune(l, '\r') {
		return e, errors.New("carriage return in line")
	}
	for _, c := range l[:64] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return e, errors.New("hash is not 64 lower-case hex digits")
		}
	}
	hex.Decode(e.Sum[:], l[:64])
	if l[64] != ' ' || (l[65] != ' ' && l[65] != '*') {
		return e, errors.New("hash not followed by two spaces")
	}
	name := l[66:]
	if len(name) > MaxNameLen {
		return e, fmt.Errorf("name longer than %d bytes", MaxNameLen)
	}
	if bytes.IndexByte(name, 0) >= 0 {
		return e, errors.New("NUL in name")
	}
	if escaped {
		var b strings.Builder
		for i := 0; i < len(name); i++ {
			if name[i] != '\\' {
				b.WriteByte(name[i])
				continue
			}
			if i+1 == len(name) {
				return e, errors.New("name ends in a lone backslash")
			}
			i++
			switch name[i] {
			case '\\':
				b.WriteByte('\\')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				return e, fmt.Errorf(`unknown escape "\%c" in name`, name[i])
			}
		}
		e.Name = b.String()
	} else {
		if bytes.IndexByte(name, '\\') >= 0 {
			return e, errors.New("backslash in a name on an unescaped line")
		}
		e.Name = string(name)
	}
	return e, nil
}
