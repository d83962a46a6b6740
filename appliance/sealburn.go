package appliance

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/sealing"
)

// KeySealer is the Sealer over package sealing: SHA256SUMS of the spooled tree and its minisign
// signature by the appliance's seal key.
type KeySealer struct {
	Key *sealing.SealKey
}

// Seal implements Sealer.
func (k *KeySealer) Seal(dir string, info SealInfo) error {
	t, err := time.Parse(time.RFC3339, info.Time)
	if err != nil {
		return fmt.Errorf("seal time %q: %w", info.Time, err)
	}
	_, err = sealing.SealDir(context.Background(), dir, k.Key, sealing.SealInfo{
		Session: info.Session, Station: info.Station, Time: t.UTC(), PolicyHash: info.PolicyHash, LogIndex: info.LogIndex})
	return err
}

// ImageBurner writes the deterministic ISO image (package burner's layout) to a file: the
// image-file drive of host mode. Drive "stdio:DIR/" writes DIR/SESSION.iso, "stdio:FILE" writes
// FILE (which must not exist yet: a write-once disc). Read-back re-reads the file and compares
// its SHA-256 with what was written.
type ImageBurner struct {
	// Drive is the policy's burn.drive, "stdio:..." for this burner.
	Drive string
}

func (b *ImageBurner) target(session string) string {
	p := strings.TrimPrefix(b.Drive, "stdio:")
	if strings.HasSuffix(p, "/") {
		return filepath.Join(p, session+".iso")
	}
	return p
}

// Blank implements Burner: the target is blank when it does not exist or is empty.
func (b *ImageBurner) Blank(ctx context.Context) (bool, error) {
	p := strings.TrimPrefix(b.Drive, "stdio:")
	if strings.HasSuffix(p, "/") {
		return true, os.MkdirAll(p, 0o755)
	}
	st, err := os.Stat(p)
	if os.IsNotExist(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return st.Size() == 0, nil
}

// Burn implements Burner.
func (b *ImageBurner) Burn(ctx context.Context, dir, label string, epoch int64, session string, progress Progress) (*BurnResult, error) {
	l, err := burner.FromDir(dir, burner.Options{Label: label, Epoch: time.Unix(epoch, 0).UTC()})
	if err != nil {
		return nil, fmt.Errorf("ISO layout of %s: %w", dir, err)
	}
	dst := b.target(session)
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	pw := &progressWriter{w: io.MultiWriter(f, h), total: l.Size(), progress: progress}
	n, err := l.Write(ctx, pw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write image %s: %w", dst, err)
	}
	if n != l.Size() {
		return nil, fmt.Errorf("write image %s: wrote %d bytes, layout says %d", dst, n, l.Size())
	}
	r := &BurnResult{Size: n, Where: dst}
	copy(r.SHA256[:], h.Sum(nil))
	return r, nil
}

// ReadBack implements Burner.
func (b *ImageBurner) ReadBack(ctx context.Context, r *BurnResult, progress Progress) error {
	f, err := os.Open(r.Where)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(&progressWriter{w: h, total: r.Size, progress: progress, ctx: ctx}, io.LimitReader(f, r.Size))
	if err != nil {
		return fmt.Errorf("read back %s: %w", r.Where, err)
	}
	if n != r.Size {
		return fmt.Errorf("read back %s: %d of %d bytes", r.Where, n, r.Size)
	}
	var got [32]byte
	copy(got[:], h.Sum(nil))
	if got != r.SHA256 {
		return fmt.Errorf("read back %s: SHA-256 %x differs from the burned %x", r.Where, got, r.SHA256)
	}
	return nil
}

type progressWriter struct {
	w        io.Writer
	ctx      context.Context
	done     int64
	total    int64
	progress Progress
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if p.ctx != nil {
		if err := p.ctx.Err(); err != nil {
			return 0, err
		}
	}
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.progress != nil {
		p.progress(p.done, p.total)
	}
	return n, err
}
