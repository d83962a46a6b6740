package leds

import (
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
	b.Notify = func(s Signal, how string) { notes = append(notes, string(s)+"="+how) }
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
	b.Show(Fail)
	check(map[string]string{"num": "off", "caps": "off", "scroll": "on"})
	b.Show(Pass)
	check(map[string]string{"num": "on", "caps": "off", "scroll": "off"})
	if got := strings.Join(notes[len(notes)-2:], " "); got != "pass=on fail=off" {
		t.Errorf("notify: %s", got)
	}
}

func TestNewBoardRefuses(t *testing.T) {
	dir := t.TempDir()
	MakeFakeTree(dir, "a")
	if _, err := NewBoard(dir, map[Signal]string{Ready: "missing"}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing LED accepted: %v", err)
	}
	if _, err := NewBoard(dir, map[Signal]string{Ready: "../a"}); err == nil {
		t.Error("path accepted as LED name")
	}
	if _, err := NewBoard(dir, map[Signal]string{Ready: "a", Busy: ""}); err != nil {
		t.Errorf("empty name (signal not shown) refused: %v", err)
	}
}
