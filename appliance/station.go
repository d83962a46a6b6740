package appliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/leds"
	"github.com/airlock-appliance/airlock/appliance/policy"
)

// State is the station's explicit state, printed as `airlock: state <STATE>`.
type State string

// The states of the station (the line-view contract lists them).
const (
	Boot        State = "BOOT"
	Ready       State = "READY"
	Reading     State = "READING"
	Verdict     State = "VERDICT"
	Sealing     State = "SEALING"
	InsertDisc  State = "INSERT-DISC"
	Burning     State = "BURNING"
	Readback    State = "READBACK"
	Pass        State = "PASS"
	Fail        State = "FAIL"
	ConfirmWipe State = "CONFIRM-WIPE"
	Wiping      State = "WIPING"
	Formatting  State = "FORMATTING"
	Checking    State = "CHECKING"
)

// transitions is the state machine: every state a state may go to. FAIL is reachable from every
// working state (fail closed); anything else is a bug the station refuses.
var transitions = map[State][]State{
	Boot:        {Ready},
	Ready:       {Reading, ConfirmWipe, Checking, Fail},
	Reading:     {Verdict, Fail},
	Verdict:     {Sealing, Fail},
	Sealing:     {InsertDisc, Fail},
	InsertDisc:  {Burning, Fail},
	Burning:     {Readback, Fail},
	Readback:    {Pass, Fail},
	Pass:        {Ready, ConfirmWipe},
	Fail:        {Ready, ConfirmWipe},
	ConfirmWipe: {Wiping, Fail},
	Wiping:      {Formatting, Fail},
	Formatting:  {Pass, Fail},
	Checking:    {Pass, Fail},
}

// CanGo reports whether the state machine allows from -> to.
func CanGo(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// LEDs is what the station needs of the LED board.
type LEDs interface {
	Show(on ...leds.Signal) error
}

// signals is what the LEDs show in each state (besides attention while a prompt waits).
func signals(s State, last State) []leds.Signal {
	switch s {
	case Boot:
		return nil
	case Ready:
		// The last result stays lit beside ready until the next device comes.
		switch last {
		case Pass:
			return []leds.Signal{leds.Ready, leds.Pass}
		case Fail:
			return []leds.Signal{leds.Ready, leds.Fail}
		}
		return []leds.Signal{leds.Ready}
	case Pass:
		return []leds.Signal{leds.Pass}
	case Fail:
		return []leds.Signal{leds.Fail}
	case Verdict, InsertDisc, ConfirmWipe:
		return []leds.Signal{leds.Busy, leds.Attention}
	}
	return []leds.Signal{leds.Busy}
}

// Station is the operator station: one event loop over device events, operator input and job
// progress. Create it with New and run it with Run.
type Station struct {
	pol   *policy.Policy
	parts Parts
	view  console.View
	leds  LEDs
	now   func() time.Time

	msgs chan any // from jobs to the loop

	// jobBase is the parent of every job's context: not canceled by Run's context, so that a
	// stopping station cancels a running job with its own cause (ErrStopping), which the job's
	// FAIL line and audit record then name.
	jobBase context.Context

	// Owned by the loop goroutine.
	stopping bool
	state    State
	last     State // result of the last job
	job      *job
	queue    []Identity
	present  map[string]Identity
	prompt   *promptMsg
}

// Config is what New needs besides the parts.
type Config struct {
	Policy *policy.Policy
	View   console.View
	LEDs   LEDs // may be nil
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// New returns a station.
func New(c Config, p Parts) *Station {
	s := &Station{pol: c.Policy, parts: p, view: c.View, leds: c.LEDs, now: c.Now,
		msgs: make(chan any), state: Boot, present: map[string]Identity{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.view == nil {
		s.view = console.Multi(nil)
	}
	return s
}

type stateMsg struct {
	j     *job
	to    State
	reply chan error
}

type promptMsg struct {
	j        *job
	id, text string
	reply    chan string
}

type doneMsg struct {
	j       *job
	summary string
	err     error
}

// ErrStopping is the cause of a job canceled because the station is stopping (an interrupt or
// SIGTERM: Run's context ended).
var ErrStopping = errors.New("the station is stopping")

// ErrStopped is what Run returns when its context ended (an interrupt): the station stopped
// before its input ended, so the caller exits non-zero.
var ErrStopped = errors.New("station stopped by an interrupt")

// Run runs the station until ctx ends or input closes (host mode: stdin at EOF). input carries
// operator answers, one line each. When ctx ends, a running job is canceled (its FAIL line and
// audit record name ErrStopping), the LEDs go off and Run returns ErrStopped; at the end of
// input it returns nil. The LEDs are off whenever Run returns.
func (s *Station) Run(ctx context.Context, input <-chan string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	s.jobBase = base
	defer s.ledsOff()
	s.view.Show(console.Event{Kind: console.KStation, Text: s.pol.Station, Modes: s.pol.Modes})
	s.setState(Boot)
	devs := make(chan DeviceEvent, 16)
	watchErr := make(chan error, 1)
	if s.parts.Devices != nil {
		go func() { watchErr <- s.parts.Devices.Watch(ctx, devs) }()
	} else {
		s.info("no device watcher wired: no device will be seen")
	}
	for _, m := range s.pol.Modes {
		if err := s.modeWired(m); err != nil {
			s.info(fmt.Sprintf("mode %s unavailable: %v", m, err))
		}
	}
	s.setState(Ready)
	for {
		select {
		case <-ctx.Done():
			return s.stop()
		case err := <-watchErr:
			if ctx.Err() != nil {
				return s.stop()
			}
			s.stopJob(err)
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("device watcher: %w", err)
		case ev := <-devs:
			s.onDevice(ctx, ev)
		case line, ok := <-input:
			if !ok {
				s.stopJob(errors.New("input closed"))
				return nil
			}
			s.onInput(line)
		case m := <-s.msgs:
			s.onMsg(ctx, m)
		}
	}
}

// stop ends the station on an interrupt: says so, fails the running job (ErrStopping: its FAIL
// line and audit record), turns the LEDs off.
func (s *Station) stop() error {
	if s.job != nil {
		s.info("station stopping: interrupted; canceling the " + s.job.dev.Dev + " job")
	} else {
		s.info("station stopping: interrupted")
	}
	s.stopJob(ErrStopping)
	s.ledsOff()
	s.info("station stopped; LEDs off")
	return ErrStopped
}

// stopJob cancels a running job and waits for it to finish, serving its messages; no queued
// device starts after it, and the LEDs no longer change.
func (s *Station) stopJob(cause error) {
	s.stopping = true
	if s.job == nil {
		return
	}
	s.job.cancel(cause)
	for s.job != nil {
		m := <-s.msgs
		s.onMsg(context.Background(), m)
	}
}

func (s *Station) info(text string) {
	s.view.Show(console.Event{Kind: console.KInfo, Text: text})
}

func (s *Station) setState(to State) {
	s.state = to
	// LEDs first: whoever sees the line sees the LEDs already set.
	s.showLEDs()
	s.view.Show(console.Event{Kind: console.KState, State: string(to)})
}

// ledsOff turns every LED off: the station is not running.
func (s *Station) ledsOff() {
	if s.leds == nil {
		return
	}
	if err := s.leds.Show(); err != nil {
		s.info("LEDs: " + err.Error())
	}
}

func (s *Station) showLEDs() {
	if s.leds == nil || s.stopping {
		return
	}
	sig := signals(s.state, s.last)
	if s.prompt != nil {
		sig = append(sig, leds.Attention)
	}
	if err := s.leds.Show(sig...); err != nil {
		s.info("LEDs: " + err.Error())
	}
}

func (s *Station) onDevice(ctx context.Context, ev DeviceEvent) {
	id := ev.ID
	switch ev.Kind {
	case USBUnauthorized:
		s.view.Show(console.Event{Kind: console.KUSB, Dev: id.VIDPID, Text: ev.Classes})
		s.audit(ctx, Record{Type: "usb-unauthorized", Fields: map[string]any{"vidpid": id.VIDPID, "classes": ev.Classes}})
		return
	case DeviceRemoved:
		if known, ok := s.present[id.Dev]; ok {
			id = known // show what went away
		}
		s.removed(id, fmt.Errorf("%s: %w", id.Dev, ErrDeviceRemoved))
		return
	}
	// Added, or a medium changed (a disc went in or out). An empty drive is only a notice.
	if (ev.Kind == MediaChanged || id.Optical) && id.Size == 0 {
		delete(s.present, id.Dev)
		action := "change"
		if ev.Kind == DeviceAdded {
			action = "add"
		}
		s.view.Show(console.Event{Kind: console.KDevice, Action: action, Dev: id.Dev, Text: id.String() + " (no medium)"})
		return
	}
	// A stick swapped on the same node without a remove event (a hub or reader that reuses the
	// node, a missed event) is a removal of the old stick and an insertion of the new one.
	if prev, ok := s.present[id.Dev]; ok && !id.Optical && !prev.Optical {
		if why := swapped(prev, id); why != "" {
			s.info(fmt.Sprintf("another stick at %s (%s) without a remove event: taken as remove + insert", id.Dev, why))
			s.removed(prev, fmt.Errorf("%s: replaced by another stick (%s): %w", id.Dev, why, ErrDeviceRemoved))
			ev.Kind = DeviceAdded
		}
	}
	if s.parts.Devices != nil {
		if err := s.parts.Devices.Guard(id); err != nil {
			s.view.Show(console.Event{Kind: console.KDevice, Action: "ignored", Dev: id.Dev, Text: err.Error()})
			return
		}
	}
	if _, seen := s.present[id.Dev]; seen && ev.Kind == DeviceAdded {
		return // a repeated add (coldplug + event) of a device already handled
	}
	_, wasPresent := s.present[id.Dev]
	s.present[id.Dev] = id
	action := "add"
	if ev.Kind == MediaChanged {
		action = "change"
	}
	s.view.Show(console.Event{Kind: console.KDevice, Action: action, Dev: id.Dev, Text: id.String()})
	if s.job != nil {
		if s.job.dev.Dev == id.Dev && !s.job.removed.Load() || (id.Optical && id.Dev == s.pol.Burn.Drive) {
			// The job's own device (a stick the job reformats, the same identity and size), or
			// the disc the import is waiting for or burning.
			return
		}
		if ev.Kind == MediaChanged && wasPresent && !id.Optical {
			return // a stick that changed (resized, repartitioned): a notice, not a new session
		}
		if len(s.queue) >= 8 {
			s.view.Show(console.Event{Kind: console.KDevice, Action: "refused", Dev: id.Dev, Text: "busy and the queue is full; insert it again later"})
			return
		}
		s.queue = append(s.queue, id)
		s.view.Show(console.Event{Kind: console.KDevice, Action: "queued", Dev: id.Dev, Text: "busy: it will be taken when the current job ends"})
		return
	}
	if ev.Kind == MediaChanged && wasPresent && !id.Optical {
		return // a stick that changed (resized, repartitioned): a notice, not a new session
	}
	s.startJob(ctx, id)
}

// removed is a device gone: shown, dropped from the queue, and the end of a job that uses it
// (cause is the job's reason).
func (s *Station) removed(id Identity, cause error) {
	delete(s.present, id.Dev)
	s.view.Show(console.Event{Kind: console.KDevice, Action: "remove", Dev: id.Dev, Text: id.String()})
	for i, q := range s.queue {
		if q.Dev == id.Dev {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	if s.job != nil && s.job.dev.Dev == id.Dev {
		s.job.removed.Store(true)
		if s.job.usesDevice.Load() {
			s.job.cancel(cause)
		}
	}
}

// swapped says how now differs from the stick that was at the same node ("" when it is the
// same stick): another identity or another size is another stick. The filesystem is not
// compared: a wipe and reformat change it on the same stick.
func swapped(was, now Identity) string {
	var d []string
	diff := func(k, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %q, was %q", k, b, a))
		}
	}
	diff("serial", was.Serial, now.Serial)
	diff("id", was.VIDPID, now.VIDPID)
	diff("vendor", was.Vendor, now.Vendor)
	diff("model", was.Model, now.Model)
	if was.Size != now.Size {
		d = append(d, fmt.Sprintf("size %d, was %d", now.Size, was.Size))
	}
	return strings.Join(d, ", ")
}

func (s *Station) onInput(line string) {
	line = strings.TrimSpace(line)
	if s.prompt == nil {
		s.info("ignored input (no question pending)")
		return
	}
	p := s.prompt
	s.prompt = nil
	p.reply <- line
	s.showLEDs()
}

func (s *Station) onMsg(ctx context.Context, m any) {
	switch m := m.(type) {
	case stateMsg:
		if m.j != s.job {
			m.reply <- errors.New("stale job")
			return
		}
		if !CanGo(s.state, m.to) {
			m.reply <- fmt.Errorf("internal error: state %s cannot go to %s", s.state, m.to)
			return
		}
		s.setState(m.to)
		m.reply <- nil
	case promptMsg:
		if m.j != s.job {
			close(m.reply)
			return
		}
		s.prompt = &m
		s.showLEDs()
		s.view.Show(console.Event{Kind: console.KPrompt, ID: m.id, Text: m.text})
	case cancelPrompt:
		if s.prompt != nil && s.prompt.j == m.j {
			s.prompt = nil
			s.showLEDs()
		}
		close(m.done)
	case doneMsg:
		s.endJob(ctx, m)
	}
}

type cancelPrompt struct {
	j    *job
	done chan struct{}
}

func (s *Station) endJob(ctx context.Context, m doneMsg) {
	j := m.j
	if m.err != nil {
		if s.state != Fail {
			s.setState(Fail) // every state may fail
		}
		var rep reported
		if !errors.As(m.err, &rep) {
			s.view.Show(console.Event{Kind: console.KFail, Text: failText(m.err)})
		}
		s.last = Fail
	} else {
		if s.state != Pass {
			s.setState(Pass)
		}
		if m.summary != "" { // "" when the job already showed its PASS line
			s.view.Show(console.Event{Kind: console.KPass, Text: m.summary})
		}
		s.last = Pass
	}
	j.cancel(nil)
	s.job = nil
	s.prompt = nil
	if s.stopping {
		return // no READY and no queued device: the station is stopping
	}
	s.setState(Ready)
	for len(s.queue) > 0 {
		next := s.queue[0]
		s.queue = s.queue[1:]
		if _, ok := s.present[next.Dev]; ok {
			s.startJob(ctx, next)
			return
		}
	}
}

// failText is the one-line reason of a failure.
func failText(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// audit appends a record outside of a job (device notices); a failure is shown, not fatal.
func (s *Station) audit(ctx context.Context, r Record) {
	if s.parts.Log == nil {
		return
	}
	s.stamp(&r, "", "")
	if _, err := s.parts.Log.Append(ctx, r); err != nil {
		s.info("audit log append failed: " + err.Error())
	}
}

func (s *Station) stamp(r *Record, session, operator string) {
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	r.Fields["station"] = s.pol.Station
	r.Fields["time"] = s.now().UTC().Format(time.RFC3339)
	if session != "" {
		r.Fields["session"] = session
	}
	if operator != "" {
		r.Fields["operator"] = operator
	}
}

// modeWired says whether the parts a mode needs are there.
func (s *Station) modeWired(mode string) error {
	var missing []string
	need := func(name string, ok bool) {
		if !ok {
			missing = append(missing, name)
		}
	}
	need("devices", s.parts.Devices != nil)
	switch mode {
	case policy.ModeImport:
		need("importer", s.parts.Importer != nil)
		need("sealer", s.parts.Sealer != nil)
		need("audit log", s.parts.Log != nil)
		need("burner", s.parts.Burner != nil)
	case policy.ModeSanitize:
		need("wiper", s.parts.Wiper != nil)
		need("audit log", s.parts.Log != nil)
	case policy.ModeCheck:
		need("disc checker", s.parts.Checker != nil)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrNotWired, strings.Join(missing, ", "))
	}
	return nil
}

func newSession(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// job is one session on one device, run in its own goroutine; it talks to the loop through
// messages so that the loop alone owns the state, the prompt and the LEDs.
type job struct {
	s          *Station
	ctx        context.Context
	cancel     context.CancelCauseFunc
	dev        Identity
	session    string
	operator   string
	mode       string
	start      time.Time
	usesDevice atomic.Bool // a removal of dev cancels the job
	removed    atomic.Bool // dev was removed
}

func (s *Station) startJob(ctx context.Context, id Identity) {
	if s.jobBase != nil {
		ctx = s.jobBase
	}
	jctx, cancel := context.WithCancelCause(ctx)
	now := s.now()
	j := &job{s: s, ctx: jctx, cancel: cancel, dev: id, session: newSession(now), start: now}
	j.usesDevice.Store(true)
	s.job = j
	s.last = ""
	s.showLEDs()
	go func() {
		summary, err := j.run()
		var rep reported
		if err != nil && !errors.As(err, &rep) {
			if cause := context.Cause(jctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(err, cause) {
				err = fmt.Errorf("%w (%v)", cause, err)
			}
			j.record("fail", map[string]any{"reason": failText(err), "device": id.Dev})
		}
		s.msgs <- doneMsg{j: j, summary: summary, err: err}
	}()
}

// setState asks the loop to move to st.
func (j *job) setState(st State) error {
	reply := make(chan error, 1)
	j.s.msgs <- stateMsg{j: j, to: st, reply: reply}
	return <-reply
}

// ask shows a prompt and waits for the answer (or the end of the job).
func (j *job) ask(id, text string) (string, error) {
	reply := make(chan string, 1)
	select {
	case j.s.msgs <- promptMsg{j: j, id: id, text: text, reply: reply}:
	case <-j.ctx.Done():
		return "", context.Cause(j.ctx)
	}
	select {
	case a, ok := <-reply:
		if !ok {
			return "", errors.New("prompt refused")
		}
		return a, nil
	case <-j.ctx.Done():
		done := make(chan struct{})
		j.s.msgs <- cancelPrompt{j: j, done: done}
		<-done
		return "", context.Cause(j.ctx)
	}
}

func (j *job) show(e console.Event) { j.s.view.Show(e) }

func (j *job) info(text string) { j.show(console.Event{Kind: console.KInfo, Text: text}) }

// progress returns a Progress that shows the rate since it was made.
func (j *job) progress() Progress {
	start := time.Now()
	return func(done, total int64) {
		rate := 0.0
		if d := time.Since(start).Seconds(); d > 0 {
			rate = float64(done) / d
		}
		j.show(console.Event{Kind: console.KProgress, Done: done, Total: total, Rate: rate})
	}
}

// phaseProgress is progress with a phase name; the rate starts again in each phase.
func (j *job) phaseProgress() PhaseProgress {
	start, cur := time.Now(), ""
	return func(phase string, done, total int64) {
		if phase != cur {
			start, cur = time.Now(), phase
		}
		rate := 0.0
		if d := time.Since(start).Seconds(); d > 0 {
			rate = float64(done) / d
		}
		j.show(console.Event{Kind: console.KProgress, Phase: phase, Done: done, Total: total, Rate: rate})
	}
}

// maxFilesPerRecord bounds the encoded file entries of one audit record, well under the log's
// record size (auditlog.MaxRecordSize), so that a stick of many long names is logged in parts
// instead of failing the append and losing the verdict.
const maxFilesPerRecord = 256 << 10

// recordFiles appends a record of type typ with fields and the first part of files, then one
// record of type typ+"-files" for each further part, each carrying "part" (from 1) and "parts";
// it returns the index of the first. Small sticks get one record.
func (j *job) recordFiles(typ string, fields map[string]any, files []map[string]any) (int64, error) {
	var parts [][]map[string]any
	size := 0
	for _, f := range files {
		b, err := json.Marshal(f)
		if err != nil {
			return -1, fmt.Errorf("audit record (%s): %w", typ, err)
		}
		if len(parts) == 0 || (size+len(b) > maxFilesPerRecord && len(parts[len(parts)-1]) > 0) {
			parts = append(parts, nil)
			size = 0
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], f)
		size += len(b) + 1
	}
	if len(parts) == 0 {
		parts = append(parts, []map[string]any{})
	}
	first := int64(-1)
	for i, part := range parts {
		rec := map[string]any{"part": i + 1, "parts": len(parts), "files": part}
		t := typ + "-files"
		if i == 0 {
			for k, v := range fields {
				rec[k] = v
			}
			t = typ
		}
		idx, err := j.record(t, rec)
		if err != nil {
			return -1, err
		}
		if i == 0 {
			first = idx
		}
	}
	return first, nil
}

// record appends an audit record of this session. Errors of the log are returned: a job that
// cannot record what it does fails (fail closed).
func (j *job) record(typ string, fields map[string]any) (int64, error) {
	if j.s.parts.Log == nil {
		return -1, fmt.Errorf("audit log: %w", ErrNotWired)
	}
	r := Record{Type: typ, Fields: fields}
	j.s.stamp(&r, j.session, j.operator)
	// A record of a failure is written even when the job's context is canceled.
	idx, err := j.s.parts.Log.Append(context.WithoutCancel(j.ctx), r)
	if err != nil {
		j.info("audit log append failed: " + err.Error())
		return -1, fmt.Errorf("audit log append (%s): %w", typ, err)
	}
	return idx, nil
}
