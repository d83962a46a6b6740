package appliance

import (
	"context"
	"errors"
	"fmt"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/leds"
	"github.com/airlock-appliance/airlock/appliance/policy"
)

// These tests exercise the state machine alone, with in-memory parts; the hwtest suite
// (cmd/airlock/run_test.go) runs the same flows on loop devices with the real parts.

func TestTransitions(t *testing.T) {
	for from, tos := range transitions {
		if from != Boot && from != Ready && from != Pass && from != Fail && !CanGo(from, Fail) {
			t.Errorf("%s cannot fail", from)
		}
		for _, to := range tos {
			if _, ok := transitions[to]; !ok {
				t.Errorf("%s -> %s: %s has no transitions", from, to, to)
			}
		}
	}
	for _, bad := range [][2]State{{Ready, Burning}, {Reading, Burning}, {Verdict, Burning}, {Fail, Burning}, {Boot, Reading}, {Wiping, Pass}} {
		if CanGo(bad[0], bad[1]) {
			t.Errorf("%s -> %s allowed", bad[0], bad[1])
		}
	}
}

type buf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type fakeDevices struct {
	ch    chan DeviceEvent
	files fstest.MapFS
	// openErr, when set, is OpenFS's answer: a stick already gone when the job opens it.
	openErr error
}

func (f *fakeDevices) Watch(ctx context.Context, out chan<- DeviceEvent) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-f.ch:
			out <- ev
		}
	}
}

func (f *fakeDevices) Guard(id Identity) error {
	if id.Bus != "usb" && id.Bus != "loop" {
		return fmt.Errorf("%s: not removable USB mass storage", id.Dev)
	}
	return nil
}

func (f *fakeDevices) Unchanged(id Identity) error { return nil }

func (f *fakeDevices) OpenFS(ctx context.Context, id Identity) (fs.FS, io.Closer, error) {
	if f.openErr != nil {
		return nil, nil, f.openErr
	}
	return f.files, io.NopCloser(nil), nil
}

type fakeImporter struct{ block bool }

func (f *fakeImporter) Read(ctx context.Context, fsys fs.FS, spool string, progress Progress) (*Decision, error) {
	d := &Decision{Report: []byte("{}")}
	err := fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if f.block {
			progress(1, 2)
			<-ctx.Done()
			return context.Cause(ctx)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(spool, p)), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(spool, p), b, 0o600); err != nil {
			return err
		}
		v := FileVerdict{Path: p, Size: int64(len(b)), SHA256: "00", Approved: !strings.Contains(string(b), "EVIL")}
		if !v.Approved {
			v.Reasons = []string{"match: EICAR"}
		}
		d.Files = append(d.Files, v)
		progress(1, 1)
		return nil
	})
	return d, err
}

type fakeSealer struct{}

func (fakeSealer) Seal(dir string, info SealInfo, want map[string]string) error {
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(info.Session), 0o600)
}

type fakeLog struct {
	mu        sync.Mutex
	recs      []Record
	ephemeral bool
}

func (l *fakeLog) Ephemeral() bool { return l.ephemeral }

// Append takes what the real log takes: a record that auditlog.MarshalRecord accepts, within
// auditlog.MaxRecordSize.
func (l *fakeLog) Append(ctx context.Context, r Record) (int64, error) {
	m := map[string]any{"type": r.Type}
	for k, v := range r.Fields {
		m[k] = v
	}
	if _, err := auditlog.MarshalRecord(m); err != nil {
		return -1, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return int64(len(l.recs) - 1), nil
}
func (l *fakeLog) Evidence(idx int64, dir string) error {
	return os.WriteFile(filepath.Join(dir, "AIRLOCK", "checkpoint"), []byte(fmt.Sprint(idx)), 0o600)
}
func (l *fakeLog) Where() string { return "memory" }
func (l *fakeLog) types() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t []string
	for _, r := range l.recs {
		t = append(t, r.Type)
	}
	return strings.Join(t, ",")
}

type fakeBurner struct {
	badReadback bool
	note        string // AIRLOCK/EPHEMERAL-LOG.txt of the last disc
}

func (*fakeBurner) Blank(ctx context.Context) (bool, error) { return true, nil }
func (b *fakeBurner) Burn(ctx context.Context, dir, label string, epoch int64, session string, p Progress) (*BurnResult, error) {
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		return nil, err
	}
	note, _ := os.ReadFile(filepath.Join(dir, "AIRLOCK", EphemeralNoteFile))
	b.note = string(note)
	p(10, 10)
	return &BurnResult{Size: 10, Where: "disc.iso"}, nil
}
func (b *fakeBurner) ReadBack(ctx context.Context, r *BurnResult, p Progress) error {
	if b.badReadback {
		return errors.New("sector 17 differs")
	}
	return nil
}

type fakeWipe struct{}

func (fakeWipe) Summary() string { return "zero, full verify" }
func (fakeWipe) Failed() error   { return nil }

type fakeWiper struct{}

func (fakeWiper) Wipe(ctx context.Context, id Identity, p PhaseProgress) (WipeReport, error) {
	p("write pass 1/1 zero", 0, 5)
	p("write pass 1/1 zero", 5, 5)
	p("verify full", 0, 5)
	p("verify full", 5, 5)
	return fakeWipe{}, nil
}
func (fakeWiper) Finish(ctx context.Context, id Identity, w WipeReport, job WipeJob, idx int64) (*SanitizeResult, error) {
	return &SanitizeResult{Certificate: []byte("{}"), Passed: true, Summary: w.Summary()}, nil
}

type fakeLEDs struct {
	mu  sync.Mutex
	now []leds.Signal
}

func (f *fakeLEDs) Show(on ...leds.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = append([]leds.Signal(nil), on...)
	return nil
}

func (f *fakeLEDs) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, x := range f.now {
		s = append(s, string(x))
	}
	return strings.Join(s, "+")
}

type rig struct {
	t     *testing.T
	out   *buf
	in    chan string
	devs  *fakeDevices
	log   *fakeLog
	leds  *fakeLEDs
	imp   *fakeImporter
	burn  *fakeBurner
	spool string
	done  chan error
	stop  context.CancelFunc // an interrupt: Run's context ends

	answered map[string]int
}

func newRig(t *testing.T, modes ...string) *rig {
	return newRigLEDs(t, nil, modes...)
}

// newRigLEDs is newRig with the given LEDs (nil: a fakeLEDs that records the signals).
func newRigLEDs(t *testing.T, board LEDs, modes ...string) *rig {
	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = modes
	r := &rig{t: t, out: &buf{}, in: make(chan string), log: &fakeLog{}, leds: &fakeLEDs{},
		imp: &fakeImporter{}, burn: &fakeBurner{}, spool: t.TempDir(), done: make(chan error, 1)}
	if board == nil {
		board = r.leds
	}
	pol.Import.SpoolDir = r.spool
	pol.Sanitize.AfterImport = "ask"
	r.devs = &fakeDevices{ch: make(chan DeviceEvent), files: fstest.MapFS{
		"guix.export": {Data: []byte("export")}, "src.tar.gz": {Data: []byte("tarball")}}}
	st := New(Config{Policy: &pol, View: console.NewLineView(r.out, false), LEDs: board},
		Parts{Devices: r.devs, Importer: r.imp, Sealer: fakeSealer{}, Log: r.log, Burner: r.burn, Wiper: fakeWiper{}})
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("station did not stop")
		}
	})
	go func() { r.done <- st.Run(ctx, r.in) }()
	r.wait("airlock: state READY")
	return r
}

// wait waits for a line of the line view and returns the output up to it.
func (r *rig) wait(line string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if countPrefix(r.out.String(), line) > 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.t.Fatalf("no line %q in:\n%s", line, r.out.String())
}

// waitN waits for the n-th occurrence of line.
func (r *rig) waitN(line string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if countPrefix(r.out.String(), line) >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.t.Fatalf("fewer than %d lines %q in:\n%s", n, line, r.out.String())
}

// countPrefix counts the lines of out that start with prefix.
func countPrefix(out, prefix string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (r *rig) answer(prompt, a string) {
	r.t.Helper()
	if r.answered == nil {
		r.answered = map[string]int{}
	}
	r.answered[prompt]++
	r.waitN("airlock: prompt "+prompt+":", r.answered[prompt])
	r.in <- a
}

func stick(dev string) DeviceEvent {
	return DeviceEvent{Kind: DeviceAdded, ID: Identity{Dev: dev, Bus: "usb", Serial: "AA0012345678", Size: 1 << 30, Removable: true}}
}

func TestImportPass(t *testing.T) {
	r := newRig(t, "import", "sanitize")
	if got := r.leds.get(); got != "ready" {
		t.Errorf("LEDs at READY: %s", got)
	}
	r.devs.ch <- stick("/dev/sdb")
	r.wait("airlock: device add /dev/sdb bus=usb serial=AA0012345678 size=1073741824")
	r.answered = map[string]int{"operator": 1}
	r.wait("airlock: prompt operator: operator ID for /dev/sdb?")
	if got := r.leds.get(); got != "ready+attention" {
		t.Errorf("LEDs at prompt: %s", got)
	}
	r.in <- "alice"
	r.answer("mode", "import")
	r.wait("airlock: verdict APPROVED 2 approved 0 rejected")
	r.wait("airlock: state READBACK")
	r.wait("airlock: output image disc.iso")
	r.wait("airlock: state PASS")
	r.answer("sanitize-after-import", "no")
	r.waitN("airlock: state READY", 2)
	out := r.out.String()
	order := []string{"state READING", "state VERDICT", "approved guix.export 00", "state SEALING", "state INSERT-DISC",
		"state BURNING", "state READBACK", "state PASS", "PASS disc", "prompt sanitize-after-import"}
	last := 0
	for _, o := range order {
		i := strings.Index(out[last:], "airlock: "+o)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", o, out)
		}
		last += i
	}
	if got := r.log.types(); got != "insert,verdict,seal,burn,readback" {
		t.Errorf("audit records: %s", got)
	}
	if got := r.leds.get(); got != "ready+pass" {
		t.Errorf("LEDs after PASS: %s", got)
	}
	if ents, _ := os.ReadDir(r.spool); len(ents) != 0 {
		t.Errorf("spool not emptied: %v", ents)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "airlock: ") {
			t.Errorf("line without prefix: %q", l)
		}
	}
}

// TestManyLongNamesLogged: a stick whose file list does not fit in one audit record gets its
// verdict logged in parts (none dropped) and is still sealed and burned.
func TestManyLongNamesLogged(t *testing.T) {
	r := newRig(t, "import")
	const n = 400 // paths of 3 KiB each: 1.2 MB of names, more than one record holds
	deep := strings.Repeat(strings.Repeat("d", 250)+"/", 12)
	for i := 0; i < n; i++ {
		r.devs.files[fmt.Sprintf("%s%04d", deep, i)] = &fstest.MapFile{Data: []byte("x")}
	}
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "alice") // one mode: no mode prompt
	r.wait("airlock: state PASS")
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	files, parts := 0, 0
	var types []string
	for _, rec := range r.log.recs {
		types = append(types, rec.Type)
		if rec.Type == "verdict" || rec.Type == "verdict-files" {
			parts++
			files += len(rec.Fields["files"].([]map[string]any))
			if rec.Fields["parts"] != r.log.recs[1].Fields["parts"] || rec.Fields["part"] != parts {
				t.Errorf("record %s: part %v of %v, want %d", rec.Type, rec.Fields["part"], rec.Fields["parts"], parts)
			}
		}
	}
	if files != n+2 || parts < 2 {
		t.Fatalf("verdict records list %d files in %d parts, want %d in at least 2 (records %v)", files, parts, n+2, types)
	}
	if v := r.log.recs[1]; v.Type != "verdict" || v.Fields["files_total"] != n+2 || v.Fields["verdict"] != "APPROVED" {
		t.Errorf("first verdict record: %s %v", v.Type, v.Fields)
	}
	if got := strings.Join(types, ","); !strings.HasSuffix(got, "verdict-files,seal,burn,readback") {
		t.Errorf("audit records: %s", got)
	}
}

func TestImportRejected(t *testing.T) {
	r := newRig(t, "import", "sanitize")
	r.devs.files["eicar.com"] = &fstest.MapFile{Data: []byte("EVIL")}
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "bob")
	r.answer("mode", "import")
	r.wait("airlock: rejected eicar.com: match: EICAR")
	r.wait("airlock: verdict REJECTED 2 approved 1 rejected")
	r.wait("airlock: FAIL rejected: 1 of 3 file(s) not approved")
	if got := r.leds.get(); !strings.Contains(got, "fail") {
		t.Errorf("LEDs at FAIL: %s", got)
	}
	r.answer("sanitize-after-import", "no")
	r.waitN("airlock: state READY", 2)
	if strings.Contains(r.out.String(), "BURNING") {
		t.Error("burned after a rejection")
	}
	if got := r.log.types(); got != "insert,verdict,fail" {
		t.Errorf("audit records: %s", got)
	}
	if strings.Count(r.out.String(), "airlock: FAIL") != 1 {
		t.Errorf("FAIL printed %d times", strings.Count(r.out.String(), "airlock: FAIL"))
	}
}

// TestRemoved pulls the stick while the job reads it, and before the open: then the open fails
// (ENXIO) before the kernel's removal event arrives (the race CI once lost in QEMU). Either way
// the job says "device removed", on the console and in the audit log.
func TestRemoved(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(r *rig)
	}{
		{"mid-read", func(r *rig) { r.imp.block = true }},
		{"before the open", func(r *rig) {
			r.devs.openErr = &fs.PathError{Op: "open", Path: "/dev/sdb", Err: syscall.ENXIO}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "import")
			c.setup(r)
			r.devs.ch <- stick("/dev/sdb")
			r.answer("operator", "carol")
			r.wait("airlock: state READING")
			time.Sleep(200 * time.Millisecond) // the event comes after a failed open
			r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdb"}}
			r.wait("airlock: state FAIL")
			if !strings.Contains(r.out.String(), "airlock: FAIL reading /dev/sdb: /dev/sdb: device removed") {
				t.Errorf("no removal reason:\n%s", r.out.String())
			}
			r.waitN("airlock: state READY", 2)
			if got := r.log.types(); got != "insert,fail" {
				t.Errorf("audit records: %s", got)
			}
		})
	}
}

// TestOpenFailsStickPresent: an open that fails on a stick that stays fails the job with the
// open's own reason, after the settle wait, not as a removal.
func TestOpenFailsStickPresent(t *testing.T) {
	r := newRig(t, "import")
	r.devs.openErr = &fs.PathError{Op: "open", Path: "/dev/sdb", Err: syscall.EIO}
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "carol")
	r.wait("airlock: FAIL reading /dev/sdb: open /dev/sdb: input/output error")
	if strings.Contains(r.out.String(), "device removed") {
		t.Errorf("an I/O error on a present stick called a removal:\n%s", r.out.String())
	}
}

func TestSecondDeviceQueued(t *testing.T) {
	r := newRig(t, "import")
	r.devs.ch <- stick("/dev/sdb")
	r.wait("airlock: prompt operator")
	r.answered = map[string]int{"operator": 1}
	r.devs.ch <- stick("/dev/sdc")
	r.wait("airlock: device queued /dev/sdc busy: it will be taken when the current job ends")
	r.in <- "dave"
	r.wait("airlock: PASS disc")
	r.wait("airlock: prompt operator: operator ID for /dev/sdc?")
	r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdc"}}
	r.wait("airlock: FAIL /dev/sdc: device removed")
}

// TestSanitizeConfirm: a wrong confirmation code is asked again (what was typed, what is
// expected), "cancel" is a cancel, and the right code after a typo wipes, with phased progress.
func TestSanitizeConfirm(t *testing.T) {
	r := newRig(t, "sanitize")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	r.answer("confirm-wipe", "cancel")
	r.wait("airlock: FAIL wipe of /dev/sdb: canceled by the operator")
	r.waitN("airlock: state READY", 2)
	r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdb"}}
	r.wait("airlock: device remove /dev/sdb bus=usb serial=AA0012345678 size=1073741824")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	r.answer("confirm-wipe", "5677")
	r.wait(`airlock: info you typed "5677"; expected the last 4 characters of the serial AA0012345678, or "cancel" (try 2 of 5)`)
	r.answer("confirm-wipe", "5678")
	r.wait("airlock: state WIPING")
	r.wait("airlock: state FORMATTING")
	r.wait("airlock: PASS sanitized /dev/sdb: zero, full verify; certificate on the stick")
	// Point 6: every progress line of the wipe names its phase, as airlock wipe does.
	for _, want := range []string{"airlock: progress write pass 1/1 zero: 0% 0B/5B", "airlock: progress write pass 1/1 zero: 100% 5B/5B",
		"airlock: progress verify full: 0% 0B/5B", "airlock: progress verify full: 100% 5B/5B"} {
		if countPrefix(r.out.String(), want) != 1 {
			t.Errorf("no line %q in:\n%s", want, r.out.String())
		}
	}
	if got := r.log.types(); got != "insert,wipe,fail,insert,wipe,certificate" {
		t.Errorf("audit records: %s", got)
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	if res := r.log.recs[1].Fields["result"]; res != "canceled" {
		t.Errorf("canceled wipe recorded as %v", res)
	}
}

// TestWrongCodesBounded: MaxTries wrong codes end the wipe as not confirmed, not as a cancel.
func TestWrongCodesBounded(t *testing.T) {
	r := newRig(t, "sanitize")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	for i := 0; i < MaxTries; i++ {
		r.answer("confirm-wipe", "0000")
	}
	r.wait(`airlock: FAIL wipe of /dev/sdb not confirmed: no valid answer to confirm-wipe after 5 tries (last typed "0000"; expected the last 4 characters of the serial AA0012345678)`)
	if strings.Contains(r.out.String(), "canceled by the operator") {
		t.Errorf("typos called a cancel:\n%s", r.out.String())
	}
	if strings.Contains(r.out.String(), "state WIPING") {
		t.Error("wiped without confirmation")
	}
}

// TestYesNoReasked: "yess" is asked again, "y" is a yes.
func TestYesNoReasked(t *testing.T) {
	r := newRig(t, "import", "sanitize")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	r.answer("mode", "imprt")
	r.wait(`airlock: info you typed "imprt"; expected one of import, sanitize, or "cancel" (try 2 of 5)`)
	r.answer("mode", "Import")
	r.answer("sanitize-after-import", "yess")
	r.wait(`airlock: info you typed "yess"; expected yes or no, or "cancel" (try 2 of 5)`)
	r.answer("sanitize-after-import", "y")
	r.wait("airlock: state CONFIRM-WIPE")
	r.answer("confirm-wipe", "5678")
	r.wait("airlock: PASS sanitized /dev/sdb")
}

func TestGuardAndInput(t *testing.T) {
	r := newRig(t, "import")
	r.devs.ch <- DeviceEvent{Kind: DeviceAdded, ID: Identity{Dev: "/dev/sda", Bus: "ata"}}
	r.wait("airlock: device ignored /dev/sda /dev/sda: not removable USB mass storage")
	r.in <- "hello"
	r.wait("airlock: info ignored input (no question pending)")
	r.devs.ch <- DeviceEvent{Kind: USBUnauthorized, ID: Identity{VIDPID: "046d:c52b"}, Classes: "03"}
	r.wait("airlock: usb unauthorized 046d:c52b 03")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "has space")
	r.wait(`airlock: info you typed "has space"; expected an operator ID of 1 to 64 printable characters without spaces (it has a space or control character), or "cancel" (try 2 of 5)`)
	r.answer("operator", strings.Repeat("x", 65))
	r.answer("operator", "")
	r.wait(`airlock: info you typed nothing; expected an operator ID`)
	r.answer("operator", "CANCEL")
	r.wait("airlock: FAIL operator: canceled by the operator")
	// The same stick, still in, is not lost: removed and inserted again it is asked again, and
	// MaxTries bad IDs end the job without calling it a cancel.
	r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdb"}}
	r.devs.ch <- stick("/dev/sdb")
	for i := 0; i < MaxTries; i++ {
		r.answer("operator", "a b")
	}
	r.wait(`airlock: FAIL no valid answer to operator after 5 tries (last typed "a b"; expected an operator ID`)
}

func TestBadReadback(t *testing.T) {
	r := newRig(t, "import")
	r.burn.badReadback = true
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "frank")
	r.wait("airlock: FAIL read-back: sector 17 differs (destroy the disc)")
	r.waitN("airlock: state READY", 2)
	if got := r.leds.get(); got != "ready+fail" {
		t.Errorf("LEDs after FAIL: %s", got)
	}
}

func TestChangedStick(t *testing.T) {
	r := newRig(t, "import")
	r.imp.block = true
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "gina")
	r.wait("airlock: state READING")
	ev := stick("/dev/sdb")
	ev.Kind = MediaChanged
	ev.ID.Size = 1 << 20
	r.devs.ch <- ev
	r.wait("airlock: FAIL reading /dev/sdb: /dev/sdb: replaced by another stick (size 1048576, was 1073741824): device removed")
	// The other stick is a new session, taken when the failed one ends.
	r.answer("operator", "gina")
	r.wait("airlock: state READING")
	r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdb"}}
	r.waitN("airlock: state READY", 3)
	// A change of a present stick that keeps its identity and size (repartitioned) at READY
	// is a notice, not a session.
	r.imp.block = false
	r.devs.ch <- ev
	r.answer("operator", "gina")
	r.wait("airlock: PASS disc")
	r.waitN("airlock: state READY", 4)
	ev.ID.FS = "vfat"
	r.devs.ch <- ev
	r.wait("airlock: device change /dev/sdb")
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(r.out.String(), "prompt operator"); n != 3 {
		t.Errorf("%d sessions, want 3:\n%s", n, r.out.String())
	}
}

// TestSwappedAtReady: at READY, a stick of another serial on the same node without a remove
// event is a remove of the old one and a new session; answers are not "ignored input".
func TestSwappedAtReady(t *testing.T) {
	r := newRig(t, "import")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "ivan")
	r.wait("airlock: PASS disc")
	r.waitN("airlock: state READY", 2)
	other := stick("/dev/sdb")
	other.Kind = MediaChanged
	other.ID.Serial = "BB0099998888"
	r.devs.ch <- other
	r.wait(`airlock: info another stick at /dev/sdb (serial "BB0099998888", was "AA0012345678") without a remove event: taken as remove + insert`)
	r.wait("airlock: device remove /dev/sdb bus=usb serial=AA0012345678")
	r.wait("airlock: device add /dev/sdb bus=usb serial=BB0099998888")
	r.answer("operator", "ivan")
	r.waitN("airlock: PASS disc", 2)
	if strings.Contains(r.out.String(), "ignored input") {
		t.Errorf("an answer was ignored:\n%s", r.out.String())
	}
}

type fakeChecker struct{}

func (fakeChecker) Check(ctx context.Context, id Identity, fsys fs.FS) (string, error) {
	if _, err := fs.Stat(fsys, "SHA256SUMS"); err != nil {
		return "", fmt.Errorf("no seal: %w", err)
	}
	return "VALID", nil
}

// An optical disc is checked without asking for a mode; while an import burns, the burn drive's
// disc events are not sessions; after_import = "always" goes straight to the wipe confirmation.
func TestOpticalAndAlways(t *testing.T) {
	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = []string{"import", "sanitize", "check"}
	pol.Sanitize.AfterImport = "always"
	pol.Import.SpoolDir = t.TempDir()
	out := &buf{}
	in := make(chan string)
	devs := &fakeDevices{ch: make(chan DeviceEvent), files: fstest.MapFS{"SHA256SUMS": {Data: []byte("x")}}}
	lg := &fakeLog{}
	st := New(Config{Policy: &pol, View: console.NewLineView(out, false)},
		Parts{Devices: devs, Importer: &fakeImporter{}, Sealer: fakeSealer{}, Log: lg, Burner: &fakeBurner{}, Wiper: fakeWiper{}, Checker: fakeChecker{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, in) }()
	defer func() { cancel(); <-done }()
	r := &rig{t: t, out: out, in: in}
	r.wait("airlock: state READY")
	devs.ch <- DeviceEvent{Kind: DeviceAdded, ID: Identity{Dev: "/dev/sr0", Bus: "usb", Optical: true}}
	r.wait("airlock: device add /dev/sr0 bus=usb size=0 optical (no medium)")
	devs.ch <- DeviceEvent{Kind: MediaChanged, ID: Identity{Dev: "/dev/sr0", Bus: "usb", Optical: true, Size: 4 << 20}}
	r.answer("operator", "hal")
	r.wait("airlock: state CHECKING")
	r.wait("airlock: PASS disc /dev/sr0: VALID")
	if strings.Contains(out.String(), "prompt mode") {
		t.Error("mode asked for a disc")
	}
	r.waitN("airlock: state READY", 2)
	devs.ch <- stick("/dev/sdb")
	r.answer("operator", "hal")
	r.answer("mode", "import")
	r.wait("airlock: PASS disc")
	r.wait("airlock: state CONFIRM-WIPE")
	if strings.Contains(out.String(), "prompt sanitize-after-import") {
		t.Error("after_import = always asked")
	}
	r.answer("confirm-wipe", "5678")
	r.wait("airlock: PASS sanitized /dev/sdb")
}

// TestDefaultLEDs drives the default mapping (a policy without [leds]: policy.Default) on a
// fake tree of three keyboard LEDs through a whole import, a failure, and an interrupt: each
// moment has its documented look, and the stopped station leaves every LED off.
func TestDefaultLEDs(t *testing.T) {
	dir := t.TempDir()
	pol := policy.Default()
	names := map[leds.Signal]string{leds.Ready: pol.LEDs.Ready, leds.Busy: pol.LEDs.Busy, leds.Attention: pol.LEDs.Attention,
		leds.Pass: pol.LEDs.Pass, leds.Fail: pol.LEDs.Fail}
	if err := leds.MakeFakeTree(dir, "input2::numlock", "input2::capslock", "input2::scrolllock"); err != nil {
		t.Fatal(err)
	}
	board, err := leds.NewBoard(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	look := func() string {
		var l []string
		for _, n := range []string{"numlock", "capslock", "scrolllock"} {
			st, err := leds.State(dir, "input2::"+n)
			if err != nil {
				t.Fatal(err)
			}
			l = append(l, st)
		}
		return strings.Join(l, " ")
	}
	// The look is set before the line that announces the state (LEDs first).
	expect := func(what, want string) {
		t.Helper()
		if got := look(); got != want {
			t.Errorf("%s: num caps scroll = %s, want %s", what, got, want)
		}
	}
	r := newRigLEDs(t, board, "import")
	expect("READY", "on off off")
	r.devs.files["eicar.com"] = &fstest.MapFile{Data: []byte("EVIL")}
	r.devs.ch <- stick("/dev/sdb")
	r.wait("airlock: prompt operator")
	expect("operator asked", "on off on")
	r.answered = map[string]int{"operator": 1}
	r.in <- "jane"
	r.wait("airlock: state FAIL")
	r.waitN("airlock: state READY", 2)
	expect("READY after FAIL", "on fast-blink off")
	r.devs.ch <- DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: "/dev/sdb"}}
	r.wait("airlock: device remove")
	delete(r.devs.files, "eicar.com")
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "jane")
	r.waitN("airlock: state READY", 3)
	expect("READY after PASS", "on on off")
	r.stop()
	select {
	case err := <-r.done:
		if !errors.Is(err, ErrStopped) {
			t.Errorf("Run after an interrupt: %v", err)
		}
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("station did not stop")
	}
	expect("stopped", "off off off")
}

// TestInterruptMidJob: an interrupt during a wipe fails the job with an audit record naming the
// stop, says the station is stopping, does not go back to READY or start a queued stick, turns
// the LEDs off and makes Run return ErrStopped.
func TestInterruptMidJob(t *testing.T) {
	r := newRig(t, "import")
	r.imp.block = true
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "kim")
	r.wait("airlock: progress")
	r.devs.ch <- stick("/dev/sdc")
	r.wait("airlock: device queued /dev/sdc")
	r.stop()
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("station did not stop")
	}
	if !errors.Is(err, ErrStopped) {
		t.Errorf("Run after an interrupt: %v", err)
	}
	out := r.out.String()
	for _, want := range []string{"airlock: info station stopping: interrupted; canceling the /dev/sdb job",
		"airlock: FAIL reading /dev/sdb: the station is stopping", "airlock: info station stopped; LEDs off"} {
		if countPrefix(out, want) != 1 {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	if n := countPrefix(out, "airlock: state READY"); n != 1 || strings.Contains(out, "prompt operator: operator ID for /dev/sdc") {
		t.Errorf("READY again or the queued stick started after the interrupt:\n%s", out)
	}
	if got := r.leds.get(); got != "" {
		t.Errorf("LEDs after the stop: %q", got)
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	last := r.log.recs[len(r.log.recs)-1]
	if last.Type != "fail" || !strings.Contains(fmt.Sprint(last.Fields["reason"]), "the station is stopping") {
		t.Errorf("last audit record: %s %v", last.Type, last.Fields)
	}
}

// TestScreenAt80: the station's full-screen view at 80 columns during a rejection with a long
// rule keeps the whole reason (wrapped, never cut) and lists the approved files too.
func TestScreenAt80(t *testing.T) {
	pol := policy.Default()
	pol.Station = "test"
	pol.Modes = []string{"import", "sanitize"}
	pol.Import.SpoolDir = t.TempDir()
	out := &buf{}
	scr := console.NewScreen(io.Discard, 80, 25)
	long := strings.Repeat("very-long-directory-name/", 4) + "eicar.com"
	devs := &fakeDevices{ch: make(chan DeviceEvent), files: fstest.MapFS{"ok.txt": {Data: []byte("fine")}, long: {Data: []byte("EVIL")}}}
	st := New(Config{Policy: &pol, View: console.Multi{console.NewLineView(out, false), scr}},
		Parts{Devices: devs, Importer: &fakeImporter{}, Sealer: fakeSealer{}, Log: &fakeLog{}, Burner: &fakeBurner{}, Wiper: fakeWiper{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	in := make(chan string)
	go func() { done <- st.Run(ctx, in) }()
	defer func() { cancel(); <-done }()
	r := &rig{t: t, out: out, in: in}
	r.wait("airlock: state READY")
	devs.ch <- stick("/dev/sdb")
	r.answer("operator", "lee")
	r.answer("mode", "import")
	// The sanitize question holds the rejection on the screen.
	r.wait("airlock: prompt sanitize-after-import")
	lines := scr.Lines()
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("row wider than 80: %q", l)
		}
	}
	// A word longer than a row is broken across rows: compare without blanks.
	flat := strings.Join(strings.Fields(strings.Join(lines, "")), "")
	for _, want := range []string{"REJECTED" + long + ":match:EICAR", "APPROVEDok.txtsha25600"} {
		if !strings.Contains(flat, want) {
			t.Errorf("screen lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestEphemeralLogOnDisc: a disc made from an ephemeral log carries the sealed note, its seal
// record says so, and the PASS line says so; the PASS line says what each count counts.
func TestEphemeralLogOnDisc(t *testing.T) {
	r := newRig(t, "import")
	r.log.ephemeral = true
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "mia")
	r.wait("airlock: PASS disc")
	if !strings.Contains(r.out.String(), ": 2 approved file(s) of 13 bytes; image 10 bytes, sha256 ") ||
		!strings.Contains(r.out.String(), "(EPHEMERAL audit log); remove the disc") {
		t.Errorf("PASS line:\n%s", r.out.String())
	}
	if r.burn.note != EphemeralNote {
		t.Errorf("disc note %q", r.burn.note)
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	for _, rec := range r.log.recs {
		if rec.Type == "seal" && rec.Fields["audit_log"] != "ephemeral" {
			t.Errorf("seal record %v", rec.Fields)
		}
	}
}

// TestNoLogMedium: boot mode without the log medium refuses to start unless the policy allows
// an ephemeral log, and the refusal names the key.
func TestNoLogMedium(t *testing.T) {
	pol, err := policy.Parse("p.toml", []byte("station = \"s\"\nmodes = [\"check\"]\n[keys]\ndir = \"k\"\n[audit]\nlog_label = \"AIRLOCK-LOG\"\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	why := errors.New("no disk with label \"AIRLOCK-LOG\"")
	err = NoLogMedium(pol, why)
	if !errors.Is(err, ErrNoLogMedium) || !strings.Contains(err.Error(), "audit.ephemeral_log = true") || !strings.Contains(err.Error(), "refusing to start") {
		t.Errorf("without the medium: %v", err)
	}
	pol, err = policy.Parse("p.toml", []byte("station = \"s\"\nmodes = [\"check\"]\n[keys]\ndir = \"k\"\n[audit]\nlog_label = \"AIRLOCK-LOG\"\nephemeral_log = true\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := NoLogMedium(pol, why); err != nil {
		t.Errorf("ephemeral_log = true refused: %v", err)
	}
}
