// Package leds drives the station's signal LEDs through the kernel's LED class
// (/sys/class/leds/NAME/{brightness,trigger,delay_on,delay_off}).
//
// A Board maps the five signals (ready, busy, attention, pass, fail) to LED names from the
// policy; by default they are the keyboard's three lock LEDs (DefaultNames). Each signal has a
// fixed look (Look): ready, attention and pass are steady, busy blinks slowly and fail blinks
// fast, both through the kernel's timer trigger, so they keep blinking while the station works.
// Several signals may share one LED; it then shows the most urgent look of its lit signals
// (fast blink over slow blink over steady). A signal without an LED is simply not shown. Tests
// point the board at a fake tree of plain files.
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

// How is what one LED shows. Its string is the word of the line view's `airlock: led` lines.
type How string

// The looks of an LED, from least to most urgent.
const (
	Off       How = "off"
	On        How = "on"
	Blink     How = "blink"      // BlinkOnMs/BlinkOffMs: working
	FastBlink How = "fast-blink" // FastOnMs/FastOffMs: failed
)

// rank orders the looks for an LED shared by several lit signals.
func (h How) rank() int {
	switch h {
	case On:
		return 1
	case Blink:
		return 2
	case FastBlink:
		return 3
	}
	return 0
}

// Blink periods (milliseconds on, off): busy blinks at 1 Hz, fail at 4 Hz, so the two are told
// apart at a glance even on one LED.
const (
	BlinkOnMs  = 500
	BlinkOffMs = 500
	FastOnMs   = 125
	FastOffMs  = 125
)

// Look is how a lit signal shows.
func Look(s Signal) How {
	switch s {
	case Busy:
		return Blink
	case Fail:
		return FastBlink
	}
	return On
}

// DefaultNames is the mapping a policy without [leds] drives: the keyboard lock LEDs, found by
// pattern because the kernel numbers the keyboard's input device (input0, input3, ...).
//
//	num lock     ready (steady)
//	caps lock    busy (slow blink), pass (steady), fail (fast blink): the job's LED
//	scroll lock  attention (steady)
//
// Busy, pass and fail never show together, so caps lock alone tells working, passed and failed
// apart, and num lock and scroll lock keep "insert a device" and "answer the console" separate
// from the result.
var DefaultNames = map[Signal]string{
	Ready:     "input*::numlock",
	Busy:      "input*::capslock",
	Attention: "input*::scrolllock",
	Pass:      "input*::capslock",
	Fail:      "input*::capslock",
}

// Board drives LEDs under a sysfs class directory.
type Board struct {
	dir   string // .../sys/class/leds
	names map[Signal]string
	// Notify, when set, is called with every change of a signal (for the line view's "led"
	// lines).
	Notify func(s Signal, how How)
	last   map[Signal]How
}

// NewBoard returns a board over dir (normally /sys/class/leds) with the LED name of each signal.
// A name may be a pattern with '*' (DefaultNames): it names the first matching LED in sorted
// order. A name that does not exist under dir is an error: the policy names a LED the machine
// lacks.
func NewBoard(dir string, names map[Signal]string) (*Board, error) {
	b := &Board{dir: dir, names: map[Signal]string{}}
	for s, n := range names {
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, "/\x00[]?\\") || n == "." || n == ".." {
			return nil, fmt.Errorf("leds: %s: bad LED name %q", s, n)
		}
		if strings.Contains(n, "*") {
			m, err := filepath.Glob(filepath.Join(dir, n))
			if err != nil || len(m) == 0 {
				return nil, fmt.Errorf("leds: %s: no LED matches %q under %s", s, n, dir)
			}
			sort.Strings(m)
			n = filepath.Base(m[0])
		}
		if _, err := os.Stat(filepath.Join(dir, n, "brightness")); err != nil {
			return nil, fmt.Errorf("leds: %s: LED %q: %w", s, n, err)
		}
		b.names[s] = n
	}
	return b, nil
}

// Name is the LED that shows s ("" when s is not shown).
func (b *Board) Name(s Signal) string { return b.names[s] }

// Show lights exactly the given signals, each with its Look, and turns the others off. An LED
// shared by several lit signals shows the most urgent of their looks.
func (b *Board) Show(on ...Signal) error {
	want := map[Signal]bool{}
	for _, s := range on {
		want[s] = true
	}
	phys := map[string]How{}
	for _, s := range Signals {
		n, ok := b.names[s]
		if !ok {
			continue
		}
		how := phys[n]
		if how == "" {
			how = Off
		}
		if want[s] && Look(s).rank() > how.rank() {
			how = Look(s)
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
		b.last = map[Signal]How{}
	}
	for _, s := range Signals {
		if _, ok := b.names[s]; !ok {
			continue
		}
		how := Off
		if want[s] {
			how = Look(s)
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

// Off turns every LED of the board off (the station stopping).
func (b *Board) Off() error { return b.Show() }

// set puts one physical LED into how: "" (off), "on" or "blink".
func (b *Board) set(name string, how How) error {
	d := filepath.Join(b.dir, name)
	w := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(d, file), []byte(v), 0); err != nil {
			return fmt.Errorf("leds: %s/%s: %w", name, file, err)
		}
		return nil
	}
	switch how {
	case Blink, FastBlink:
		on, off := BlinkOnMs, BlinkOffMs
		if how == FastBlink {
			on, off = FastOnMs, FastOffMs
		}
		if err := w("trigger", "timer"); err != nil {
			return err
		}
		// The timer trigger creates delay_on/delay_off; a fake tree has them as files.
		if err := w("delay_on", fmt.Sprint(on)); err != nil {
			return err
		}
		return w("delay_off", fmt.Sprint(off))
	case On:
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

// State reads back what an LED shows: "blink" or "fast-blink" (timer trigger, told apart by
// delay_on), "on" or "off". Tests use it on a fake tree, where trigger is the plain word written
// (the kernel shows "[timer]" in a list).
func State(dir, name string) (string, error) {
	trig, err := os.ReadFile(filepath.Join(dir, name, "trigger"))
	if err != nil {
		return "", err
	}
	t := string(trig)
	if strings.Contains(t, "[timer]") || strings.TrimSpace(t) == "timer" {
		d, err := os.ReadFile(filepath.Join(dir, name, "delay_on"))
		if err == nil && strings.TrimSpace(string(d)) == fmt.Sprint(FastOnMs) {
			return string(FastBlink), nil
		}
		return string(Blink), nil
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
// name, as a stand-in for /sys/class/leds in host mode and tests. A pattern's '*' becomes "0"
// (input*::numlock makes input0::numlock), as the first keyboard of a PC.
func MakeFakeTree(dir string, names ...string) error {
	for _, n := range names {
		d := filepath.Join(dir, strings.ReplaceAll(n, "*", "0"))
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
