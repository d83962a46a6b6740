package appliance

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/sealing"
)

// jobWiper is fakeWiper that keeps the WipeJob the station handed it.
type jobWiper struct {
	fakeWiper
	mu   sync.Mutex
	jobs []WipeJob
}

func (w *jobWiper) Finish(ctx context.Context, id Identity, rep WipeReport, job WipeJob, idx int64) (*SanitizeResult, error) {
	w.mu.Lock()
	w.jobs = append(w.jobs, job)
	w.mu.Unlock()
	return w.fakeWiper.Finish(ctx, id, rep, job, idx)
}

// certRig is newRig for the sanitize mode with a [certificate] table.
func certRig(t *testing.T, cp sealing.CertificatePolicy) (*rig, *jobWiper) {
	pol := policy.Default()
	pol.Station, pol.Modes, pol.Certificate = "test", []string{"sanitize"}, cp
	r := &rig{t: t, out: &buf{}, in: make(chan string), log: &fakeLog{}, leds: &fakeLEDs{}, done: make(chan error, 1)}
	r.devs = &fakeDevices{ch: make(chan DeviceEvent), files: fstest.MapFS{}}
	w := &jobWiper{}
	st := New(Config{Policy: &pol, View: console.NewLineView(r.out, false), LEDs: r.leds},
		Parts{Devices: r.devs, Log: r.log, Wiper: w})
	ctx, cancel := context.WithCancel(context.Background())
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
	return r, w
}

// TestSanitizeAsksCertificateFields: the fields the policy lists in certificate.ask are asked
// in order after the wipe confirmation and before the wipe, bounded and re-asked, optional ones
// may stay empty, and they reach the certificate's Wiper.
func TestSanitizeAsksCertificateFields(t *testing.T) {
	r, w := certRig(t, sealing.CertificatePolicy{CertFields: sealing.CertFields{Organization: "Org"},
		Ask: []string{"sanitizer_name", "property_number", "notes"}, Optional: []string{"notes"}})
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	r.answer("confirm-wipe", "5678")
	r.answer("certificate-sanitizer_name", "")
	r.wait("airlock: info certificate Sanitizer's name is required")
	r.answer("certificate-sanitizer_name", "  Erin Example ")
	r.answer("certificate-property_number", strings.Repeat("9", sealing.MaxCertField+1))
	r.wait("airlock: info certificate Media property number")
	r.answer("certificate-property_number", "EA-42")
	r.answer("certificate-notes", "")
	r.wait("airlock: PASS sanitized /dev/sdb")
	if out := r.out.String(); strings.Index(out, "prompt certificate-sanitizer_name") > strings.Index(out, "state WIPING") {
		t.Errorf("certificate asked after the wipe started:\n%s", out)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want := WipeJob{Operator: "erin", Fields: sealing.CertFields{SanitizerName: "Erin Example", PropertyNumber: "EA-42"}}
	if len(w.jobs) != 1 || w.jobs[0] != want {
		t.Errorf("jobs %+v, want %+v", w.jobs, want)
	}
}

// TestSanitizeCertificateFieldGivesUp: a required field refused certTries times cancels the
// job before the wipe.
func TestSanitizeCertificateFieldGivesUp(t *testing.T) {
	r, w := certRig(t, sealing.CertificatePolicy{Ask: []string{"source"}})
	r.devs.ch <- stick("/dev/sdb")
	r.answer("operator", "erin")
	r.answer("confirm-wipe", "5678")
	for i := 0; i < certTries; i++ {
		r.answer("certificate-source", "")
	}
	r.wait("airlock: FAIL no valid Media source for the certificate: canceled by the operator")
	if strings.Contains(r.out.String(), "state WIPING") || len(w.jobs) != 0 {
		t.Errorf("wiped without the certificate's fields:\n%s", r.out.String())
	}
}
