package burner

import (
	"errors"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   Address
		pseudo bool
	}{
		{"/dev/sr0", Address{Device: "/dev/sr0"}, false},
		{"stdio:/tmp/disc.iso", Address{File: "/tmp/disc.iso"}, true},
		{"stdio:/tmp/discs/", Address{Dir: "/tmp/discs"}, true},
		{"stdio:discs/", Address{Dir: "discs"}, true},
		{"stdio:/", Address{Dir: "/"}, true},
	} {
		got, err := ParseAddress(c.in)
		if err != nil || got != c.want || got.Pseudo() != c.pseudo {
			t.Errorf("ParseAddress(%q) = %+v, %v", c.in, got, err)
			continue
		}
		if got.String() != c.in {
			t.Errorf("%q round-trips as %q", c.in, got.String())
		}
	}
	for _, bad := range []string{"", "stdio:", "sr0", "/tmp/x.iso", "cdrom:/dev/sr0"} {
		if _, err := ParseAddress(bad); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q): %v, want ErrBadAddress", bad, err)
		}
	}
}

func TestAddressSessionAndResolve(t *testing.T) {
	a, _ := ParseAddress("stdio:discs/")
	a = a.Resolve("/etc/airlock")
	if a.String() != "stdio:/etc/airlock/discs/" {
		t.Errorf("resolved: %s", a)
	}
	if s := a.Session("S1"); s.String() != "stdio:/etc/airlock/discs/S1.iso" || s.Where() != "/etc/airlock/discs/S1.iso" {
		t.Errorf("session: %s (%s)", s, s.Where())
	}
	f, _ := ParseAddress("stdio:/tmp/d.iso")
	if f.Session("S1") != f || f.Resolve("/x") != f {
		t.Errorf("a file address changed: %+v", f.Session("S1"))
	}
	d, _ := ParseAddress("/dev/sr1")
	if d.Session("S1") != d || d.Where() != "/dev/sr1" {
		t.Errorf("a device address changed: %+v", d.Session("S1"))
	}
}
