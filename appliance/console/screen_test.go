package console

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the screen captures in testdata/")

// rejectionScreen is the full-screen view of a rejected import at 80x25, the README capture.
func rejectionScreen() *Screen {
	s := NewScreen(&bytes.Buffer{}, 80, 25)
	s.Show(Event{Kind: KStation, Text: "lowside-1", Modes: []string{"import", "sanitize", "check"}})
	s.Show(Event{Kind: KDevice, Action: "add", Dev: "/dev/sdb", Text: "bus=usb id=0781:5567 vendor=SanDisk model=Cruzer_Blade serial=4C530001230405117312 size=8004304896 fs=vfat"})
	s.Show(Event{Kind: KJob, Text: "import /dev/sdb operator alice session 20261203T171500Z-3fa9c1"})
	s.Show(Event{Kind: KState, State: "READING"})
	s.Show(Event{Kind: KProgress, Done: 67584, Total: 67584, Rate: 1 << 20})
	s.Show(Event{Kind: KState, State: "VERDICT"})
	s.Show(Event{Kind: KRejected, Path: "tools/setup.exe", Text: "tools/setup.exe: SHA-256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 size 1048576 is not on the allowlist"})
	s.Show(Event{Kind: KRejected, Path: "docs/report.zip", Text: "docs/report.zip!report/macro.docm: match: rule Office_Macro_AutoOpen (yara rules /etc/airlock/rules/office.yar)"})
	s.Show(Event{Kind: KApproved, Path: "quux-3.1.tar.xz", Text: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"})
	s.Show(Event{Kind: KVerdict, N: 1, M: 2})
	s.Show(Event{Kind: KState, State: "FAIL"})
	s.Show(Event{Kind: KFail, Text: "rejected: 2 of 3 file(s) not approved"})
	s.Show(Event{Kind: KPrompt, ID: "sanitize-after-import", Text: "sanitize /dev/sdb now? (yes/no)"})
	return s
}

// wipeScreen is the full-screen view of a wipe confirmation at 80x25, the README capture.
func wipeScreen() *Screen {
	s := NewScreen(&bytes.Buffer{}, 80, 25)
	s.Show(Event{Kind: KStation, Text: "lowside-1", Modes: []string{"import", "sanitize", "check"}})
	id := "bus=usb id=0781:5567 vendor=SanDisk model=Cruzer_Blade serial=4C530001230405117312 size=8004304896 fs=vfat"
	s.Show(Event{Kind: KDevice, Action: "add", Dev: "/dev/sdb", Text: id})
	s.Show(Event{Kind: KJob, Text: "sanitize /dev/sdb operator alice session 20261203T172000Z-08d2e4"})
	s.Show(Event{Kind: KState, State: "CONFIRM-WIPE"})
	s.Show(Event{Kind: KPrompt, ID: "confirm-wipe", Text: "ERASE /dev/sdb (" + id + ")? type the last 4 characters of its serial to confirm, or \"cancel\""})
	return s
}

func TestScreenCaptures(t *testing.T) {
	for name, s := range map[string]*Screen{"screen-rejection.txt": rejectionScreen(), "screen-wipe.txt": wipeScreen()} {
		lines := s.Lines()
		got := strings.Join(lines, "\n") + "\n"
		for _, l := range lines {
			if n := len([]rune(l)); n > 80 {
				t.Errorf("%s: row of %d runes: %q", name, n, l)
			}
		}
		if len(lines) > 25 {
			t.Errorf("%s: %d rows", name, len(lines))
		}
		// Nothing is cut: every word of every event is on the screen.
		flat := strings.Join(strings.Fields(got), " ")
		wants := map[string][]string{
			"screen-wipe.txt": {"type the last 4 characters of its serial to confirm, or \"cancel\"",
				"serial=4C530001230405117312 size=8004304896 fs=vfat)?"},
			"screen-rejection.txt": {"match: rule Office_Macro_AutoOpen (yara rules /etc/airlock/rules/office.yar)",
				"size 1048576 is not on the allowlist", "APPROVED quux-3.1.tar.xz sha256 5891b5b522d5df08...",
				">>> FAIL rejected: 2 of 3 file(s) not approved <<<", "? sanitize /dev/sdb now? (yes/no)"},
		}[name]
		for _, want := range wants {
			if !strings.Contains(flat, want) {
				t.Errorf("%s: %q cut:\n%s", name, want, got)
			}
		}
		path := filepath.Join("testdata", name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s changed (go test -run TestScreenCaptures -update ./appliance/console/, then README):\n%s", name, got)
		}
	}
	if !strings.Contains(strings.Join(wipeScreen().Lines(), "\n"), `to confirm, or "cancel"`) {
		t.Error("the wipe instruction is not whole")
	}
	if !strings.Contains(strings.Join(rejectionScreen().Lines(), "\n"), "APPROVED quux-3.1.tar.xz") {
		t.Error("approved files are not listed")
	}
}

// TestScreenPages: a list longer than the screen is shown a page at a time; the pages cover
// every file once, and each page says where it is.
func TestScreenPages(t *testing.T) {
	s := NewScreen(&bytes.Buffer{}, 80, 25)
	s.Show(Event{Kind: KStation, Text: "demo", Modes: []string{"import"}})
	s.Show(Event{Kind: KState, State: "VERDICT"})
	const n = 60
	for i := 0; i < n; i++ {
		s.Show(Event{Kind: KRejected, Path: "dir/file" + string(rune('A'+i%26)) + strings.Repeat("x", i), Text: "unknown file"})
	}
	s.Show(Event{Kind: KVerdict, N: 0, M: n})
	seen := map[string]bool{}
	_, pages := s.layout()
	if pages < 2 {
		t.Fatalf("%d rejected files on one page", n)
	}
	for p := 0; p < pages; p++ {
		s.page = p
		lines := s.Lines()
		if len(lines) > 25 {
			t.Fatalf("page %d: %d rows", p, len(lines))
		}
		if !strings.Contains(strings.Join(lines, "\n"), "page "+string(rune('1'+p))+"/") {
			t.Errorf("page %d does not say so:\n%s", p, strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "  REJECTED ") {
				seen[l] = true
			}
		}
	}
	if len(seen) < n {
		t.Errorf("the pages show %d of %d files", len(seen), n)
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		in    string
		width int
		want  []string
	}{
		{"short", 20, []string{"short"}},
		{"one two three four five", 10, []string{"one two", "  three", "  four", "  five"}},
		{"abcdefghijklmnopqrstuvwxyz", 10, []string{"abcdefghij", "  klmnopqr", "  stuvwxyz"}},
	} {
		got := Wrap(c.in, c.width, 2)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Wrap(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
}
