package guix

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/internal/ctxio"
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
	er := NewExportReader(ctxio.NewReader(ctx, r))
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

// ErrChanged is wrapped by ResignFile's error when the file's bytes are not the ones judged.
var ErrChanged = errors.New("file changed since it was judged")

// ResignFile re-signs the export at path in place with key (ResignExport), for the station's
// resign_guix: the file must still hash to want, the SHA-256 of the bytes that were judged
// (checked in the same read, so a spool file changed after the scan is refused and left as
// it was). The re-signed stream is written beside it and renamed over it only when complete;
// its SHA-256 and size are returned, for the seal.
func ResignFile(ctx context.Context, path string, want [32]byte, key *PrivateKey) (sum [32]byte, size int64, err error) {
	in, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".resign-*")
	if err != nil {
		return sum, 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	inHash, outHash := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, outHash)}
	if err = ResignExport(ctx, cw, io.TeeReader(in, inHash), key); err != nil {
		return sum, 0, fmt.Errorf("%s: %w", path, err)
	}
	// ResignExport stops at the end marker; anything after it was refused as trailing data.
	var got [32]byte
	inHash.Sum(got[:0])
	if got != want {
		err = fmt.Errorf("%s: %w: SHA-256 %x, judged %x", path, ErrChanged, got, want)
		return sum, 0, err
	}
	if err = tmp.Sync(); err != nil {
		return sum, 0, err
	}
	if err = tmp.Close(); err != nil {
		return sum, 0, err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return sum, 0, err
	}
	outHash.Sum(sum[:0])
	return sum, cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
