package burner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// xorrisoDrive burns through xorriso's cdrecord emulation and reads status natively (physical
// drives) or from `xorriso -toc` (fallback, and stdio: pseudo-drives).
type xorrisoDrive struct {
	addr      string // as given: /dev/sr0 or stdio:/path
	stdioPath string // set for stdio: pseudo-drives
}

func (d *xorrisoDrive) Name() string { return d.addr }

// Status reads the medium natively (CDROM_DRIVE_STATUS, MMC over SG_IO) and falls back to
// xorriso -toc when that fails.
func (d *xorrisoDrive) Status(ctx context.Context) (Status, error) {
	if d.stdioPath == "" {
		st, err := nativeStatus(d.addr)
		if err == nil {
			return st, nil
		}
		xst, xerr := d.tocStatus(ctx)
		if xerr != nil {
			return Status{}, fmt.Errorf("drive %s: native status: %v; xorriso: %w", d.addr, err, xerr)
		}
		return xst, nil
	}
	return d.tocStatus(ctx)
}

func (d *xorrisoDrive) tocStatus(ctx context.Context) (Status, error) {
	cmd := exec.CommandContext(ctx, "xorriso", "-abort_on", "NEVER", "-outdev", d.addr, "-toc")
	out, err := cmd.CombinedOutput()
	st, perr := parseTOC(out)
	if perr != nil {
		if err != nil {
			return Status{}, fmt.Errorf("drive %s: xorriso -toc: %v: %s", d.addr, err, lastLines(out, 3))
		}
		return Status{}, fmt.Errorf("drive %s: xorriso -toc: %w", d.addr, perr)
	}
	return st, nil
}

// parseTOC reads the "Media current", "Media status" and "Media blocks" lines of xorriso -toc.
func parseTOC(out []byte) (Status, error) {
	st := Status{Source: "xorriso"}
	var sawStatus bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "Media current":
			st.Media, st.Rewritable, st.Pseudo = mediaFromXorriso(val)
		case "Media status":
			sawStatus = true
			switch {
			case strings.Contains(val, "is blank"):
				st.State = StateBlank
			case strings.Contains(val, "is appendable"):
				st.State = StateAppendable
			case strings.Contains(val, "is closed"):
				st.State = StateClosed
			case strings.Contains(val, "not present") || strings.Contains(val, "no media"):
				st.State = StateNoDisc
			}
		case "Media blocks":
			// "64 readable , 0 writable , 64 overall"
			for _, part := range strings.Split(val, ",") {
				f := strings.Fields(part)
				if len(f) == 2 && f[1] == "writable" {
					if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						st.Capacity = n * SectorSize
					}
				}
			}
		}
	}
	if !sawStatus {
		if bytes.Contains(out, []byte("no media")) || bytes.Contains(out, []byte("not present")) {
			return Status{State: StateNoDisc, Source: "xorriso"}, nil
		}
		return Status{}, errors.New("no \"Media status\" line")
	}
	if st.State == StateBlank || st.State == StateAppendable {
		if strings.HasSuffix(st.Media, "-ROM") {
			st.State = StateNotWritable
		}
	}
	return st, nil
}

// mediaFromXorriso maps xorriso's "Media current" text ("DVD-R sequential recording",
// "BD-RE", "stdio file, overwriteable") to a profile name.
func mediaFromXorriso(v string) (media string, rewritable, pseudo bool) {
	if strings.HasPrefix(v, "stdio file") {
		return "stdio file", false, true
	}
	media = strings.Fields(v + " ")[0]
	media = strings.TrimSuffix(media, ",")
	rewritable = strings.Contains(media, "RW") || strings.Contains(media, "RE") || strings.Contains(media, "RAM") ||
		strings.Contains(v, "restricted overwrite")
	return media, rewritable, false
}

// burnArgs is the xorriso command line of a burn: cdrecord emulation, DAO/SAO write type with
// the announced size (tsize), no padding (the image's size is exact and sealed), no -multi so
// the disc is closed, and the image on standard input.
func burnArgs(addr string, size int64, speed string) []string {
	args := []string{"-as", "cdrecord", "-v", "dev=" + addr, "-dao", "padsize=0", "tsize=" + strconv.FormatInt(size, 10)}
	if speed != "" {
		args = append(args, "speed="+speed)
	}
	return append(args, "-")
}

// Burn streams exactly size bytes of r into xorriso. r must yield exactly size bytes.
func (d *xorrisoDrive) Burn(ctx context.Context, r io.Reader, size int64, speed string, progress func(int64)) error {
	if size <= 0 || size%SectorSize != 0 {
		return fmt.Errorf("burn %s: image size %d is not a positive multiple of %d", d.addr, size, SectorSize)
	}
	if d.stdioPath != "" {
		if st, err := os.Stat(d.stdioPath); err == nil && st.Size() > 0 {
			return fmt.Errorf("burn %s: %w (file has %d bytes)", d.addr, ErrNotBlank, st.Size())
		}
	}
	cmd := exec.CommandContext(ctx, "xorriso", burnArgs(d.addr, size, speed)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("burn %s: %w", d.addr, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("burn %s: start xorriso: %w", d.addr, err)
	}
	pr := &progressReader{r: io.LimitReader(r, size), fn: progress}
	n, copyErr := io.CopyBuffer(stdin, pr, make([]byte, 1<<20))
	stdin.Close()
	waitErr := cmd.Wait()
	switch {
	case copyErr != nil:
		return fmt.Errorf("burn %s: feeding image after %d bytes: %w (xorriso: %s)", d.addr, n, copyErr, lastLines(out.Bytes(), 3))
	case n != size:
		return fmt.Errorf("burn %s: image ended after %d of %d bytes", d.addr, n, size)
	case waitErr != nil:
		return fmt.Errorf("burn %s: xorriso: %w: %s", d.addr, waitErr, lastLines(out.Bytes(), 5))
	case !bytes.Contains(out.Bytes(), []byte("completed successfully")):
		return fmt.Errorf("burn %s: xorriso did not report success: %s", d.addr, lastLines(out.Bytes(), 5))
	}
	return nil
}

type progressReader struct {
	r    io.Reader
	n    int64
	fn   func(int64)
	last int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && (p.n-p.last >= 4<<20 || err == io.EOF) {
		p.fn(p.n)
		p.last = p.n
	}
	return n, err
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Eject opens the tray of a physical drive.
func (d *xorrisoDrive) Eject(ctx context.Context) error {
	if d.stdioPath != "" {
		return nil
	}
	return ejectDevice(d.addr)
}

// OpenRead opens the medium for read-back. A physical drive is reloaded (eject, close tray, wait
// for the disc) only when the kernel does not yet see the whole new image: the sr driver keeps
// the capacity it read before the burn.
func (d *xorrisoDrive) OpenRead(ctx context.Context) (io.ReadCloser, error) {
	if d.stdioPath != "" {
		return os.Open(d.stdioPath)
	}
	if f, err := os.Open(d.addr); err == nil {
		vs, verr := VolumeSize(f)
		end, serr := f.Seek(0, io.SeekEnd)
		if verr == nil && serr == nil && end >= vs {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				return f, nil
			}
		}
		f.Close()
	}
	if err := reloadDevice(ctx, d.addr); err != nil {
		return nil, err
	}
	return os.Open(d.addr)
}
