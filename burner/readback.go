package burner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// ErrMismatch reports a disc whose read-back differs from the sealed image.
var ErrMismatch = errors.New("read-back differs from the sealed image")

// ReadBackResult is what reading a burned disc back found.
type ReadBackResult struct {
	Size   int64    // bytes read (the image's size)
	SHA256 [32]byte // of those bytes
	// FirstBadSector is the first 2048-byte sector that differs from the reference image, or -1
	// when none differs or no reference was given.
	FirstBadSector int64
}

// ReadBack reads exactly size bytes from disc, hashes them and compares with want. When ref is
// not nil it yields the image again (the image file, or the deterministic Layout written anew)
// and is compared sector by sector in the same pass, so that a mismatch names its first bad
// sector. A mismatch returns the result and an error wrapping ErrMismatch.
func ReadBack(ctx context.Context, disc io.Reader, size int64, want [32]byte, ref io.Reader) (ReadBackResult, error) {
	res := ReadBackResult{FirstBadSector: -1}
	h := sha256.New()
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	var rbuf []byte
	if ref != nil {
		rbuf = make([]byte, chunk)
	}
	for res.Size < size {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("read back: %w", err)
		}
		n := int(min(int64(chunk), size-res.Size))
		if _, err := io.ReadFull(disc, buf[:n]); err != nil {
			return res, fmt.Errorf("read back at byte %d of %d: %w", res.Size, size, err)
		}
		h.Write(buf[:n])
		if ref != nil && res.FirstBadSector < 0 {
			if _, err := io.ReadFull(ref, rbuf[:n]); err != nil {
				return res, fmt.Errorf("read back: reference image at byte %d: %w", res.Size, err)
			}
			if !bytes.Equal(buf[:n], rbuf[:n]) {
				for off := 0; off < n; off += SectorSize {
					end := min(off+SectorSize, n)
					if !bytes.Equal(buf[off:end], rbuf[off:end]) {
						res.FirstBadSector = (res.Size + int64(off)) / SectorSize
						break
					}
				}
			}
		}
		res.Size += int64(n)
	}
	copy(res.SHA256[:], h.Sum(nil))
	if res.SHA256 != want {
		if res.FirstBadSector >= 0 {
			return res, fmt.Errorf("%w: SHA-256 %x, sealed %x; first differing sector %d (byte %d)", ErrMismatch,
				res.SHA256, want, res.FirstBadSector, res.FirstBadSector*SectorSize)
		}
		return res, fmt.Errorf("%w: SHA-256 %x, sealed %x", ErrMismatch, res.SHA256, want)
	}
	return res, nil
}

// ImageSource opens an image from its first byte. BurnImage calls it twice: once to burn, once
// as the reference for read-back.
type ImageSource func(ctx context.Context) (io.ReadCloser, error)

// BurnAndVerify burns the image held by an io.ReaderAt (an image file): see BurnImage.
func BurnAndVerify(ctx context.Context, d Drive, image io.ReaderAt, size int64, want [32]byte, p Policy,
	progress func(done int64)) (ReadBackResult, error) {
	src := func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(image, 0, size)), nil
	}
	return BurnImage(ctx, d, src, size, want, p, progress)
}

// BurnImage checks the medium against the policy, burns size bytes from src, and reads them back
// from the drive, comparing them with the image sector by sector and with want, the sealed
// SHA-256 of the image. A zero want means "the SHA-256 of the bytes that were burned", for
// images streamed from a Layout whose hash is not known beforehand.
func BurnImage(ctx context.Context, d Drive, src ImageSource, size int64, want [32]byte, p Policy,
	progress func(done int64)) (ReadBackResult, error) {
	st, err := d.Status(ctx)
	if err != nil {
		return ReadBackResult{}, err
	}
	if err := CheckBurn(st, size, p); err != nil {
		return ReadBackResult{}, fmt.Errorf("burn %s: %w", d.Name(), err)
	}
	img, err := src(ctx)
	if err != nil {
		return ReadBackResult{}, fmt.Errorf("burn %s: open image: %w", d.Name(), err)
	}
	h := sha256.New()
	err = d.Burn(ctx, io.TeeReader(img, h), size, p.Speed, progress)
	img.Close()
	if err != nil {
		return ReadBackResult{}, err
	}
	var burned [32]byte
	copy(burned[:], h.Sum(nil))
	if want == ([32]byte{}) {
		want = burned
	} else if burned != want {
		return ReadBackResult{}, fmt.Errorf("burn %s: the image fed to the drive has SHA-256 %x, sealed %x: %w",
			d.Name(), burned, want, ErrMismatch)
	}
	r, err := d.OpenRead(ctx)
	if err != nil {
		return ReadBackResult{}, fmt.Errorf("read back %s: %w", d.Name(), err)
	}
	defer r.Close()
	ref, err := src(ctx)
	if err != nil {
		return ReadBackResult{}, fmt.Errorf("read back %s: open image: %w", d.Name(), err)
	}
	defer ref.Close()
	res, err := ReadBack(ctx, r, size, want, ref)
	if err != nil {
		return res, fmt.Errorf("%s: %w", d.Name(), err)
	}
	return res, nil
}
