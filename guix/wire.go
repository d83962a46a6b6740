package guix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// The read buffer of a stream reader starts small (most NARs and signatures are small, and
// fuzzing allocates one per input) and grows to bufSize for long streams or long strings.
// Reads of file contents larger than half the buffer bypass it.
const (
	bufSize      = 256 << 10
	initBufSize  = 16 << 10
	growAfterOff = 1 << 20
)

// wire reads the primitives shared by NARs and export streams (u64 little-endian integers and
// zero-padded strings) from an underlying reader, tracking the offset of every byte and feeding
// consumed bytes to an optional hash (the signed span of an export item) and an optional tee
// (re-signing copies the stream).
type wire struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64 // stream offset of buf[pos]
	err      error // sticky error of r
	h        hash.Hash
	tee      io.Writer
	teeErr   error
}

func newWire(r io.Reader) *wire {
	return &wire{r: r, buf: make([]byte, initBufSize)}
}

// fill makes at least n (<= bufSize) bytes available or returns the read error (io.EOF if no
// byte at all could be read, io.ErrUnexpectedEOF if some but fewer than n).
func (w *wire) fill(n int) error {
	if w.end-w.pos >= n {
		return nil
	}
	if len(w.buf) < bufSize && (n > len(w.buf) || w.off >= growAfterOff) {
		nb := make([]byte, bufSize)
		w.end = copy(nb, w.buf[w.pos:w.end])
		w.pos = 0
		w.buf = nb
	}
	if w.pos > 0 {
		copy(w.buf, w.buf[w.pos:w.end])
		w.end -= w.pos
		w.pos = 0
	}
	for w.end < n {
		if w.err != nil {
			if w.err == io.EOF && w.end > 0 {
				return io.ErrUnexpectedEOF
			}
			return w.err
		}
		m, err := w.r.Read(w.buf[w.end:])
		w.end += m
		if err != nil {
			w.err = err
		}
	}
	return nil
}

// consume marks n buffered bytes as read, hashing and teeing them.
func (w *wire) consume(n int) {
	b := w.buf[w.pos : w.pos+n]
	w.sink(b)
	w.pos += n
	w.off += int64(n)
}

func (w *wire) sink(b []byte) {
	if w.h != nil {
		w.h.Write(b)
	}
	if w.tee != nil && w.teeErr == nil {
		_, w.teeErr = w.tee.Write(b)
	}
}

// u64 reads a little-endian u64.
func (w *wire) u64() (uint64, error) {
	if err := w.fill(8); err != nil {
		return 0, eofIsUnexpected(err)
	}
	v := binary.LittleEndian.Uint64(w.buf[w.pos:])
	w.consume(8)
	return v, nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// errTooLong and friends are the reasons readString gives; callers turn them into rules.
var (
	errUpper32   = errors.New("length with non-zero upper 32 bits")
	errTooLong   = errors.New("string longer than allowed")
	errNonZeroPd = errors.New("non-zero padding")
)

// str reads a string of at most max bytes into dst (reused) and checks its padding.
func (w *wire) str(dst []byte, max int) ([]byte, error) {
	n, err := w.u64()
	if err != nil {
		return nil, err
	}
	if n>>32 != 0 {
		return nil, errUpper32
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w (%d > %d bytes)", errTooLong, n, max)
	}
	total := int(n+7) &^ 7
	if total > bufSize {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLong, n)
	}
	if err := w.fill(total); err != nil {
		return nil, eofIsUnexpected(err)
	}
	dst = append(dst[:0], w.buf[w.pos:w.pos+int(n)]...)
	for _, c := range w.buf[w.pos+int(n) : w.pos+total] {
		if c != 0 {
			return nil, errNonZeroPd
		}
	}
	w.consume(total)
	return dst, nil
}

// read reads up to len(p) bytes of raw data (file contents), hashing and teeing them.
func (w *wire) read(p []byte) (int, error) {
	if w.pos < w.end {
		n := copy(p, w.buf[w.pos:w.end])
		w.consume(n)
		return n, nil
	}
	if w.err != nil {
		return 0, eofIsUnexpected(w.err)
	}
	if len(p) >= len(w.buf)/2 {
		n, err := w.r.Read(p)
		if err != nil {
			w.err = err
		}
		w.sink(p[:n])
		w.off += int64(n)
		if n == 0 && err != nil {
			return 0, eofIsUnexpected(err)
		}
		return n, nil
	}
	if err := w.fill(1); err != nil {
		return 0, eofIsUnexpected(err)
	}
	n := copy(p, w.buf[w.pos:w.end])
	w.consume(n)
	return n, nil
}

// skip consumes n bytes of raw data (hashing and teeing them).
func (w *wire) skip(n int64) error {
	for n > 0 {
		if w.pos == w.end {
			if err := w.fill(1); err != nil {
				return eofIsUnexpected(err)
			}
		}
		m := int64(w.end - w.pos)
		if m > n {
			m = n
		}
		w.consume(int(m))
		n -= m
	}
	return nil
}

// padding consumes and checks the zero padding after n bytes of contents.
func (w *wire) padding(n int64) error {
	pad := int((8 - n%8) % 8)
	if pad == 0 {
		return nil
	}
	if err := w.fill(pad); err != nil {
		return eofIsUnexpected(err)
	}
	for _, c := range w.buf[w.pos : w.pos+pad] {
		if c != 0 {
			return errNonZeroPd
		}
	}
	w.consume(pad)
	return nil
}

// atEOF reports whether the underlying reader has no more bytes. It reads ahead at most one
// buffer's worth.
func (w *wire) atEOF() (bool, error) {
	err := w.fill(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, nil
}
