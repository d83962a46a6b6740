package guix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-appliance/airlock/internal/ctxio"
)

// StreamState is how an export stream ended.
type StreamState string

// Stream states.
const (
	StreamComplete     StreamState = "complete"      // end marker, then end of input
	StreamTruncated    StreamState = "truncated"     // input ended before the end marker
	StreamTrailingData StreamState = "trailing-data" // bytes after the end marker
	StreamMalformed    StreamState = "malformed"     // an item or marker breaks the format
	// StreamUnread: the reader stopped before the end for a reason that is not a verdict on the
	// bytes (a read error, a cancelled context, a scanner limit). Nothing after is judged.
	StreamUnread StreamState = "unread"
)

// ItemReport is the verdict on one item of a stream.
type ItemReport struct {
	Index     int       `json:"index"`
	StorePath string    `json:"store_path,omitempty"` // "" when the stream ended (or broke) before the store path
	Outcome   Outcome   `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`             // why, for anything but valid
	Missing   []string  `json:"missing_references,omitempty"` // references neither earlier in the stream nor present
	Info      *ItemInfo `json:"-"`                            // nil for truncated and malformed items
}

// ExportReport is the verdict on a whole export stream.
type ExportReport struct {
	Items  []ItemReport `json:"items"`
	Stream StreamState  `json:"stream"`
	// StreamErr is the error behind a stream that is not complete: a *FormatError for
	// truncated, trailing-data and malformed streams, whatever stopped the reader for unread.
	StreamErr error `json:"-"`
	// StreamReason is StreamErr's text, for the JSON form of the report.
	StreamReason string `json:"stream_error,omitempty"`
	// Accept is true iff there is at least one item, every item is valid and the stream is
	// complete.
	Accept bool `json:"accepted"`
}

// FirstFailure returns the first item that is not valid, or nil (guix-daemon stops there).
func (r *ExportReport) FirstFailure() *ItemReport {
	for i := range r.Items {
		if r.Items[i].Outcome != OutcomeValid {
			return &r.Items[i]
		}
	}
	return nil
}

// Reasons lists every reason the export is not accepted, one line each: the stream's state
// (when not complete), then each item that is not valid with its outcome and reason.
func (r *ExportReport) Reasons() []string {
	var out []string
	if r.Stream != StreamComplete {
		s := "stream " + string(r.Stream)
		if r.StreamReason != "" {
			s += ": " + r.StreamReason
		}
		out = append(out, s)
	}
	for _, it := range r.Items {
		if it.Outcome == OutcomeValid {
			continue
		}
		p := it.StorePath
		if p == "" {
			p = fmt.Sprintf("item %d", it.Index)
		}
		s := p + ": " + string(it.Outcome)
		if it.Reason != "" {
			s += " (" + it.Reason + ")"
		}
		out = append(out, s)
	}
	if len(r.Items) == 0 && r.Stream == StreamComplete {
		out = append(out, "the export holds no item")
	}
	return out
}

// Bounds of a Judge on one stream: the report grows with the number of items and of
// references, so a hostile stream must not make it grow without limit. The item that would be
// item MaxStreamItems+1 (or bring the references past MaxStreamReferences) makes the stream
// malformed (RuleTooManyItems) and is not reported.
const (
	MaxStreamItems      = 1 << 17
	MaxStreamReferences = 1 << 18
)

// Judge judges the items of one export stream as they are read, as guix-daemon importing
// them into a store that already holds the paths in present would, with the keys of an ACL
// authorized. It is the one owner of that rule: VerifyExport, the scanner (which walks each
// item's NAR for YARA in the same read) and the station all feed it. Items in, one report out:
//
//	j := guix.NewJudge(acl, present)
//	er := guix.NewExportReader(r)
//	for {
//		it, err := er.Next()
//		if err == nil {
//			// optionally walk it.NAR() here
//			err = j.Add(it)
//		}
//		if err != nil {
//			return j.Finish(err) // io.EOF: the stream is complete
//		}
//	}
//
// A Judge is not safe for concurrent use.
type Judge struct {
	acl   *ACL
	known map[string]bool
	// intern shares the strings of references to earlier items with their store paths.
	intern map[string]string
	refs   int
	rep    ExportReport
	over   error // the bound error Add returned, if any
	done   bool
}

// NewJudge returns a judge of one stream under acl, with present the store paths the target
// store already holds (references to them are satisfied).
func NewJudge(acl *ACL, present []string) *Judge {
	j := &Judge{acl: acl, known: make(map[string]bool, len(present)), intern: make(map[string]string)}
	for _, p := range present {
		j.known[p] = true
	}
	return j
}

// Add reads the rest of it (its Trailer) and judges it: the signature under the ACL in
// guix-daemon's order of checks, then its references. A reference is satisfied if it is the
// item itself, an earlier item of the stream (whatever that item's verdict) or present.
//
// A non-nil error ends the stream and is to be passed to Finish: the Trailer's error, or a
// *FormatError with RuleTooManyItems when the stream passes MaxStreamItems or
// MaxStreamReferences.
func (j *Judge) Add(it *ExportItem) error {
	if j.over != nil {
		return j.over
	}
	info, err := it.Trailer()
	if err != nil {
		return err
	}
	j.refs += len(info.References)
	if len(j.rep.Items) >= MaxStreamItems || j.refs > MaxStreamReferences {
		j.over = &FormatError{Offset: it.Offset(), Item: it.Index(), Rule: RuleTooManyItems,
			Detail: fmt.Sprintf("more than %d items or %d references", MaxStreamItems, MaxStreamReferences), Err: ErrMalformed}
		return j.over
	}
	for i, ref := range info.References {
		if s, ok := j.intern[ref]; ok {
			info.References[i] = s
		}
	}
	j.intern[info.StorePath] = info.StorePath
	ir := ItemReport{Index: it.Index(), StorePath: info.StorePath, Info: info}
	ir.Outcome, ir.Reason = j.acl.judge(info)
	if ir.Outcome == OutcomeValid {
		for _, ref := range info.References {
			if ref != info.StorePath && !j.known[ref] {
				ir.Missing = append(ir.Missing, ref)
			}
		}
		if len(ir.Missing) > 0 {
			ir.Outcome = OutcomeMissingReference
			ir.Reason = "not earlier in the stream nor present: " + strings.Join(ir.Missing, " ")
		}
	}
	j.known[info.StorePath] = true
	j.rep.Items = append(j.rep.Items, ir)
	return nil
}

// Finish ends the stream with err, what stopped reading it: nil or io.EOF for a complete
// stream (ExportReader.Next returned io.EOF), or the error of Next or Add. It returns the
// report; calling it again returns the same report.
//
// A format violation (a *FormatError other than RuleRead) is a verdict recorded in the report
// (Stream truncated, trailing-data or malformed, and a truncated or malformed item when the
// stream broke inside one), and the error is nil. Anything else (a read error, a cancelled
// context, a caller's limit) makes the stream unread: the report says so, and the error is
// returned wrapped, since the bytes after it were never judged.
func (j *Judge) Finish(err error) (*ExportReport, error) {
	rep := &j.rep
	if j.done {
		if rep.Stream == StreamUnread {
			return rep, fmt.Errorf("read export stream: %w", rep.StreamErr)
		}
		return rep, nil
	}
	j.done = true
	if j.over != nil {
		err = j.over
	}
	if err == nil || err == io.EOF {
		rep.Stream = StreamComplete
		rep.Accept = len(rep.Items) > 0 && rep.FirstFailure() == nil
		return rep, nil
	}
	rep.StreamErr, rep.StreamReason, rep.Accept = err, err.Error(), false
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Rule == RuleRead {
		rep.Stream = StreamUnread
		return rep, fmt.Errorf("read export stream: %w", err)
	}
	switch {
	case errors.Is(err, ErrTrailingData):
		rep.Stream = StreamTrailingData
	case errors.Is(err, io.ErrUnexpectedEOF):
		rep.Stream = StreamTruncated
		if fe.Item >= 0 {
			rep.Items = append(rep.Items, ItemReport{Index: fe.Item, Outcome: OutcomeTruncated, Reason: err.Error()})
		}
	default:
		rep.Stream = StreamMalformed
		if fe.Item >= 0 && err != j.over {
			rep.Items = append(rep.Items, ItemReport{Index: fe.Item, Outcome: OutcomeMalformed, Reason: err.Error()})
		}
	}
	return rep, nil
}

// VerifyExport judges every item of the export stream r as guix-daemon would importing it into
// a store that already holds the paths in present, with the keys of acl authorized:
// per item truncated, unsigned, corrupt-signature, unauthorized-key, invalid-signature,
// hash-mismatch, missing-reference or valid (see Outcome), each item on its own (see Judge).
//
// It reads r once with constant memory (plus the store paths of the items). A format
// violation is a verdict, not an error: the report's Stream says how the stream ended. The
// error is non-nil only for a failure to read r or a cancelled ctx.
func VerifyExport(ctx context.Context, r io.Reader, acl *ACL, present []string) (*ExportReport, error) {
	j := NewJudge(acl, present)
	er := NewExportReader(ctxio.NewReader(ctx, r))
	for {
		it, err := er.Next()
		if err == nil {
			err = j.Add(it)
		}
		if err != nil {
			return j.Finish(err)
		}
	}
}
