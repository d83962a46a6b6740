// Package console renders the station for operators: a line view for the serial console (and
// stdout in host mode), whose format is the contract documented in package appliance, and a
// full-screen view for the Linux VT built from plain VT100 escapes, which both the kernel console
// and any serial terminal understand (no terminfo, no library).
//
// The station sends Events to a View; a View never blocks the station for long and never reads
// input (input is read by the station, one line per answer).
package console

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Kind says what an Event reports.
type Kind int

// The kinds of events, one per line form of the line view.
const (
	KStation  Kind = iota // Text: station name; Modes
	KState                // State
	KPrompt               // ID, Text: question
	KDevice               // Action, Dev, Text: identity
	KUSB                  // Dev: vid:pid, Text: classes
	KProgress             // Phase (may be ""), Done, Total, Rate (bytes/s)
	KApproved             // Path, Text: sha256
	KRejected             // Path, Text: reason
	KVerdict              // Approved (bool), N approved, M rejected
	KOutput               // Action: kind (image, log, certificate, checkpoint), Path
	KInfo                 // Text
	KLED                  // Dev: name, Action: on|off|blink
	KPass                 // Text: summary
	KFail                 // Text: reason
	KJob                  // Text: job description (mode, device, operator); screen only
)

// Event is one thing the station reports.
type Event struct {
	Kind     Kind
	State    string
	ID       string
	Action   string
	Dev      string
	Path     string
	Text     string
	Phase    string
	Modes    []string
	Done     int64
	Total    int64
	Rate     float64
	Approved bool
	N, M     int
}

// View shows events.
type View interface {
	Show(Event)
}

// Multi shows every event on every view.
type Multi []View

// Show implements View.
func (m Multi) Show(e Event) {
	for _, v := range m {
		v.Show(e)
	}
}

// bell is BEL: the station rings it on attention and failure, before the line.
const bell = "\a"

// LineView writes the line view to a writer. It is safe for concurrent use.
type LineView struct {
	mu           sync.Mutex
	w            io.Writer
	now          func() time.Time
	lastProgress time.Time
	lastPhase    string
	// Bell rings the terminal bell on prompts and failures.
	Bell bool
}

// NewLineView returns a line view on w, ringing the bell if bell is set.
func NewLineView(w io.Writer, bell bool) *LineView {
	return &LineView{w: w, now: time.Now, Bell: bell}
}

// Show implements View.
func (v *LineView) Show(e Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Kind == KProgress {
		// Throttled to about one line a second, but the first and the last always show.
		// A new phase always shows too.
		if e.Done != 0 && e.Done != e.Total && e.Phase == v.lastPhase && v.now().Sub(v.lastProgress) < time.Second {
			return
		}
		v.lastProgress, v.lastPhase = v.now(), e.Phase
	}
	line := Line(e)
	if line == "" {
		return
	}
	if v.Bell && (e.Kind == KPrompt || e.Kind == KFail) {
		io.WriteString(v.w, bell)
	}
	io.WriteString(v.w, line+"\n")
}

// Line returns the line-view line of e without its newline, or "" if e has no line.
func Line(e Event) string {
	p := "airlock: "
	switch e.Kind {
	case KStation:
		return p + "station " + clean(e.Text) + " modes " + clean(strings.Join(e.Modes, ","))
	case KState:
		return p + "state " + clean(e.State)
	case KPrompt:
		return p + "prompt " + clean(e.ID) + ": " + clean(e.Text)
	case KDevice:
		return p + "device " + clean(e.Action) + " " + clean(e.Dev) + " " + clean(e.Text)
	case KUSB:
		return p + "usb unauthorized " + clean(e.Dev) + " " + clean(e.Text)
	case KProgress:
		if e.Phase != "" {
			return p + "progress " + clean(e.Phase) + ": " + ProgressText(e.Done, e.Total, e.Rate)
		}
		return p + "progress " + ProgressText(e.Done, e.Total, e.Rate)
	case KApproved:
		return p + "approved " + clean(e.Path) + " " + clean(e.Text)
	case KRejected:
		return p + "rejected " + clean(e.Path) + ": " + clean(e.Text)
	case KVerdict:
		v := "REJECTED"
		if e.Approved {
			v = "APPROVED"
		}
		return fmt.Sprintf("%sverdict %s %d approved %d rejected", p, v, e.N, e.M)
	case KOutput:
		return p + "output " + clean(e.Action) + " " + clean(e.Path)
	case KInfo:
		return p + "info " + clean(e.Text)
	case KLED:
		return p + "led " + clean(e.Dev) + " " + clean(e.Action)
	case KPass:
		return p + "PASS " + clean(e.Text)
	case KFail:
		return p + "FAIL " + clean(e.Text)
	}
	return ""
}

// clean makes hostile text (file names from a stick, device strings) safe for one line on a
// terminal: control characters (C0, DEL, C1), line and paragraph separators, bidirectional
// overrides and invalid UTF-8 become \xNN or \u{NNNN}, so no escape sequence or fake line
// reaches the operator's screen or an expect script.
func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e,
			r >= 0x2066 && r <= 0x2069, r == 0xfeff:
			fmt.Fprintf(&b, `\u{%04x}`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// ProgressText is "<pct>% <done>/<total> <rate>/s eta <duration>", the progress part of both
// views. An unknown total shows 0% and "eta ?".
func ProgressText(done, total int64, rate float64) string {
	pct := 0
	if total > 0 {
		pct = int(done * 100 / total)
	}
	eta := "?"
	if total > 0 && rate > 0 {
		eta = ETA(done, total, rate).String()
	}
	return fmt.Sprintf("%d%% %s/%s %s/s eta %s", pct, Bytes(done), Bytes(total), Bytes(int64(rate)), eta)
}

// ETA is the time left at rate bytes/s, rounded to the second.
func ETA(done, total int64, rate float64) time.Duration {
	if rate <= 0 || done >= total {
		return 0
	}
	return time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
}

// Bytes formats n in binary units with one decimal: 512B, 1.5KiB, 4.0GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// Bar is a progress bar of width cells: [#####.....].
func Bar(done, total int64, width int) string {
	if width < 3 {
		width = 3
	}
	inner := width - 2
	fill := 0
	if total > 0 {
		if done > total {
			done = total
		}
		fill = int(done * int64(inner) / total)
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat(".", inner-fill) + "]"
}
