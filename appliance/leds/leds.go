// Package leds drives the station's signal LEDs through the kernel's LED class
// (/sys/class/leds/NAME/{brightness,trigger,delay_on,delay_off}).
//
// A Board maps the five signals (ready, busy, attention, pass, fail) to LED names from the
// policy; on a PC they are the keyboard's lock LEDs (input0::numlock, ...). Busy blinks through
// the kernel's timer trigger, so it keeps blinking while the station works. A signal without an
// LED is simply not shown. Tests point the board at a fake tree of plain files.
package leds

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Signal is one of the station's lights.
type Signal string

// The signals, as named in the policy's [leds] table.
const (
	Ready     Signal = "ready"
	Busy      Signal = "busy"
	Attention Signal = "attention"
	Pass      Signal = "pass"
	Fail      Signal = "fail"
)

// Signals lists every signal in a fixed order.
var Signals = []Signal{Ready, Busy, Attention, Pass, Fail}

// Blink periods of the busy signal (milliseconds on, off).
const (
	BlinkOnMs  = 250
	BlinkOffMs = 250
)

// Board drives LEDs under a sysfs class directory.
type Board struct {
	dir   string // .../sys/class/leds
	names map[Signal]string
	// Notify, when set, is called with every change of a signal (for the line view's "led"
	// lines).
	Notify func(s Signal, how string)
	last   map[Signal]string
}

// NewBoard returns a board over dir (normally /sys/class/leds) with the LED name of each signal.
// A name that does not exist under dir is an error: the policy names a LED the machine lacks.
func NewBoard(dir string, names map[Signal]string) (*Board, error) {
	b := &Board{dir: dir, names: map[Signal]string{}}
	for s, n := range names {
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, "/\x00") || n == "." || n == ".." {
			return nil, fmt.Errorf("leds: %s: bad LED name %q", s, n)
		}
		if _, err := os.Stat(filepath.Join(dir, n, "brightness")); err != nil {
			return nil, fmt.Errorf("leds: %s: LED %q: %w", s, n, err)
		}
		b.names[s] = n
	}
	return b, nil
}

// Show lights exactly the given signals (busy blinking) and turns the others off. An LED shared by
// several signals is on if any of them is.
func (b *Board) Show(on ...Signal) error {
	want := map[Signal]bool{}
	for _, s := range on {
		want[s] = true
	}
	// The state of each physical LED: "", "on" or "blink".
	phys := map[string]string{}
	for _, s := range Signals {
		n, ok := b.names[s]
		if !ok {
			continue
		}
		how := phys[n]
		if want[s] {
			if s == Busy {
				how = "blink"
			} else if how == "" {
				how = "on"
			}
		}
		phys[n] = how
	}
	names := make([]string, 0, len(phys))
	for n := range phys {
		names = append(names, n)
	}
	sort.Strings(names)
	var firstErr error
	for _, n := range names {
		if err := b.set(n, phys[n]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if b.last == nil {
		b.last = map[Signal]string{}
	}
	for _, s := range Signals {
		if _, ok := b.names[s]; !ok {
			continue
		}
		how := "off"
		if want[s] {
			how = "on"
			if s == Busy {
				how = "blink"
			}
		}
		if b.last[s] == how {
			continue
		}
		b.last[s] = how
		if b.Notify != nil {
			b.Notify(s, how)
		}
	}
	return firstErr
}

// set puts one physical LED into how: "" (off), "on" or "blink".
func (b *Board) set(name, how string) error {
	d := filepath.Join(b.dir, name)
	w := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(d, file), []byte(v), 0); err != nil {
			return fmt.Errorf("leds: %s/%s: %w", name, file, err)
		}
		return nil
	}
	switch how {
	case "blink":
		if err := w("trigger", "timer"); err != nil {
			return err
		}
		// The timer trigger creates delay_on/delay_off; a fake tree has them as files.
		if err := w("delay_on", fmt.Sprint(BlinkOnMs)); err != nil {
			return err
		}
		return w("delay_off", fmt.Sprint(BlinkOffMs))
	case "on":
		if err := w("trigger", "none"); err != nil {
			return err
		}
		return w("brightness", "1")
	default:
		if err := w("trigger", "none"); err != nil {
			return err
		}
		return w("brightness", "0")
	}
}

// State reads back what an LED shows: "blink" (timer trigger), "on" or "off". Tests use it on a
// fake tree, where trigger is the plain word written (the kernel shows "[timer]" in a list).
func State(dir, name string) (string, error) {
	trig, err := os.ReadFile(filepath.Join(dir, name, "trigger"))
	if err != nil {
		return "", err
	}
	t := string(trig)
	if strings.Contains(t, "[timer]") || strings.TrimSpace(t) == "timer" {
		return "blink", nil
	}
	br, err := os.ReadFile(filepath.Join(dir, name, "brightness"))
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(string(br)); v != "" && v != "0" {
		return "on", nil
	}
	return "off", nil
}

// MakeFakeTree creates dir/NAME/{brightness,trigger,delay_on,delay_off,max_brightness} for each
// name, as a stand-in for /sys/class/leds in host mode and tests.
func MakeFakeTree(dir string, names ...string) error {
	for _, n := range names {
		d := filepath.Join(dir, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for f, v := range map[string]string{"brightness": "0", "max_brightness": "1", "trigger": "none",
			"delay_on": "0", "delay_off": "0"} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(v+"\n"), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
