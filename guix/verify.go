package guix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StreamState is how an export stream ended.
type StreamState string

// Stream states.
const (
	StreamComplete     StreamState = "complete"      // end marker, then end of input
	StreamTruncated    StreamState = "truncated"     // input ended before the end marker
	StreamTrailingData StreamState = "trailing-data" // bytes after the end marker
	StreamMalformed    StreamState = "malformed"     // an item or marker breaks the format
)

// ItemReport is the verdict on one item of a stream.
type ItemReport struct {
	Index     int
	StorePath string // "" when the stream ended (or broke) before the store path
	Outcome   Outcome
	Reason    string    // why, for anything but valid
	Missing   []string  // references neither earlier in the stream nor present
	Info      *ItemInfo // nil for truncated and malformed items
}

// ExportReport is the verdict on a whole export stream.
type ExportReport struct {
	Items  []ItemReport
	Stream StreamState
	// StreamErr is the *FormatError behind a truncated, trailing-data or malformed stream.
	StreamErr error
	// Accept is true iff there is at least one item, every item is valid and the stream is
	// complete.
	Accept bool
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

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Bounds of VerifyExport on one stream: the report grows with the number of items and of
// references, so a hostile stream must not make it grow without limit.
const (
	MaxStreamItems      = 1 << 17
	MaxStreamReferences = 1 << 18
)

// VerifyExport judges every item of the export stream r as guix-daemon would importing it into
// a store that already holds the paths in present, with the keys of acl authorized:
// per item truncated, unsigned, corrupt-signature, unauthorized-key, invalid-signature,
// hash-mismatch, missing-reference or valid (see Outcome), each item on its own. A reference
// counts as present if it is the item itself, an earlier item of the stream (whatever that
// item's verdict) or listed in present.
//
// It reads r once with constant memory (plus the store paths of the items). A format
// violation is a verdict, not an error: the report's Stream says how the stream ended. The
// error is non-nil only for a failure to read r or a cancelled ctx.
func VerifyExport(ctx context.Context, r io.Reader, acl *ACL, present []string) (*ExportReport, error) {
	known := make(map[string]bool, len(present))
	for _, p := range present {
		known[p] = true
	}
	rep := &ExportReport{Stream: StreamComplete}
	er := NewExportReader(ctxReader{ctx, r})
	// intern shares the strings of references to earlier items with their store paths.
	intern := make(map[string]string)
	refs := 0
	for {
		it, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, rep.streamError(err, len(rep.Items))
		}
		info, err := it.Trailer()
		if err != nil {
			return rep, rep.streamError(err, it.Index())
		}
		refs += len(info.References)
		if len(rep.Items) >= MaxStreamItems || refs > MaxStreamReferences {
			rep.Stream, rep.Accept = StreamMalformed, false
			rep.StreamErr = &FormatError{Offset: er.w.off, Item: it.Index(), Rule: RuleTooManyItems,
				Detail: fmt.Sprintf("more than %d items or %d references", MaxStreamItems, MaxStreamReferences), Err: ErrMalformed}
			return rep, nil
		}
		for i, ref := range info.References {
			if s, ok := intern[ref]; ok {
				info.References[i] = s
			}
		}
		intern[info.StorePath] = info.StorePath
		ir := ItemReport{Index: it.Index(), StorePath: info.StorePath, Info: info}
		ir.Outcome, ir.Reason = acl.judge(info)
		if ir.Outcome == OutcomeValid {
			for _, ref := range info.References {
				if ref != info.StorePath && !known[ref] {
					ir.Missing = append(ir.Missing, ref)
				}
			}
			if len(ir.Missing) > 0 {
				ir.Outcome = OutcomeMissingReference
				ir.Reason = "not earlier in the stream nor present: " + strings.Join(ir.Missing, " ")
			}
		}
		known[info.StorePath] = true
		rep.Items = append(rep.Items, ir)
	}
	rep.Accept = len(rep.Items) > 0 && rep.FirstFailure() == nil
	return rep, nil
}

// streamError records a stream-level failure in the report, or returns it if it is not a
// verdict (I/O error, cancellation).
func (rep *ExportReport) streamError(err error, index int) error {
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Rule == RuleRead {
		return fmt.Errorf("read export stream: %w", err)
	}
	rep.StreamErr = err
	rep.Accept = false
	switch {
	case errors.Is(err, ErrTrailingData):
		rep.Stream = StreamTrailingData
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		rep.Stream = StreamTruncated
		if fe.Item >= 0 {
			rep.Items = append(rep.Items, ItemReport{Index: index, Outcome: OutcomeTruncated, Reason: err.Error()})
		}
	default:
		rep.Stream = StreamMalformed
		if fe.Item >= 0 {
			rep.Items = append(rep.Items, ItemReport{Index: index, Outcome: OutcomeMalformed, Reason: err.Error()})
		}
	}
	return nil
}
