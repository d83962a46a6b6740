package appliance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
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
func (k *KeySealer) Seal(dir string, info SealInfo, want map[string]string) error {
	t, err := time.Parse(time.RFC3339, info.Time)
	if err != nil {
		return fmt.Errorf("seal time %q: %w", info.Time, err)
	}
	files, err := sealing.SealDir(context.Background(), dir, k.Key, sealing.SealInfo{
		Session: info.Session, Station: info.Station, Time: t.UTC(), PolicyHash: info.PolicyHash, LogIndex: info.LogIndex})
	if err != nil {
		return err
	}
	return checkSealed(files, want)
}

// checkSealed compares the sealed bundle/ files with the hashes of the import's read.
func checkSealed(files []sealing.File, want map[string]string) error {
	seen := 0
	for _, f := range files {
		if !strings.HasPrefix(f.Path, sealing.BundleDir+"/") {
			continue
		}
		w, ok := want[f.Path]
		if !ok {
			return fmt.Errorf("seal: %s is in the spool but was not approved", f.Path)
		}
		if got := fmt.Sprintf("%x", f.Sum); got != w {
			return fmt.Errorf("seal: %s hashes to %s in the spool, but %s when it was scanned", f.Path, got, w)
		}
		seen++
	}
	if seen != len(want) {
		return fmt.Errorf("seal: %d approved files, %d in the spool", len(want), seen)
	}
	return nil
}

// DriveBurner is the Burner over package burner: the deterministic ISO layout of the spooled
// tree, streamed through xorriso into an optical drive (/dev/srN) or a stdio: pseudo-drive (the
// same xorriso code path, for host mode and tests), then read back and compared with the SHA-256
// of the bytes that were handed to the drive. Drive "stdio:DIR/" burns a fresh DIR/SESSION.iso
// per session; "stdio:FILE" and /dev/srN need a blank medium each time.
type DriveBurner struct {
	Drive  string
	Policy burner.Policy

	// Set by Burn for ReadBack (the station runs one job at a time).
	drive  burner.Drive
	layout *burner.Layout
}

// address is the policy's drive address, parsed (the policy was validated with the same parser).
func (b *DriveBurner) address() (burner.Address, error) {
	return burner.ParseAddress(b.Drive)
}

// Blank implements Burner.
func (b *DriveBurner) Blank(ctx context.Context) (bool, error) {
	a, err := b.address()
	if err != nil {
		return false, err
	}
	if a.Dir != "" {
		return true, os.MkdirAll(a.Dir, 0o755) // a new file per session
	}
	d, err := burner.Open(a.String())
	if err != nil {
		return false, err
	}
	st, err := d.Status(ctx)
	if a.Pseudo() {
		// Nobody inserts a disc into a file: a written target fails the job instead of waiting.
		if err != nil {
			return false, err
		}
		if st.State != burner.StateBlank {
			return false, fmt.Errorf("%s is not blank (%s)", b.Drive, st.State)
		}
		return true, nil
	}
	if err != nil {
		return false, nil // no medium readable yet: keep waiting
	}
	return st.State == burner.StateBlank, nil
}

// Burn implements Burner.
func (b *DriveBurner) Burn(ctx context.Context, dir, label string, epoch int64, session string, progress Progress) (*BurnResult, error) {
	l, err := burner.FromDir(dir, burner.Options{Label: label, Epoch: time.Unix(epoch, 0).UTC()})
	if err != nil {
		return nil, fmt.Errorf("ISO layout of %s: %w", dir, err)
	}
	a, err := b.address()
	if err != nil {
		return nil, err
	}
	if a.Dir != "" {
		if err := os.MkdirAll(a.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	target := a.Session(session)
	d, err := burner.Open(target.String())
	if err != nil {
		return nil, err
	}
	st, err := d.Status(ctx)
	if err != nil {
		return nil, err
	}
	if err := burner.CheckBurn(st, l.Size(), b.Policy); err != nil {
		return nil, err
	}
	// The image is generated once, streamed to xorriso and hashed on the way.
	pr, pw := io.Pipe()
	h := sha256.New()
	gen := make(chan error, 1)
	go func() {
		_, err := l.Write(ctx, io.MultiWriter(pw, h))
		pw.CloseWithError(err)
		gen <- err
	}()
	err = d.Burn(ctx, pr, l.Size(), b.Policy.Speed, func(done int64) { progress(done, l.Size()) })
	pr.CloseWithError(errors.New("burn ended"))
	if gerr := <-gen; err == nil && gerr != nil {
		err = gerr
	}
	if err != nil {
		return nil, err
	}
	b.drive, b.layout = d, l
	r := &BurnResult{Size: l.Size(), Where: target.Where()}
	copy(r.SHA256[:], h.Sum(nil))
	return r, nil
}

// ReadBack implements Burner: the whole image is read from the medium and compared with the
// burned hash, and sector by sector with the layout written anew (deterministic), so that a
// mismatch names its first bad sector.
func (b *DriveBurner) ReadBack(ctx context.Context, r *BurnResult, progress Progress) error {
	if b.drive == nil {
		return errors.New("read back: nothing burned")
	}
	rc, err := b.drive.OpenRead(ctx)
	if err != nil {
		return fmt.Errorf("read back %s: %w", b.drive.Name(), err)
	}
	defer rc.Close()
	ref, pw := io.Pipe()
	go func() {
		_, err := b.layout.Write(ctx, pw)
		pw.CloseWithError(err)
	}()
	defer ref.Close()
	disc := io.TeeReader(rc, &progressWriter{w: io.Discard, total: r.Size, progress: progress, ctx: ctx})
	res, err := burner.ReadBack(ctx, disc, r.Size, r.SHA256, ref)
	if err != nil {
		if res.FirstBadSector >= 0 {
			return fmt.Errorf("read back %s: first bad sector %d: %w", b.drive.Name(), res.FirstBadSector, err)
		}
		return fmt.Errorf("read back %s: %w", b.drive.Name(), err)
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
