package media

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxUEvent bounds a kernel uevent message (the kernel's own limit is 2048 bytes of environment).
const MaxUEvent = 8192

// UEvent is one kernel uevent: "ACTION@DEVPATH\0KEY=VALUE\0...".
type UEvent struct {
	Action  string // add, remove, change, move, online, offline, bind, unbind
	DevPath string
	Env     map[string]string
}

// ParseUEvent decodes a kernel uevent message. Unlike go-udev's parser it splits each variable at
// the first '=' only, so a value containing '=' is kept instead of failing the whole event, and it
// ignores udevd's "libudev" messages (no udevd runs in the appliance).
func ParseUEvent(b []byte) (*UEvent, error) {
	if len(b) > MaxUEvent {
		return nil, fmt.Errorf("uevent: %d bytes (limit %d)", len(b), MaxUEvent)
	}
	if bytes.HasPrefix(b, []byte("libudev\x00")) {
		return nil, errors.New("uevent: udevd message, not the kernel's")
	}
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	head := string(fields[0])
	at := strings.IndexByte(head, '@')
	if at <= 0 || at == len(head)-1 {
		return nil, fmt.Errorf("uevent: bad header %q", head)
	}
	e := &UEvent{Action: head[:at], DevPath: head[at+1:], Env: map[string]string{}}
	switch e.Action {
	case "add", "remove", "change", "move", "online", "offline", "bind", "unbind":
	default:
		return nil, fmt.Errorf("uevent: unknown action %q", e.Action)
	}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("uevent: bad variable %q", f)
		}
		e.Env[k] = v
	}
	return e, nil
}
