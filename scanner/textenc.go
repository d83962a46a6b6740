package scanner

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"regexp"
)

// FormatUU is a text file holding uuencoded or "begin-base64" blocks (uuencode, shar, old
// mail): uudecode finds a "begin MODE NAME" line anywhere in the file and writes what follows
// it. Each block's decoded bytes are an inner file, "NAME (uudecoded)".
const FormatUU = "uuencoded"

// maxTextSearch bounds the search for a begin line in a file not held in memory.
const maxTextSearch = 1 << 20

var uuBegin = regexp.MustCompile(`(?m)^begin(-base64)? [0-7]{3,4} ([^\r\n]+)\r?$`)

// hasUUBegin reports whether a file holds a begin line: the whole file if it is in memory, else
// its first maxTextSearch bytes.
func hasUUBegin(src io.ReaderAt, size int64) bool {
	var buf []byte
	if b, ok := src.(interface{ Bytes() []byte }); ok && int64(len(b.Bytes())) >= size {
		buf = b.Bytes()[:size]
	} else {
		buf = make([]byte, min(size, maxTextSearch))
		n, _ := src.ReadAt(buf, 0)
		buf = buf[:n]
	}
	// Only lines that start with "begin" go to the regular expression: run over a whole
	// file it cost more than the YARA scan.
	for off := 0; ; {
		i := bytes.Index(buf[off:], []byte("begin"))
		if i < 0 {
			return false
		}
		i += off
		if i == 0 || buf[i-1] == '\n' {
			line := buf[i:]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j+1]
			}
			if uuBegin.Match(line) {
				return true
			}
		}
		off = i + 5
	}
}

// walkUU decodes every block as uudecode does (as far as it decodes: uudecode writes what it
// decoded before a bad line too) and walks the decoded bytes as inner files.
func (w *worker) walkUU(st *walkState, f *File, r io.Reader, depth int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := uuBegin.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		ur := &uuReader{sc: sc, b64: len(m[1]) > 0}
		if err := w.entry(st, f, string(m[2])+" (uudecoded)", &expansion{r: ur, st: st, l: w.s.opt.Limits}, -1, depth+1); err != nil {
			return err
		}
	}
	return sc.Err()
}

// uuReader decodes the lines after a begin line, streaming, up to the end of the block or the
// first line that does not decode.
type uuReader struct {
	sc      *bufio.Scanner
	b64     bool
	pending bytes.Buffer
	done    bool
}

func (u *uuReader) Read(p []byte) (int, error) {
	for u.pending.Len() == 0 && !u.done {
		if !u.sc.Scan() {
			u.done = true
			break
		}
		line := bytes.TrimRight(u.sc.Bytes(), "\r")
		if u.b64 {
			if string(line) == "====" {
				u.done = true
				break
			}
			d := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
			n, err := base64.StdEncoding.Decode(d, line)
			u.pending.Write(d[:n])
			u.done = err != nil
			continue
		}
		if len(line) == 0 || (line[0]-' ')&63 == 0 || !uuLine(&u.pending, line) {
			u.done = true // the "`" line before "end", or a line uudecode stops at
		}
	}
	if u.pending.Len() == 0 {
		return 0, io.EOF
	}
	return u.pending.Read(p)
}

// uuLine decodes one uuencoded line into out, reporting false for a malformed one.
func uuLine(out *bytes.Buffer, line []byte) bool {
	n := int((line[0] - ' ') & 63)
	body := line[1:]
	if (len(body)+3)/4*3 < n {
		return false
	}
	var grp [4]byte
	for i := 0; n > 0; i += 4 {
		for j := range grp {
			c := byte(' ')
			if i+j < len(body) {
				c = body[i+j]
			}
			if c < ' ' || c > '`' {
				return false
			}
			grp[j] = (c - ' ') & 63
		}
		b := [3]byte{grp[0]<<2 | grp[1]>>4, grp[1]<<4 | grp[2]>>2, grp[2]<<6 | grp[3]}
		k := min(n, 3)
		out.Write(b[:k])
		n -= k
	}
	return true
}
