package leds

import (
	"fmt"
	"strings"
	"testing"
)

func TestBoard(t *testing.T) {
	dir := t.TempDir()
	if err := MakeFakeTree(dir, "num", "caps", "scroll"); err != nil {
		t.Fatal(err)
	}
	b, err := NewBoard(dir, map[Signal]string{Ready: "num", Busy: "caps", Attention: "scroll", Pass: "num", Fail: "scroll"})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	b.Notify = func(s Signal, how How) { notes = append(notes, string(s)+"="+string(how)) }
	check := func(want map[string]string) {
		t.Helper()
		for n, w := range want {
			got, err := State(dir, n)
			if err != nil || got != w {
				t.Errorf("LED %s = %q (%v), want %q", n, got, err, w)
			}
		}
	}
	if err := b.Show(Ready); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"num": "on", "caps": "off", "scroll": "off"})
	b.Show(Busy)
	check(map[string]string{"num": "off", "caps": "blink", "scroll": "off"})
	b.Show(Busy, Attention)
	check(map[string]string{"num": "off", "caps": "blink", "scroll": "on"})
	// Fail shares scroll lock with attention: the more urgent look (fast blink) wins.
	b.Show(Fail, Attention)
	check(map[string]string{"num": "off", "caps": "off", "scroll": "fast-blink"})
	b.Show(Pass)
	check(map[string]string{"num": "on", "caps": "off", "scroll": "off"})
	if got := strings.Join(notes[len(notes)-3:], " "); got != "attention=off pass=on fail=off" {
		t.Errorf("notify: %s", got)
	}
	if err := b.Off(); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"num": "off", "caps": "off", "scroll": "off"})
}

// TestDefaultPatterns: with the default mapping on three keyboard LEDs, every combination of
// signals the station shows looks different, and the stopped station is all off.
func TestDefaultPatterns(t *testing.T) {
	dir := t.TempDir()
	// A keyboard that is not input0, and a second one: the pattern takes the first in order.
	if err := MakeFakeTree(dir, "input3::numlock", "input3::capslock", "input3::scrolllock", "input7::numlock"); err != nil {
		t.Fatal(err)
	}
	b, err := NewBoard(dir, DefaultNames)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name(Ready) != "input3::numlock" || b.Name(Fail) != "input3::capslock" {
		t.Fatalf("default names resolved to %q, %q", b.Name(Ready), b.Name(Fail))
	}
	looks := map[string]string{}
	for _, c := range [][]Signal{
		nil,                // stopped
		{Ready},            // idle
		{Ready, Pass},      // idle, the last job passed
		{Ready, Fail},      // idle, the last job failed
		{Ready, Attention}, // a device came: operator ID asked
		{Busy},             // working
		{Busy, Attention},  // working, a question (verdict, disc, confirmation)
		{Pass},             // PASS
		{Fail},             // FAIL
		{Pass, Attention},  // PASS, sanitize-after-import asked
		{Fail, Attention},  // FAIL, sanitize-after-import asked
	} {
		if err := b.Show(c...); err != nil {
			t.Fatal(err)
		}
		var look []string
		for _, n := range []string{"input3::numlock", "input3::capslock", "input3::scrolllock"} {
			st, err := State(dir, n)
			if err != nil {
				t.Fatal(err)
			}
			look = append(look, st)
		}
		key := strings.Join(look, " ")
		if prev, ok := looks[key]; ok {
			t.Errorf("%v and %s both show %s", c, prev, key)
		}
		looks[key] = fmt.Sprint(c)
	}
	if _, ok := looks["off off off"]; !ok || looks["off off off"] != "[]" {
		t.Errorf("stopped is not all off: %v", looks)
	}
}

func TestNewBoardRefuses(t *testing.T) {
	dir := t.TempDir()
	MakeFakeTree(dir, "a")
	if _, err := NewBoard(dir, map[Signal]string{Ready: "missing"}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing LED accepted: %v", err)
	}
	if _, err := NewBoard(dir, map[Signal]string{Ready: "input*::numlock"}); err == nil || !strings.Contains(err.Error(), "no LED matches") {
		t.Errorf("unmatched pattern accepted: %v", err)
	}
	if _, err := NewBoard(dir, map[Signal]string{Ready: "../a"}); err == nil {
		t.Error("path accepted as LED name")
	}
	if _, err := NewBoard(dir, map[Signal]string{Ready: "a", Busy: ""}); err != nil {
		t.Errorf("empty name (signal not shown) refused: %v", err)
	}
}
