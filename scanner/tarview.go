package scanner

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// gnuView parses the bytes that archive/tar reads, as they pass, the way GNU tar parses them:
// numeric fields as GNU tar's from_header reads them (one leading NUL skipped, then spaces,
// then octal digits up to a NUL or space, or base-256), the checksum signed or unsigned, the
// ustar prefix whenever the magic is "ustar\0" (whatever the version), long names and pax
// path and size records. walkTar compares its view of every member with archive/tar's and
// refuses the tar where they differ: a size read differently makes the two tools find
// different members in the same bytes, a name read differently hides what a file is.
type gnuView struct {
	blk     [512]byte
	have    int   // bytes of blk filled
	collect int64 // bytes of an extension header's data still to collect into extBuf
	skip    int64 // bytes to pass (data, padding) before the next header
	members []gnuMember
	// extensions pending for the next member
	ext                byte // 'L', 'K', 'x', 'g' whose data is being collected
	extBuf             []byte
	longName, paxPath  string
	paxSize            int64
	paxSizeSet, sparse bool
	sparseExt          bool // old GNU sparse extension blocks follow
	err                error
}

// gnuMember is one member as GNU tar sees it.
type gnuMember struct {
	name   string
	typ    byte
	size   int64
	sparse bool // its size is the stored size, not the file's
}

// maxExtHeader bounds the long name or pax header gnuView collects; a longer one is cut (and
// then differs from archive/tar's, which refuses headers over 1 MiB anyway).
const maxExtHeader = 1 << 20

var zeroBlock [512]byte

func (g *gnuView) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && g.err == nil {
		switch {
		case g.collect > 0:
			k := int(min(int64(len(p)), g.collect))
			if room := maxExtHeader - len(g.extBuf); room > 0 {
				g.extBuf = append(g.extBuf, p[:min(k, room)]...)
			}
			g.collect -= int64(k)
			p = p[k:]
			if g.collect == 0 {
				g.endExt()
			}
		case g.skip > 0:
			k := int(min(int64(len(p)), g.skip))
			g.skip -= int64(k)
			p = p[k:]
		default:
			k := copy(g.blk[g.have:], p)
			g.have += k
			p = p[k:]
			if g.have == 512 {
				g.have = 0
				g.header()
			}
		}
	}
	return n, nil
}

// header parses one 512-byte block that GNU tar reads as a header.
func (g *gnuView) header() {
	b := g.blk[:]
	if g.sparseExt {
		g.sparseExt = b[504] != 0
		return
	}
	if bytes.Equal(b, zeroBlock[:]) {
		return // end of archive; GNU tar -i reads on, and so does walkTar
	}
	if sum, err := gnuNumber(b[148:156]); err != nil || !tarSumMatches(b, sum) {
		g.err = fmt.Errorf("no valid header where GNU tar expects member %d", len(g.members)+1)
		return
	}
	size, err := gnuNumber(b[124:136])
	if err != nil {
		g.err = fmt.Errorf("member %d: size field as GNU tar reads it: %v", len(g.members)+1, err)
		return
	}
	typ := b[156]
	pad := (size + 511) &^ 511
	switch typ {
	case 'L', 'K', 'x', 'g':
		g.ext, g.extBuf = typ, g.extBuf[:0]
		g.collect, g.skip = size, pad-size
		if size == 0 {
			g.endExt()
		}
		return
	}
	name := cString(b[0:100])
	if string(b[257:263]) == "ustar\x00" && b[345] != 0 {
		name = cString(b[345:500]) + "/" + name
	}
	switch {
	case g.paxPath != "":
		name = g.paxPath
	case g.longName != "":
		name = g.longName
	}
	if g.paxSizeSet {
		size, pad = g.paxSize, (g.paxSize+511)&^511
	}
	if typ == 0 { // an old regular file; a trailing '/' made it a directory
		typ = '0'
		if b[156] == 0 && strings.HasSuffix(name, "/") {
			typ = '5'
		}
	}
	g.members = append(g.members, gnuMember{name: name, typ: typ, size: size, sparse: g.sparse || typ == 'S'})
	g.longName, g.paxPath, g.paxSizeSet, g.sparse = "", "", false, false
	if typ == 'S' && b[482] != 0 {
		g.sparseExt = true
	}
	switch typ {
	case '1', '2', '3', '4', '5', '6':
		// archive/tar reads no data after these, GNU tar and libarchive differ by type and
		// version: a size here is refused.
		if size > 0 {
			g.err = fmt.Errorf("%s: tar type %q with a size of %d bytes (tools disagree on whether data follows)", name, typ, size)
		}
		return
	}
	g.skip = pad
}

// endExt takes in the data of a long name or pax extended header.
func (g *gnuView) endExt() {
	data := g.extBuf
	switch g.ext {
	case 'L':
		g.longName = cString(data)
	case 'x':
		for len(data) > 0 {
			sp := bytes.IndexByte(data, ' ')
			if sp <= 0 {
				break
			}
			n, err := strconv.Atoi(string(data[:sp]))
			if err != nil || n <= sp || n > len(data) {
				break
			}
			rec := string(data[sp+1 : n-1])
			data = data[n:]
			k, v, ok := strings.Cut(rec, "=")
			if !ok {
				continue
			}
			switch {
			case k == "path", k == "GNU.sparse.name":
				g.paxPath = v // archive/tar and GNU tar both take the sparse name over path
			case k == "size":
				if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
					g.paxSize, g.paxSizeSet = s, true
				}
			case strings.HasPrefix(k, "GNU.sparse."):
				g.sparse = true
			}
		}
	}
	g.ext = 0
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// gnuNumber reads a tar numeric field as GNU tar's from_header does.
func gnuNumber(f []byte) (int64, error) {
	i := 0
	if f[0] == 0 {
		i++ // "buggy tar of unknown vintage": one leading NUL after an overflowing field
	}
	for ; i < len(f) && isSpace(f[i]); i++ {
	}
	if i == len(f) {
		return 0, fmt.Errorf("blanks where a number is expected")
	}
	var v int64
	switch c := f[i]; {
	case c >= '0' && c <= '7':
		for ; i < len(f) && f[i] >= '0' && f[i] <= '7'; i++ {
			if v > (1<<62)/8 {
				return 0, fmt.Errorf("number out of range")
			}
			v = v*8 + int64(f[i]-'0')
		}
	case (c == 0x80 || c == 0xff) && i <= len(f)-2:
		if c == 0xff {
			return 0, fmt.Errorf("negative base-256 number")
		}
		for i++; i < len(f); i++ {
			if v > (1<<62)/256 {
				return 0, fmt.Errorf("base-256 number out of range")
			}
			v = v<<8 | int64(f[i])
		}
	}
	if i != len(f) && f[i] != 0 && !isSpace(f[i]) {
		return 0, fmt.Errorf("%q where a number is expected", f)
	}
	return v, nil
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// tarSumMatches checks a header's checksum, unsigned or signed (GNU tar accepts both, as old
// tars summed signed chars).
func tarSumMatches(b []byte, want int64) bool {
	var u, s int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int64(c)
		s += int64(int8(c))
	}
	return want == u || want == s
}
