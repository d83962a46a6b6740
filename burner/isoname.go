package burner

import (
	"bytes"
	"strconv"
	"strings"
)

// ISO9660 identifiers (ECMA-119 7.5, 7.6) at interchange level 3 hold only d-characters
// (A-Z 0-9 _). A file identifier is NAME.EXT;1 with NAME+EXT at most 30 characters; a directory
// identifier is at most 31 characters. The long, exact name travels in the Rock Ridge NM entry;
// the ISO name only has to be valid, deterministic and unique within its directory even after a
// reader strips ";1" and a trailing ".", so that readers without Rock Ridge never merge two files.
const (
	maxFileID = 30 // NAME + EXT, without '.' and ";1"
	maxExt    = 8
	maxDirID  = 31
)

// dchars maps s to d-characters: letters upper-cased, everything else outside A-Z 0-9 becomes '_'.
func dchars(s string, keepDot bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		case c == '.' && keepDot:
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// splitExt splits a file name at its last dot; a leading dot does not start an extension.
func splitExt(name string) (base, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// isoNamer hands out the ISO identifiers of one directory. Names are requested in a fixed order
// (children sorted by their byte names), so the result is deterministic.
//
// A reader that takes Rock Ridge names only when they are inline (7-Zip ignores continuation
// areas) shows a mix of both: the exact names of most entries and the ISO name of a long one.
// So an identifier also never equals, as shown, the exact name of a sibling other than its own
// entry, or "semi...;1" could be listed as a sibling's real name.
type isoNamer struct {
	used     map[string]bool // identifiers as readers without Rock Ridge show them
	siblings map[string]bool // the exact names of the directory's entries
}

func newISONamer(siblings ...string) *isoNamer {
	n := &isoNamer{used: make(map[string]bool), siblings: make(map[string]bool)}
	for _, s := range siblings {
		n.siblings[s] = true
	}
	return n
}

// taken says whether shown may not be the identifier (as shown) of the entry named orig.
func (n *isoNamer) taken(shown, orig string) bool {
	return n.used[shown] || (n.siblings[shown] && shown != orig)
}

// name returns the identifier as recorded ("NAME.EXT;1" or "DIR") for a child called orig.
func (n *isoNamer) name(orig string, dir bool) string {
	if dir {
		base := dchars(orig, false)
		if len(base) > maxDirID {
			base = base[:maxDirID]
		}
		if base == "" {
			base = "_"
		}
		for i := 0; ; i++ {
			cand := base
			if i > 0 {
				suf := "_" + strconv.Itoa(i)
				b := base
				if len(b)+len(suf) > maxDirID {
					b = b[:maxDirID-len(suf)]
				}
				cand = b + suf
			}
			if !n.taken(cand, orig) {
				n.used[cand] = true
				return cand
			}
		}
	}
	b, e := splitExt(orig)
	base, ext := dchars(b, false), dchars(e, false)
	if len(ext) > maxExt {
		ext = ext[:maxExt]
	}
	if len(base)+len(ext) > maxFileID {
		base = base[:maxFileID-len(ext)]
	}
	if base == "" {
		base = "_"
	}
	for i := 0; ; i++ {
		cb := base
		if i > 0 {
			suf := "_" + strconv.Itoa(i)
			if len(cb)+len(suf)+len(ext) > maxFileID {
				cb = cb[:max(0, maxFileID-len(ext)-len(suf))]
			}
			cb += suf
		}
		shown := cb
		if ext != "" {
			shown += "." + ext
		}
		if !n.taken(shown, orig) {
			n.used[shown] = true
			return cb + "." + ext + ";1"
		}
	}
}

// splitID splits a recorded identifier into name, extension and version for ordering.
func splitID(id string) (name, ext, ver string) {
	if i := strings.IndexByte(id, ';'); i >= 0 {
		id, ver = id[:i], id[i+1:]
	}
	if i := strings.IndexByte(id, '.'); i >= 0 {
		return id[:i], id[i+1:], ver
	}
	return id, "", ver
}

// padCompare compares a and b as if the shorter were padded with spaces (ECMA-119 9.3).
func padCompare(a, b string) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := byte(' '), byte(' ')
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return 0
}

// compareID orders directory records as ECMA-119 9.3 requires: by name, then extension (both
// space-padded), then version descending.
func compareID(a, b string) int {
	an, ae, av := splitID(a)
	bn, be, bv := splitID(b)
	if c := padCompare(an, bn); c != 0 {
		return c
	}
	if c := padCompare(ae, be); c != 0 {
		return c
	}
	return -bytes.Compare([]byte(av), []byte(bv))
}
