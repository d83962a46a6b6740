package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/sandbox"
)

// MaxOperatorID bounds the operator ID typed at the console.
const MaxOperatorID = 64

// run is the whole session on one device: operator ID, mode, then the mode's flow.
func (j *job) run() (string, error) {
	s := j.s
	op, err := j.askOperator()
	if err != nil {
		return "", err
	}
	j.operator = op
	mode, err := j.askMode()
	if err != nil {
		return "", err
	}
	j.mode = mode
	if err := s.modeWired(mode); err != nil {
		return "", fmt.Errorf("mode %s: %w", mode, err)
	}
	j.show(console.Event{Kind: console.KJob, Text: fmt.Sprintf("%s %s operator %s session %s", mode, j.dev.Dev, op, j.session)})
	if _, err := j.record("insert", map[string]any{"device": identityFields(j.dev), "mode": mode}); err != nil {
		return "", err
	}
	switch mode {
	case policy.ModeImport:
		return j.importFlow()
	case policy.ModeSanitize:
		return j.sanitizeFlow()
	case policy.ModeCheck:
		return j.checkFlow()
	}
	return "", fmt.Errorf("unknown mode %q", mode)
}

func identityFields(id Identity) map[string]any {
	return map[string]any{"dev": id.Dev, "bus": id.Bus, "vendor": id.Vendor, "model": id.Model,
		"serial": id.Serial, "vidpid": id.VIDPID, "size": id.Size, "removable": id.Removable,
		"optical": id.Optical, "fs": id.FS}
}

// MaxTries bounds how often one question is asked again after an answer that is not one of
// the expected ones.
const MaxTries = 5

// CancelWord, typed at any prompt, cancels the job (ErrCanceled).
const CancelWord = "cancel"

// ErrNoValidAnswer ends a job whose question got MaxTries answers that were not expected.
var ErrNoValidAnswer = errors.New("no valid answer")

// askValid asks a question until check accepts the answer (it returns the value and "", or ""
// and what is expected), at most MaxTries times. Each refused answer is shown with what was
// typed and what is expected; CancelWord cancels the job.
func (j *job) askValid(id, text string, check func(a string) (string, string)) (string, error) {
	for try := 1; ; try++ {
		a, err := j.ask(id, text)
		if err != nil {
			return "", err
		}
		if strings.EqualFold(a, CancelWord) {
			return "", fmt.Errorf("%s: %w", id, ErrCanceled)
		}
		v, expected := check(a)
		if expected == "" {
			return v, nil
		}
		if try >= MaxTries {
			return "", fmt.Errorf("%w to %s after %d tries (last typed %s; expected %s)", ErrNoValidAnswer, id, try, quoteTyped(a), expected)
		}
		j.info(fmt.Sprintf("you typed %s; expected %s, or %q (try %d of %d)", quoteTyped(a), expected, CancelWord, try+1, MaxTries))
	}
}

// quoteTyped shows an answer as typed, bounded (the line view cleans what it prints).
func quoteTyped(a string) string {
	if a == "" {
		return "nothing"
	}
	if r := []rune(a); len(r) > 40 {
		a = string(r[:40]) + "..."
	}
	return strconv.Quote(a)
}

func (j *job) askOperator() (string, error) {
	return j.askValid("operator", "operator ID for "+j.dev.Dev+"?", func(a string) (string, string) {
		if err := checkOperator(a); err != nil {
			return "", fmt.Sprintf("an operator ID of 1 to %d printable characters without spaces (it %s)", MaxOperatorID, err)
		}
		return a, ""
	})
}

// checkOperator accepts 1..MaxOperatorID printable, non-space characters.
func checkOperator(a string) error {
	if a == "" {
		return errors.New("is empty")
	}
	if len(a) > MaxOperatorID {
		return fmt.Errorf("longer than %d characters", MaxOperatorID)
	}
	for _, r := range a {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return errors.New("has a space or control character")
		}
	}
	return nil
}

func (j *job) askMode() (string, error) {
	modes := j.s.pol.Modes
	if j.dev.Optical {
		if !j.s.pol.Has(policy.ModeCheck) {
			return "", errors.New("a disc was inserted but the policy does not allow the check mode")
		}
		return policy.ModeCheck, nil
	}
	choices := append([]string(nil), modes...)
	if len(choices) == 1 {
		return choices[0], nil
	}
	return j.askValid("mode", "mode for "+j.dev.Dev+"? ("+strings.Join(choices, " | ")+")", func(a string) (string, string) {
		for _, c := range choices {
			if strings.EqualFold(a, c) {
				return c, ""
			}
		}
		return "", "one of " + strings.Join(choices, ", ")
	})
}

// yesNo checks a yes/no answer (y and n too, any case).
func yesNo(a string) (string, string) {
	switch strings.ToLower(a) {
	case "yes", "y":
		return "yes", ""
	case "no", "n":
		return "no", ""
	}
	return "", "yes or no"
}

// stage moves to st, failing the job if the state machine refuses (a bug) or the job was canceled.
func (j *job) stage(st State) error {
	if err := contextCauseOf(j); err != nil {
		return err
	}
	return j.setState(st)
}

// contextCauseOf is why the job was canceled, or nil while it runs.
func contextCauseOf(j *job) error {
	if j.ctx.Err() == nil {
		return nil
	}
	return context.Cause(j.ctx)
}

// reported is a failure whose FAIL line and audit record were already written.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// readErrorSettle is how long an import whose read failed waits for a removal event.
const readErrorSettle = 1500 * time.Millisecond

// errUnreadFiles marks a read that returned a decision with unreadable files, so readFailure
// can tell whether the stick went away; it never reaches the operator.
var errUnreadFiles = errors.New("some files could not be read")

// readFailure names why the read of the job's device failed. A stick pulled mid-read shows
// first as an open or read error (ENXIO, EIO, a worker refusal) and only later as the kernel's
// removal event, so the job gives the event a moment to arrive: the operator and the audit log
// are told "device removed", not a bare I/O error. A read that only had unreadable files, on
// a stick still present, is not a failure (nil): those files carry their own verdicts.
func (j *job) readFailure(err error) error {
	if contextCauseOf(j) == nil {
		select {
		case <-j.ctx.Done():
		case <-time.After(readErrorSettle):
		}
	}
	if cause := contextCauseOf(j); cause != nil {
		return fmt.Errorf("reading %s: %w", j.dev.Dev, cause)
	}
	if gone := j.s.parts.Devices.Unchanged(j.dev); gone != nil {
		if err == nil || errors.Is(err, errUnreadFiles) {
			return fmt.Errorf("reading %s: %w", j.dev.Dev, gone)
		}
		return fmt.Errorf("reading %s: %w (%v)", j.dev.Dev, gone, err)
	}
	if j.removed.Load() {
		return fmt.Errorf("reading %s: %s: %w (%v)", j.dev.Dev, j.dev.Dev, ErrDeviceRemoved, err)
	}
	switch {
	case err == nil, errors.Is(err, errUnreadFiles):
		return nil
	case errors.Is(err, sandbox.ErrRefused):
		return err // the worker names the device and the reason, as media does
	}
	return fmt.Errorf("reading %s: %w", j.dev.Dev, err)
}

// unread reports whether some file could not be read whole (no SHA-256).
func unread(d *Decision) bool {
	for _, f := range d.Files {
		if f.SHA256 == "" {
			return true
		}
	}
	return false
}

// importFlow: read + hash + scan + spool in one read, verdict, seal, burn, read back.
func (j *job) importFlow() (string, error) {
	s := j.s
	p := s.parts
	spoolRoot := filepath.Join(s.pol.Import.SpoolDir, j.session)
	// The spool of a failed session is garbage: removed whatever happens; on PASS too, since
	// the disc has what was approved.
	defer os.RemoveAll(spoolRoot)
	bundle := filepath.Join(spoolRoot, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return "", fmt.Errorf("spool: %w", err)
	}

	if err := j.stage(Reading); err != nil {
		return "", err
	}
	var dec *Decision
	var err error
	if di, ok := p.Importer.(DeviceImporter); ok {
		// The stick is parsed in the sandboxed worker, never in this process (package sandbox).
		dec, err = di.ReadDevice(j.ctx, j.dev.Dev, bundle, j.progress())
	} else {
		fsys, closer, oerr := p.Devices.OpenFS(j.ctx, j.dev)
		if oerr != nil {
			err = oerr
		} else {
			dec, err = p.Importer.Read(j.ctx, fsys, bundle, j.progress())
			closer.Close()
		}
	}
	if err == nil && unread(dec) {
		// A stick that goes away mid-read first shows as read errors (verdicts).
		err = errUnreadFiles
	}
	if err != nil || contextCauseOf(j) != nil {
		if err = j.readFailure(err); err != nil {
			return "", err
		}
	}
	if err := p.Devices.Unchanged(j.dev); err != nil {
		return "", fmt.Errorf("reading %s: %w", j.dev.Dev, err)
	}
	// Everything that will be burned is now in the RAM spool: the stick may go.
	j.usesDevice.Store(false)

	if err := j.stage(Verdict); err != nil {
		return "", err
	}
	var files []map[string]any
	rejected := 0
	for _, f := range dec.Files {
		files = append(files, map[string]any{"path": f.Path, "size": f.Size, "sha256": f.SHA256,
			"approved": f.Approved, "reasons": f.Reasons})
		if f.Approved {
			j.show(console.Event{Kind: console.KApproved, Path: f.Path, Text: f.SHA256})
			continue
		}
		rejected++
		reason := strings.Join(f.Reasons, "; ")
		if reason == "" {
			reason = "not approved"
		}
		j.show(console.Event{Kind: console.KRejected, Path: f.Path, Text: reason})
	}
	approved := dec.Approved()
	j.show(console.Event{Kind: console.KVerdict, Approved: approved, N: len(dec.Files) - rejected, M: rejected})
	verdict := "REJECTED"
	if approved {
		verdict = "APPROVED"
	}
	reportSum := sha256.Sum256(dec.Report)
	fields := map[string]any{"verdict": verdict, "report_sha256": hex.EncodeToString(reportSum[:]),
		"files_total": len(files), "approved_total": len(files) - rejected}
	if dec.Worker != "" {
		fields["worker"] = dec.Worker
	}
	for _, r := range dec.Records { // channel and quorum judgements (appliance/channels.go, quorum.go)
		if _, err := j.record(r.Type, r.Fields); err != nil {
			return "", err
		}
	}
	verdictIdx, err := j.recordFiles("verdict", fields, files)
	if err != nil {
		return "", err
	}
	if !approved {
		if len(dec.Files) == 0 {
			return j.offerSanitize(fmt.Errorf("%w: the stick holds no file", ErrRejected))
		}
		return j.offerSanitize(fmt.Errorf("%w: %d of %d file(s) not approved", ErrRejected, rejected, len(dec.Files)))
	}

	if err := j.stage(Sealing); err != nil {
		return "", err
	}
	meta := filepath.Join(spoolRoot, "AIRLOCK")
	if err := os.MkdirAll(filepath.Join(meta, "proofs"), 0o700); err != nil {
		return "", fmt.Errorf("spool: %w", err)
	}
	// A disc made from an ephemeral log says so in a sealed note beside its report (the report
	// itself is what the verdict record hashes, so it is left as it is).
	ephemeral := isEphemeral(p.Log)
	if ephemeral {
		if err := os.WriteFile(filepath.Join(meta, EphemeralNoteFile), []byte(EphemeralNote), 0o600); err != nil {
			return "", fmt.Errorf("spool: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(meta, "report.json"), dec.Report, 0o600); err != nil {
		return "", fmt.Errorf("spool: %w", err)
	}
	// The seal record stays small whatever the stick holds (a disc carries it as record.json):
	// the files are named by the verdict records it points at and by the report it hashes.
	sealFields := map[string]any{"report_sha256": hex.EncodeToString(reportSum[:]),
		"policy_sha256": hex.EncodeToString(s.pol.SHA256[:]), "files_total": len(files), "verdict_index": verdictIdx}
	if ephemeral {
		sealFields["audit_log"] = "ephemeral"
	}
	idx, err := j.record("seal", sealFields)
	if err != nil {
		return "", err
	}
	if err := p.Log.Evidence(idx, spoolRoot); err != nil {
		return "", fmt.Errorf("audit evidence: %w", err)
	}
	info := SealInfo{Session: j.session, Station: s.pol.Station, Operator: j.operator,
		Time: j.start.UTC().Format(time.RFC3339), PolicyHash: hex.EncodeToString(s.pol.SHA256[:]), LogIndex: idx}
	want := map[string]string{}
	for _, f := range dec.Files {
		want["bundle/"+f.Path] = f.SHA256
	}
	if err := p.Sealer.Seal(spoolRoot, info, want); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}

	if err := j.stage(InsertDisc); err != nil {
		return "", err
	}
	if err := j.waitBlank(); err != nil {
		return "", err
	}
	if err := j.stage(Burning); err != nil {
		return "", err
	}
	res, err := p.Burner.Burn(j.ctx, spoolRoot, s.pol.Burn.Label, j.start.Unix(), j.session, j.progress())
	if err != nil {
		j.record("burn", map[string]any{"result": "error", "error": failText(err)})
		return "", fmt.Errorf("burn: %w (destroy the disc)", err)
	}
	sum := hex.EncodeToString(res.SHA256[:])
	if _, err := j.record("burn", map[string]any{"result": "written", "size": res.Size, "sha256": sum, "drive": res.Where}); err != nil {
		return "", err
	}
	if err := j.stage(Readback); err != nil {
		return "", err
	}
	if err := p.Burner.ReadBack(j.ctx, res, j.progress()); err != nil {
		j.record("readback", map[string]any{"result": "mismatch", "error": failText(err)})
		return "", fmt.Errorf("read-back: %w (destroy the disc)", err)
	}
	if _, err := j.record("readback", map[string]any{"result": "match", "sha256": sum}); err != nil {
		return "", err
	}
	if err := j.stage(Pass); err != nil {
		return "", err
	}
	j.show(console.Event{Kind: console.KOutput, Action: "image", Path: res.Where})
	j.show(console.Event{Kind: console.KOutput, Action: "log", Path: p.Log.Where()})
	var approvedBytes int64
	for _, f := range dec.Files {
		approvedBytes += f.Size
	}
	logNote := ""
	if ephemeral {
		logNote = " (EPHEMERAL audit log)"
	}
	// Each count says what it counts: the approved files of the stick, and the disc image
	// (which also holds the seal, the report and the log's evidence, as `airlock verify` counts).
	j.show(console.Event{Kind: console.KPass, Text: fmt.Sprintf("disc %s: %d approved file(s) of %d bytes; image %d bytes, sha256 %s, log index %d%s; remove the disc",
		j.session, len(dec.Files), approvedBytes, res.Size, sum, idx, logNote)})
	return j.offerSanitize(nil)
}

// offerSanitize ends an import: when the policy says so and the stick is still there, it offers
// (or, with after_import = "always", starts) the sanitize flow on the same stick. importErr is
// the import's own failure, reported first.
func (j *job) offerSanitize(importErr error) (string, error) {
	s := j.s
	if importErr != nil {
		if err := j.stage(Fail); err != nil {
			return "", importErr
		}
		j.record("fail", map[string]any{"reason": failText(importErr), "device": j.dev.Dev})
		j.show(console.Event{Kind: console.KFail, Text: failText(importErr)})
		importErr = reported{importErr}
	}
	after := s.pol.Sanitize.AfterImport
	present := !j.removed.Load()
	if after == "never" || !s.pol.Has(policy.ModeSanitize) || s.parts.Wiper == nil || !present {
		return "", importErr
	}
	j.usesDevice.Store(true)
	if after == "ask" {
		a, err := j.askValid("sanitize-after-import", "sanitize "+j.dev.Dev+" now? (yes/no)", yesNo)
		if err != nil || a != "yes" {
			// The import's own outcome stands; a stick pulled or a cancel here only skips
			// the wipe.
			if err != nil && contextCauseOf(j) == nil {
				j.info("not sanitized: " + failText(err))
			}
			return "", importErr
		}
	}
	_, err := j.sanitizeFlow()
	if err != nil {
		return "", err
	}
	return "", nil
}

// waitBlank waits for a blank disc in the burner.
func (j *job) waitBlank() error {
	told := false
	for {
		ok, err := j.s.parts.Burner.Blank(j.ctx)
		if err != nil {
			return fmt.Errorf("drive: %w", err)
		}
		if ok {
			return nil
		}
		if !told {
			j.info("insert a blank disc")
			told = true
		}
		select {
		case <-j.ctx.Done():
			return contextCauseOf(j)
		case <-time.After(time.Second):
		}
	}
}

// sanitizeFlow: identity shown, operator confirms, wipe + verify, reformat + certificate.
func (j *job) sanitizeFlow() (string, error) {
	s := j.s
	p := s.parts
	if err := j.stage(ConfirmWipe); err != nil {
		return "", err
	}
	j.usesDevice.Store(true)
	code := j.dev.ConfirmCode()
	what := "serial"
	if strings.TrimSpace(j.dev.Serial) == "" {
		what = "size in bytes"
	}
	whole := strings.TrimSpace(j.dev.Serial)
	if whole == "" {
		whole = fmt.Sprint(j.dev.Size)
	}
	_, err := j.askValid("confirm-wipe", fmt.Sprintf("ERASE %s (%s)? type the last 4 characters of its %s to confirm, or %q",
		j.dev.Dev, j.dev.String(), what, CancelWord), func(a string) (string, string) {
		if a != code {
			return "", fmt.Sprintf("the last 4 characters of the %s %s", what, whole)
		}
		return a, ""
	})
	if err != nil {
		if contextCauseOf(j) != nil {
			return "", err
		}
		result := "not confirmed"
		if errors.Is(err, ErrCanceled) {
			result = "canceled"
			err = fmt.Errorf("wipe of %s: %w", j.dev.Dev, ErrCanceled)
		} else {
			err = fmt.Errorf("wipe of %s not confirmed: %w", j.dev.Dev, err)
		}
		j.record("wipe", map[string]any{"result": result, "device": identityFields(j.dev)})
		return "", err
	}
	fields, err := j.askCertificate()
	if err != nil {
		return "", err
	}
	if err := j.stage(Wiping); err != nil {
		return "", err
	}
	rep, err := p.Wiper.Wipe(j.ctx, j.dev, j.phaseProgress())
	if err == nil && rep != nil {
		err = rep.Failed()
	}
	if err != nil {
		return "", j.certifyFailure(rep, err)
	}
	idx, err := j.record("wipe", map[string]any{"result": "verified", "summary": rep.Summary(), "device": identityFields(j.dev),
		"method": s.pol.Sanitize.Method, "verify": s.pol.Sanitize.Verify})
	if err != nil {
		return "", err
	}
	if err := j.stage(Formatting); err != nil {
		return "", err
	}
	res, ferr := p.Wiper.Finish(j.ctx, j.dev, rep, WipeJob{Operator: j.operator, Fields: fields}, idx)
	if res != nil && res.Certificate != nil {
		// Recorded even when the reformat failed: then it is the FAILED certificate.
		csum := sha256.Sum256(res.Certificate)
		if _, err := j.record("certificate", map[string]any{"passed": res.Passed, "sha256": hex.EncodeToString(csum[:]),
			"summary": res.Summary, "certificate": string(res.Certificate), "signature": string(res.Signature)}); err != nil {
			return "", err
		}
	}
	if ferr != nil {
		return "", fmt.Errorf("reformat %s: %w", j.dev.Dev, ferr)
	}
	if !res.Passed {
		return "", fmt.Errorf("sanitize %s: %s", j.dev.Dev, res.Summary)
	}
	if err := j.stage(Pass); err != nil {
		return "", err
	}
	if res.Where != "" {
		j.show(console.Event{Kind: console.KOutput, Action: "certificate", Path: res.Where})
	}
	j.show(console.Event{Kind: console.KOutput, Action: "log", Path: p.Log.Where()})
	j.show(console.Event{Kind: console.KPass, Text: fmt.Sprintf("sanitized %s: %s; certificate on the stick", j.dev.Dev, res.Summary)})
	return "", nil
}

// certifyFailure records a failed wipe; a failed wipe is never a success.
func (j *job) certifyFailure(rep WipeReport, err error) error {
	fields := map[string]any{"result": "failed", "error": failText(err), "device": identityFields(j.dev)}
	if rep != nil {
		fields["summary"] = rep.Summary()
	}
	j.record("wipe", fields)
	return fmt.Errorf("wipe %s: %w", j.dev.Dev, err)
}

// checkFlow: verify a disc's seal, hashes and audit consistency.
func (j *job) checkFlow() (string, error) {
	p := j.s.parts
	if err := j.stage(Checking); err != nil {
		return "", err
	}
	fsys, closer, err := p.Devices.OpenFS(j.ctx, j.dev)
	if err != nil {
		return "", err
	}
	defer closer.Close()
	summary, err := p.Checker.Check(j.ctx, j.dev, fsys)
	if err != nil {
		j.record("check", map[string]any{"result": "invalid", "error": failText(err)})
		return "", fmt.Errorf("check %s: %w", j.dev.Dev, err)
	}
	if _, err := j.record("check", map[string]any{"result": "valid", "summary": summary}); err != nil {
		return "", err
	}
	return fmt.Sprintf("disc %s: %s", j.dev.Dev, summary), nil
}
