package scanner

import (
	"bytes"
	"fmt"
	"io"
	"os"
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
	extName            string
	extBuf             []byte
	longName, paxPath  string
	paxSize            int64
	paxSizeSet, sparse bool
	sparseExt          bool // old GNU sparse extension blocks follow
	err                error
	// exts are the extension headers (long names, pax headers) read since walkTar last took
	// them: cpio writes each as a file (@LongLink, PaxHeaders/x), so their data is scanned.
	exts []tarExt
	// raw collects the stored data of the current sparse member (map and fragments, as 7z and
	// cpio write it, unexpanded); rawLeft is how much of it is still to come.
	raw     *spill
	rawLeft int64
	tmpDir  string // where raw spills beyond memory
}

// tarExt is one extension header: its header's own name (what cpio calls the file) and data.
type tarExt struct {
	name string
	typ  byte
	data []byte
}

// maxPendingExts bounds the extension headers before one member (a real tar has one to three).
const maxPendingExts = 16

// gnuMember is one member as GNU tar sees it.
type gnuMember struct {
	name   string
	typ    byte
	size   int64
	sparse bool // its size is the stored size, not the file's
	// raw is the stored data of a sparse member as it lies in the archive (nil otherwise).
	raw *spill
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
			if g.rawLeft > 0 {
				r := int(min(int64(k), g.rawLeft))
				if err := g.raw.write(p[:r]); err != nil {
					g.err = err
				}
				g.rawLeft -= int64(r)
			}
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
	if c := b[124]; size != 0 && (c == 0 || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
		// GNU tar and archive/tar skip it and read the digits; libarchive (bsdtar) and cpio
		// stop there and read 0, and so find other members in the same bytes.
		g.err = fmt.Errorf("member %d: size field %q starts with %q: GNU tar reads %d bytes, bsdtar and cpio 0", len(g.members)+1, b[124:136], c, size)
		return
	}
	typ := b[156]
	pad := (size + 511) &^ 511
	switch typ {
	case 'L', 'K', 'x', 'g':
		if len(g.exts) >= maxPendingExts {
			g.err = fmt.Errorf("more than %d extension headers before member %d", maxPendingExts, len(g.members)+1)
			return
		}
		g.extName = rawName(b)
		g.ext, g.extBuf = typ, g.extBuf[:0]
		g.collect, g.skip = size, pad-size
		if size == 0 {
			g.endExt()
		}
		return
	}
	name := rawName(b)
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
	m := gnuMember{name: name, typ: typ, size: size, sparse: g.sparse || typ == 'S'}
	if m.sparse && size > 0 {
		m.raw = &spill{dir: g.tmpDir, name: rawName(b)}
		g.raw, g.rawLeft = m.raw, size
	}
	g.members = append(g.members, m)
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

// rawName is the name a header's own fields give (the ustar prefix prepended whenever the magic
// is "ustar\0"), before any long name or pax path replaces it.
func rawName(b []byte) string {
	name := cString(b[0:100])
	if string(b[257:263]) == "ustar\x00" && b[345] != 0 {
		name = cString(b[345:500]) + "/" + name
	}
	return name
}

// endExt takes in the data of a long name or pax extended header.
func (g *gnuView) endExt() {
	data := g.extBuf
	if len(data) > 0 {
		g.exts = append(g.exts, tarExt{name: g.extName, typ: g.ext, data: bytes.Clone(data)})
	}
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

// spillMem is how much of a sparse member's stored data a spill keeps in memory; the rest goes
// to an unlinked temporary file.
const spillMem = 1 << 20

// spill collects bytes as they pass, in memory and then in a temporary file.
type spill struct {
	dir  string
	name string // the member's header name, for the inner file
	mem  []byte
	f    *os.File
	n    int64
}

func (s *spill) write(p []byte) error {
	s.n += int64(len(p))
	if s.f == nil && len(s.mem)+len(p) <= spillMem {
		s.mem = append(s.mem, p...)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "airlock-sparse-")
		if err != nil {
			return fmt.Errorf("spill a sparse member's stored data: %w", err)
		}
		os.Remove(f.Name())
		s.f = f
		if _, err := f.Write(s.mem); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		s.mem = nil
	}
	if _, err := s.f.Write(p); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// reader returns what was collected.
func (s *spill) reader() io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.mem)
	}
	return io.NewSectionReader(s.f, 0, s.n)
}

func (s *spill) close() {
	if s.f != nil {
		s.f.Close()
	}
	s.mem = nil
}
