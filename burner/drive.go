package burner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DiscState is what a drive says about the medium in it.
type DiscState int

// Disc states, as MMC READ DISC INFORMATION and xorriso -toc report them.
const (
	StateUnknown     DiscState = iota
	StateNoDisc                // tray empty or open
	StateBlank                 // nothing written: the only state a burn accepts
	StateAppendable            // written, not closed
	StateClosed                // written and closed (finalized)
	StateNotWritable           // read-only medium (pressed disc, ROM profile)
)

func (s DiscState) String() string {
	return [...]string{"unknown", "no disc", "blank", "appendable", "closed", "not writable"}[s]
}

// Status describes a drive's medium.
type Status struct {
	State DiscState
	// Media is the MMC profile name ("DVD-R", "DVD+R", "BD-R", "DVD-RW", ...) or "stdio file"
	// for a pseudo-drive.
	Media string
	// Rewritable is set for media that can be erased (-RW, -RE, RAM, overwritable formats).
	Rewritable bool
	// Pseudo is set for stdio: pseudo-drives (files), used by tests.
	Pseudo bool
	// Capacity is the number of bytes that can be written (blank media), 0 if unknown.
	Capacity int64
	// Source says how the status was read: "mmc" (native ioctl and SG_IO) or "xorriso".
	Source string
}

func (s Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "state: %s\nmedia: %s\n", s.State, s.Media)
	fmt.Fprintf(&b, "rewritable: %v\ncapacity: %d bytes\nsource: %s\n", s.Rewritable, s.Capacity, s.Source)
	return b.String()
}

// Drive is an optical drive (or a stdio: pseudo-drive) that write-once images are burned to.
type Drive interface {
	// Name is the address given to Open ("/dev/sr0", "stdio:/tmp/disc.iso").
	Name() string
	// Status reads the state of the medium.
	Status(ctx context.Context) (Status, error)
	// Burn writes exactly size bytes from r as one closed session (nothing can be appended),
	// calling progress (if not nil) with the bytes handed to the drive so far.
	Burn(ctx context.Context, r io.Reader, size int64, speed string, progress func(done int64)) error
	// Eject opens the tray (a no-op for pseudo-drives).
	Eject(ctx context.Context) error
	// OpenRead opens the medium for reading back what was burned. Physical drives reload the
	// medium first when needed so that the kernel sees the new disc's size.
	OpenRead(ctx context.Context) (io.ReadCloser, error)
}

// Policy limits what may be burned where (from the appliance policy).
type Policy struct {
	// Speed is passed to xorriso's speed= ("4d", "0" = drive's maximum, "" = default).
	Speed string
	// AllowRewritable permits -RW / -RE media, which could be erased and rewritten later.
	AllowRewritable bool
	// Media, when not empty, lists the accepted media types (e.g. "DVD-R", "BD-R").
	Media []string
	// MaxMediaBytes, when positive, refuses media whose free space exceeds it, so that a small
	// image does not use up a large (costly) disc unless the policy allows that size.
	MaxMediaBytes int64
}

// Refusals of CheckBurn; callers branch on them to tell the operator what to insert.
var (
	ErrNoDisc       = errors.New("no disc in the drive")
	ErrNotBlank     = errors.New("disc is not blank")
	ErrRewritable   = errors.New("rewritable media not allowed by policy")
	ErrMediaType    = errors.New("media type not allowed by policy")
	ErrTooSmall     = errors.New("image larger than the free space of the medium")
	ErrMediaTooBig  = errors.New("medium larger than the policy allows")
	ErrNotWritable  = errors.New("medium is not writable")
	ErrUnknownState = errors.New("disc state unknown")
)

// CheckBurn decides whether an image of size bytes may be burned onto the medium st describes.
func CheckBurn(st Status, size int64, p Policy) error {
	switch st.State {
	case StateBlank:
	case StateNoDisc:
		return ErrNoDisc
	case StateAppendable, StateClosed:
		return fmt.Errorf("%w (%s, %s)", ErrNotBlank, st.Media, st.State)
	case StateNotWritable:
		return fmt.Errorf("%w (%s)", ErrNotWritable, st.Media)
	default:
		return ErrUnknownState
	}
	if st.Rewritable && !st.Pseudo && !p.AllowRewritable {
		return fmt.Errorf("%w (%s)", ErrRewritable, st.Media)
	}
	if len(p.Media) > 0 && !st.Pseudo && !slices.Contains(p.Media, st.Media) {
		return fmt.Errorf("%w (%s; allowed: %s)", ErrMediaType, st.Media, strings.Join(p.Media, ", "))
	}
	if st.Capacity > 0 && size > st.Capacity {
		return fmt.Errorf("%w: %d bytes, %d free on %s", ErrTooSmall, size, st.Capacity, st.Media)
	}
	if p.MaxMediaBytes > 0 && st.Capacity > p.MaxMediaBytes && !st.Pseudo {
		return fmt.Errorf("%w: %s with %d bytes free, limit %d", ErrMediaTooBig, st.Media, st.Capacity, p.MaxMediaBytes)
	}
	if st.Capacity <= 0 && !st.Pseudo {
		return fmt.Errorf("%w: capacity of the %s unknown", ErrTooSmall, st.Media)
	}
	return nil
}

// Open returns the drive at addr: "stdio:FILE" for a pseudo-drive (a file written by the same
// xorriso code path), otherwise an optical drive device such as /dev/sr0.
func Open(addr string) (Drive, error) {
	a, err := ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	if a.Dir != "" {
		return nil, fmt.Errorf("open drive %s: a folder of pseudo-drives; open its Session address", addr)
	}
	return &xorrisoDrive{addr: addr, stdioPath: a.File}, nil
}
