package console

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLineContract(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: KStation, Text: "s1", Modes: []string{"import", "check"}}, "airlock: station s1 modes import,check"},
		{Event{Kind: KState, State: "READY"}, "airlock: state READY"},
		{Event{Kind: KPrompt, ID: "operator", Text: "operator ID?"}, "airlock: prompt operator: operator ID?"},
		{Event{Kind: KDevice, Action: "add", Dev: "/dev/sdb", Text: "usb 0781:5567 SanDisk"}, "airlock: device add /dev/sdb usb 0781:5567 SanDisk"},
		{Event{Kind: KUSB, Dev: "046d:c52b", Text: "03,08"}, "airlock: usb unauthorized 046d:c52b 03,08"},
		{Event{Kind: KRejected, Path: "eicar.com", Text: "match: EICAR"}, "airlock: rejected eicar.com: match: EICAR"},
		{Event{Kind: KRejected, Path: "a\nairlock: PASS", Text: "x\x1b[2J"}, `airlock: rejected a\x0aairlock: PASS: x\x1b[2J`},
		{Event{Kind: KVerdict, Approved: false, N: 2, M: 1}, "airlock: verdict REJECTED 2 approved 1 rejected"},
		{Event{Kind: KOutput, Action: "image", Path: "/tmp/x.iso"}, "airlock: output image /tmp/x.iso"},
		{Event{Kind: KPass, Text: "burned 3 files"}, "airlock: PASS burned 3 files"},
		{Event{Kind: KFail, Text: "device removed"}, "airlock: FAIL device removed"},
		{Event{Kind: KLED, Dev: "busy", Action: "blink"}, "airlock: led busy blink"},
		{Event{Kind: KProgress, Done: 512 << 20, Total: 1 << 30, Rate: 64 << 20}, "airlock: progress 50% 512.0MiB/1.0GiB 64.0MiB/s eta 8s"},
		{Event{Kind: KJob, Text: "x"}, ""},
	} {
		if got := Line(tc.e); got != tc.want {
			t.Errorf("Line(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestLineViewBellAndThrottle(t *testing.T) {
	var b bytes.Buffer
	v := NewLineView(&b, true)
	now := time.Unix(0, 0)
	v.now = func() time.Time { return now }
	v.Show(Event{Kind: KState, State: "READING"})
	v.Show(Event{Kind: KProgress, Done: 0, Total: 100})
	v.Show(Event{Kind: KProgress, Done: 10, Total: 100}) // dropped: same second
	now = now.Add(2 * time.Second)
	v.Show(Event{Kind: KProgress, Done: 20, Total: 100})
	v.Show(Event{Kind: KProgress, Done: 30, Total: 100}) // dropped
	v.Show(Event{Kind: KProgress, Done: 100, Total: 100})
	v.Show(Event{Kind: KPrompt, ID: "operator", Text: "ID?"})
	v.Show(Event{Kind: KFail, Text: "no"})
	want := "airlock: state READING\n" +
		"airlock: progress 0% 0B/100B 0B/s eta ?\n" +
		"airlock: progress 20% 20B/100B 0B/s eta ?\n" +
		"airlock: progress 100% 100B/100B 0B/s eta ?\n" +
		"\aairlock: prompt operator: ID?\n" +
		"\aairlock: FAIL no\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestFormatting(t *testing.T) {
	if got := Bar(5, 10, 12); got != "[#####.....]" {
		t.Errorf("Bar = %q", got)
	}
	if got := Bar(50, 10, 6); got != "[####]" {
		t.Errorf("Bar overflow = %q", got)
	}
	if got := Bar(1, 0, 6); got != "[....]" {
		t.Errorf("Bar unknown total = %q", got)
	}
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 1536: "1.5KiB", 5 << 30: "5.0GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := ETA(0, 100, 10); got != 10*time.Second {
		t.Errorf("ETA = %v", got)
	}
}

func TestScreen(t *testing.T) {
	var b bytes.Buffer
	s := NewScreen(&b, 80, 24)
	s.Show(Event{Kind: KStation, Text: "demo", Modes: []string{"import"}})
	s.Show(Event{Kind: KState, State: "READING"})
	s.Show(Event{Kind: KJob, Text: "import /dev/loop0 operator alice"})
	s.Show(Event{Kind: KProgress, Done: 50, Total: 100, Rate: 10})
	for i := 0; i < 30; i++ {
		s.Show(Event{Kind: KRejected, Path: "evil" + strings.Repeat("x", i%3) + ".bin", Text: "unknown file"})
	}
	s.Show(Event{Kind: KVerdict, N: 1, M: 30})
	s.Show(Event{Kind: KFail, Text: "30 files rejected"})
	s.Show(Event{Kind: KPrompt, ID: "sanitize-after-import", Text: "sanitize the stick? (yes/no)"})
	out := b.String()
	if !strings.HasPrefix(out, "\x1b[H\x1b[2J") {
		t.Error("no clear-screen escape")
	}
	if !strings.Contains(out, "\a") {
		t.Error("no bell on failure/prompt")
	}
	lines := s.Lines()
	if len(lines) > 24 {
		t.Errorf("%d rows on a 24-row screen", len(lines))
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"station demo", "STATE  READING", "JOB    import /dev/loop0 operator alice",
		"[", "50%", "VERDICT REJECTED 1 approved 30 rejected", "REJECTED evil.bin: unknown file",
		"page 1/", ">>> FAIL 30 files rejected <<<", "? sanitize the stick? (yes/no)"} {
		if !strings.Contains(text, want) {
			t.Errorf("screen lacks %q:\n%s", want, text)
		}
	}
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("row wider than 80: %q", l)
		}
	}
	s.Show(Event{Kind: KState, State: "READY"})
	if strings.Contains(strings.Join(s.Lines(), "\n"), "REJECTED evil") {
		t.Error("READY keeps the previous verdict")
	}
}

// FuzzLine: whatever hostile text a stick puts in a file name or a device string, a line-view
// line stays one line, starts with the prefix and carries no control character (no escape
// sequence reaches the operator's terminal).
func FuzzLine(f *testing.F) {
	f.Add("eicar.com", "match: EICAR")
	f.Add("a\nairlock: PASS fake", "\x1b[2J\x1b]0;x\a")
	f.Add("\xff\xfe\u0085\u2028", "\r")
	f.Fuzz(func(t *testing.T, path, text string) {
		for _, k := range []Kind{KRejected, KApproved, KDevice, KInfo, KFail, KPass, KPrompt, KOutput, KUSB} {
			l := Line(Event{Kind: k, Path: path, Text: text, Dev: path, ID: "x"})
			if !strings.HasPrefix(l, "airlock: ") {
				t.Fatalf("no prefix: %q", l)
			}
			for _, r := range l {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Fatalf("control character %U in %q", r, l)
				}
			}
		}
	})
}
