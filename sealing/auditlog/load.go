package auditlog

import (
	"bytes"
	"errors"
	"io"
	"runtime"

	"golang.org/x/mod/sumdb/tlog"
)

// loadBlockSize is how much of the records file one checking goroutine takes at a time.
const loadBlockSize = 1 << 20

// checkedBlock is a run of complete lines of the records file, checked and hashed.
type checkedBlock struct {
	ends    []int64     // offset just past each line
	hashes  []tlog.Hash // record hash of each line
	bad     int         // index of the first bad line, when err != nil
	err     error       // why line bad is not a record
	torn    int64       // bytes after the last "\n" at the end of the file
	readErr error
}

// checkLines reads r (positioned at offset off of the records file) to its end and sends, in
// file order, one checkedBlock per run of complete lines. Lines are checked (CheckRecord) and
// hashed on every core; the receiver builds the tree in order. A line longer than MaxRecordSize
// is reported as a bad line, like readLine does. Closing stop ends it early.
func checkLines(r io.Reader, off int64, stop <-chan struct{}) <-chan chan checkedBlock {
	order := make(chan chan checkedBlock, runtime.GOMAXPROCS(0))
	go func() {
		defer close(order)
		var carry []byte
		for eof := false; !eof; {
			buf := make([]byte, len(carry), len(carry)+loadBlockSize)
			copy(buf, carry)
			n, err := io.ReadFull(r, buf[len(carry):cap(buf)])
			buf = buf[:len(carry)+n]
			res := make(chan checkedBlock, 1)
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				eof = true
			case err != nil:
				res <- checkedBlock{readErr: err}
				select {
				case order <- res:
				case <-stop:
				}
				return
			}
			cut := bytes.LastIndexByte(buf, '\n') + 1
			if cut == 0 && len(buf) > MaxRecordSize+1 {
				cut = len(buf) // one line too long: let the checker name it
			}
			lines, base := buf[:cut], off
			carry = buf[cut:]
			off += int64(cut)
			torn := int64(0)
			if eof {
				torn = int64(len(carry))
			}
			select {
			case order <- res:
			case <-stop:
				return
			}
			go func() { res <- checkBlock(lines, base, torn) }()
		}
	}()
	return order
}

// checkBlock checks and hashes the complete lines of b, which starts at offset base.
func checkBlock(b []byte, base int64, torn int64) checkedBlock {
	var cb checkedBlock
	cb.torn = torn
	for pos := 0; pos < len(b); {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 || i > MaxRecordSize {
			cb.bad, cb.err = len(cb.ends), errTooLong
			return cb
		}
		rec := b[pos : pos+i]
		if err := CheckRecord(rec); err != nil {
			cb.bad, cb.err = len(cb.ends), err
			return cb
		}
		pos += i + 1
		cb.ends = append(cb.ends, base+int64(pos))
		cb.hashes = append(cb.hashes, tlog.RecordHash(rec))
	}
	return cb
}
