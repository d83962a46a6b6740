package console

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Screen is the full-screen view: it keeps the station's current picture and redraws the whole
// terminal on every change with VT100 escapes (home, clear), which the Linux VT and serial
// terminals understand. It is safe for concurrent use.
type Screen struct {
	mu       sync.Mutex
	w        io.Writer
	width    int
	height   int
	now      func() time.Time
	lastDraw time.Time

	station  string
	modes    []string
	job      string
	state    string
	done     int64
	total    int64
	rate     float64
	progress bool
	verdict  string
	rejected []string
	approved int
	prompt   string
	result   string
	notices  []string
}

// NewScreen returns a full-screen view of width x height cells on w.
func NewScreen(w io.Writer, width, height int) *Screen {
	if width < 40 {
		width = 80
	}
	if height < 10 {
		height = 25
	}
	return &Screen{w: w, width: width, height: height, now: time.Now}
}

// Show implements View.
func (s *Screen) Show(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := false
	switch e.Kind {
	case KStation:
		s.station, s.modes = clean(e.Text), e.Modes
	case KJob:
		s.job = clean(e.Text)
	case KState:
		s.state = e.State
		s.progress = false
		s.prompt = ""
		if e.State == "READY" {
			s.job, s.verdict, s.rejected, s.approved = "", "", nil, 0
		}
		if e.State == "READING" || e.State == "CHECKING" || e.State == "WIPING" {
			s.result = ""
			s.verdict, s.rejected, s.approved = "", nil, 0
		}
	case KPrompt:
		s.prompt = clean(e.Text)
		ring = true
	case KProgress:
		s.done, s.total, s.rate, s.progress = e.Done, e.Total, e.Rate, true
		if e.Done != 0 && e.Done != e.Total && s.now().Sub(s.lastDraw) < time.Second {
			return
		}
	case KApproved:
		s.approved++
	case KRejected:
		s.rejected = append(s.rejected, clean(e.Path)+": "+clean(e.Text))
	case KVerdict:
		s.verdict = strings.TrimPrefix(Line(e), "airlock: verdict ")
	case KPass:
		s.result = "PASS " + clean(e.Text)
	case KFail:
		s.result = "FAIL " + clean(e.Text)
		ring = true
	case KDevice, KUSB, KInfo, KOutput:
		s.notices = append(s.notices, strings.TrimPrefix(Line(e), "airlock: "))
		if len(s.notices) > 4 {
			s.notices = s.notices[len(s.notices)-4:]
		}
	default:
		return
	}
	s.lastDraw = s.now()
	frame := s.render()
	if ring {
		frame = bell + frame
	}
	io.WriteString(s.w, frame)
}

// render returns the escape sequence that redraws the whole screen.
func (s *Screen) render() string {
	lines := s.Lines()
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(l)
	}
	return b.String()
}

// Lines returns the screen's text, one string per row, at most height rows of at most width
// runes, without escapes.
func (s *Screen) Lines() []string {
	var out []string
	add := func(format string, args ...any) {
		out = append(out, fmt.Sprintf(format, args...))
	}
	rule := strings.Repeat("=", s.width)
	add("AIRLOCK  station %s  modes %s", s.station, strings.Join(s.modes, ","))
	add("%s", rule)
	state := s.state
	if state == "" {
		state = "BOOT"
	}
	add("STATE  %s", state)
	if s.job != "" {
		add("JOB    %s", s.job)
	}
	if s.progress {
		bw := s.width - 50
		if bw < 10 {
			bw = 10
		}
		add("       %s %s", Bar(s.done, s.total, bw), ProgressText(s.done, s.total, s.rate))
	}
	if s.verdict != "" {
		add("")
		add("VERDICT %s", s.verdict)
	}
	// Every rejected file is listed; if the screen is too small, the list is cut with a count,
	// and the full list is on the serial line view and in the audit log.
	room := s.height - len(out) - 8
	for i, r := range s.rejected {
		if i >= room && len(s.rejected) > room+1 {
			add("  ... and %d more rejected (full list on the serial console and in the log)", len(s.rejected)-i)
			break
		}
		add("  REJECTED %s", r)
	}
	if s.result != "" {
		add("")
		add(">>> %s <<<", s.result)
	}
	add("")
	for _, n := range s.notices {
		add("  %s", n)
	}
	if s.prompt != "" {
		add("")
		add("? %s", s.prompt)
		add("> ")
	}
	for i, l := range out {
		if r := []rune(l); len(r) > s.width {
			out[i] = string(r[:s.width-1]) + "~"
		}
	}
	if len(out) > s.height {
		out = out[:s.height]
	}
	return out
}
