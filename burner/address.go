package burner

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Address is where a burn goes, parsed once from the policy's burn.drive or a command's
// --drive. The forms are:
//
//	/dev/srN      an optical drive
//	stdio:FILE    a pseudo-drive: xorriso writes the image into FILE (blank while FILE is absent or empty)
//	stdio:DIR/    a folder of pseudo-drives: every session burns a fresh DIR/SESSION.iso
//
// Exactly one of Device, File and Dir is set.
type Address struct {
	Device string // /dev/srN
	File   string // the stdio: file
	Dir    string // the stdio: folder (without its trailing slash)
}

// ErrBadAddress is the class of every address ParseAddress refuses.
var ErrBadAddress = errors.New("bad drive address")

// ParseAddress parses a drive address; the error names it and says which forms are wanted.
func ParseAddress(s string) (Address, error) {
	if rest, ok := strings.CutPrefix(s, "stdio:"); ok {
		switch {
		case rest == "":
			return Address{}, fmt.Errorf("%w %q: stdio: needs a path", ErrBadAddress, s)
		case strings.HasSuffix(rest, "/"):
			return Address{Dir: filepath.Clean(rest)}, nil
		}
		return Address{File: rest}, nil
	}
	if s == "" {
		return Address{}, fmt.Errorf("%w: empty (want /dev/srN, stdio:FILE or stdio:DIR/)", ErrBadAddress)
	}
	if !strings.HasPrefix(s, "/dev/") {
		return Address{}, fmt.Errorf("%w %q: want /dev/srN, stdio:FILE or stdio:DIR/", ErrBadAddress, s)
	}
	return Address{Device: s}, nil
}

// String is the address in the form ParseAddress reads.
func (a Address) String() string {
	switch {
	case a.Device != "":
		return a.Device
	case a.Dir != "":
		if a.Dir == "/" {
			return "stdio:/"
		}
		return "stdio:" + a.Dir + "/"
	}
	return "stdio:" + a.File
}

// Pseudo reports whether the address is a file or a folder of files rather than a drive:
// nobody inserts a disc into a file, so a written target fails instead of being waited for.
func (a Address) Pseudo() bool { return a.Device == "" }

// Session is the address one session burns to: DIR/SESSION.iso for a folder, the address
// itself otherwise.
func (a Address) Session(session string) Address {
	if a.Dir == "" {
		return a
	}
	return Address{File: filepath.Join(a.Dir, session+".iso")}
}

// Where names the burned target for people: the device or the file, without "stdio:".
func (a Address) Where() string {
	switch {
	case a.Device != "":
		return a.Device
	case a.Dir != "":
		return a.Dir
	}
	return a.File
}

// Resolve makes a relative stdio: path relative to dir (the policy file's folder).
func (a Address) Resolve(dir string) Address {
	switch {
	case a.File != "" && !filepath.IsAbs(a.File):
		a.File = filepath.Join(dir, a.File)
	case a.Dir != "" && !filepath.IsAbs(a.Dir):
		a.Dir = filepath.Join(dir, a.Dir)
	}
	return a
}
