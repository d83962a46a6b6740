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
	phase    string
	progress bool
	verdict  string
	rejected []string
	approved []string
	prompt   string
	// page is the page of the file list shown when it does not fit (Turn advances it).
	page    int
	result  string
	notices []string
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
			s.job, s.verdict, s.rejected, s.approved, s.page = "", "", nil, nil, 0
		}
		if e.State == "READING" || e.State == "CHECKING" || e.State == "WIPING" {
			s.result = ""
			s.verdict, s.rejected, s.approved, s.page = "", nil, nil, 0
		}
	case KPrompt:
		s.prompt = clean(e.Text)
		ring = true
	case KProgress:
		newPhase := e.Phase != s.phase
		s.done, s.total, s.rate, s.progress, s.phase = e.Done, e.Total, e.Rate, true, e.Phase
		if !newPhase && e.Done != 0 && e.Done != e.Total && s.now().Sub(s.lastDraw) < time.Second {
			return
		}
	case KApproved:
		sum := clean(e.Text)
		if len(sum) > 16 {
			sum = sum[:16] + "..." // the full hash is on the line view and in the log
		}
		s.approved = append(s.approved, clean(e.Path)+"  sha256 "+sum)
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
	lines, _ := s.layout()
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

// PageTurn is how often Turn shows the next page of a file list that does not fit.
const PageTurn = 4 * time.Second

// Turn shows the next page of the file list when it does not fit on the screen, every
// PageTurn until ctx ends (cmd/airlock runs it beside the station). A list that fits is left
// alone: nothing is redrawn.
func (s *Screen) Turn(done <-chan struct{}) {
	t := time.NewTicker(PageTurn)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		_, pages := s.layout()
		if pages > 1 {
			s.page = (s.page + 1) % pages
			io.WriteString(s.w, s.render())
		}
		s.mu.Unlock()
	}
}

// Lines returns the screen's text, one string per row, at most height rows of at most width
// runes, without escapes. Text wider than the screen is wrapped, never cut; a file list longer
// than the room left is shown a page at a time (Turn), with its position.
func (s *Screen) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, _ := s.layout()
	return out
}

// layout renders the rows and says how many pages the file list takes.
func (s *Screen) layout() ([]string, int) {
	var head, list, tail []string
	add := func(to *[]string, indent int, format string, args ...any) {
		*to = append(*to, Wrap(fmt.Sprintf(format, args...), s.width, indent)...)
	}
	rule := strings.Repeat("=", s.width)
	add(&head, 2, "AIRLOCK  station %s  modes %s", s.station, strings.Join(s.modes, ","))
	head = append(head, rule)
	state := s.state
	if state == "" {
		state = "BOOT"
	}
	add(&head, 7, "STATE  %s", state)
	if s.job != "" {
		add(&head, 7, "JOB    %s", s.job)
	}
	if s.progress {
		if s.phase != "" {
			add(&head, 7, "       %s", s.phase)
		}
		bw := s.width - 50
		if bw < 10 {
			bw = 10
		}
		add(&head, 7, "       %s %s", Bar(s.done, s.total, bw), ProgressText(s.done, s.total, s.rate))
	}
	if s.verdict != "" {
		head = append(head, "")
		add(&head, 8, "VERDICT %s", s.verdict)
	}
	// Every file is listed, rejected ones first, each wrapped; the reason is never cut.
	for _, r := range s.rejected {
		add(&list, 11, "  REJECTED %s", r)
	}
	for _, a := range s.approved {
		add(&list, 11, "  APPROVED %s", a)
	}
	if s.result != "" {
		tail = append(tail, "")
		add(&tail, 4, ">>> %s <<<", s.result)
	}
	if s.prompt != "" {
		tail = append(tail, "")
		add(&tail, 2, "? %s", s.prompt)
		tail = append(tail, "> ")
	}
	// Notices fill what is left, the newest kept.
	var notes []string
	for _, n := range s.notices {
		add(&notes, 4, "  %s", n)
	}
	room := s.height - len(head) - len(tail)
	pages := 1
	if len(list) > room {
		// The last rows say which page this is; the rest is the page.
		footer := func(from, to, p, n int) []string {
			return Wrap(fmt.Sprintf("  page %d/%d: rows %d-%d of %d, next in %v (all on the serial console)",
				p, n, from, to, len(list), PageTurn), s.width, 4)
		}
		big := len(list) * 10 // a page number as wide as any
		per := max(room-len(footer(big, big, big, big)), 1)
		pages = (len(list) + per - 1) / per
		p := s.page % pages
		end := min((p+1)*per, len(list))
		page := append([]string(nil), list[p*per:end]...)
		list = append(page, footer(p*per+1, end, p+1, pages)...)
		notes = nil
	} else if free := room - len(list) - 1; free > 0 && len(notes) > 0 {
		if len(notes) > free {
			notes = notes[len(notes)-free:]
		}
		notes = append([]string{""}, notes...)
	} else {
		notes = nil
	}
	out := append(append(append(head, list...), notes...), tail...)
	if len(out) > s.height {
		// Only on a screen too small for the prompt and the result: the end (the question)
		// is what must stay.
		out = out[len(out)-s.height:]
	}
	return out, pages
}

// Wrap breaks text into rows of at most width runes, at spaces where it can (a word longer
// than a row is broken inside), continuation rows indented by indent spaces. Nothing is cut.
func Wrap(text string, width, indent int) []string {
	if width < 8 {
		width = 8
	}
	if indent > width/2 {
		indent = width / 2
	}
	var rows []string
	r := []rune(text)
	first := true
	for {
		limit := width
		prefix := ""
		if !first {
			prefix = strings.Repeat(" ", indent)
			limit = width - indent
		}
		if len(r) <= limit {
			rows = append(rows, prefix+string(r))
			return rows
		}
		cut := -1
		for i := limit; i > 0; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		next := cut + 1
		if cut <= 0 || (first && cut <= indent) {
			cut, next = limit, limit // one long word: broken, not cut
		}
		rows = append(rows, prefix+strings.TrimRight(string(r[:cut]), " "))
		r = r[next:]
		for len(r) > 0 && r[0] == ' ' && cut != next {
			r = r[1:]
		}
		first = false
	}
}
