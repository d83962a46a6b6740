package guix

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// ResignExport copies the export stream r to w with every item's signature replaced by one made
// with key: the bytes of each signed span (NAR, store path, references, deriver) are copied
// unchanged, and the signature flag is set to 1 followed by key's signature of the span's
// SHA-256. The stream is read once with constant memory.
//
// ResignExport does not judge the items: it vouches for whatever it is given, so callers run
// VerifyExport (with the ACL of the low side's keys) on the same bytes first. Any format error
// (including truncation and trailing data) aborts with an error; what was written to w by then
// must be discarded.
func ResignExport(ctx context.Context, w io.Writer, r io.Reader, key *PrivateKey) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	er := NewExportReader(ctxReader{ctx, r})
	er.w.tee = bw
	var n int
	er.onTrailer = func(info *ItemInfo) error {
		sig, err := key.Sign(info.SignedHash)
		if err != nil {
			return fmt.Errorf("sign item %d (%s): %w", n, info.StorePath, err)
		}
		var hdr [16]byte
		binary.LittleEndian.PutUint64(hdr[0:], 1)
		binary.LittleEndian.PutUint64(hdr[8:], uint64(len(sig)))
		bw.Write(hdr[:])
		bw.Write(sig)
		var pad [8]byte
		bw.Write(pad[:(8-len(sig)%8)%8])
		n++
		return nil
	}
	for {
		it, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("re-sign export: %w", err)
		}
		if _, err := it.Trailer(); err != nil {
			return fmt.Errorf("re-sign export: %w", err)
		}
		if er.w.teeErr != nil {
			return fmt.Errorf("re-sign export: write: %w", er.w.teeErr)
		}
	}
	if er.w.teeErr != nil {
		return fmt.Errorf("re-sign export: write: %w", er.w.teeErr)
	}
	if n == 0 {
		return fmt.Errorf("re-sign export: the stream has no item")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("re-sign export: write: %w", err)
	}
	return nil
}
