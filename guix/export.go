package guix

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Export stream limits.
const (
	MaxReferences   = 1 << 14                                      // references of one item
	MaxStorePathLen = len(StoreDir) + 1 + 32 + 1 + maxStoreNameLen // bytes of a store path string
	MaxSignatureLen = 64 << 10                                     // bytes of one signature s-expression
	exportMagic     = 0x4558494e
)

// ErrTrailingData is wrapped by the error ExportReader.Next returns when bytes follow the end
// marker. guix-daemon ignores them; airlock refuses them.
var ErrTrailingData = errors.New("trailing data after the end marker")

// ItemInfo is what an export item says after its NAR, plus the hashes computed while reading.
type ItemInfo struct {
	StorePath  string
	References []string
	Deriver    string // "" if none
	Signature  []byte // the signature s-expression text, nil if unsigned
	NARSize    int64
	NARHash    [32]byte // SHA-256 of the NAR
	SignedHash [32]byte // SHA-256 of the signed span: first NAR byte through the deriver
}

// ExportReader reads a "guix archive --export" stream item by item in one pass with constant
// memory:
//
//	er := guix.NewExportReader(f)
//	for {
//		item, err := er.Next()
//		if err == io.EOF {
//			break // end marker reached, nothing after it
//		}
//		if err != nil {
//			return err // *FormatError, or wraps ErrTrailingData
//		}
//		// optionally walk item.NAR() here
//		info, err := item.Trailer()
//		...
//	}
type ExportReader struct {
	w    *wire
	n    int // items started
	cur  *ExportItem
	done bool
	err  error

	// onTrailer, when set, is called after each item's signature has been read (and not
	// teed), before the next item's marker.
	onTrailer func(*ItemInfo) error
}

// NewExportReader returns a reader of the export stream r.
func NewExportReader(r io.Reader) *ExportReader {
	return &ExportReader{w: newWire(r)}
}

// ExportItem is one item of an export stream being read.
type ExportItem struct {
	er    *ExportReader
	index int
	start int64 // stream offset of the NAR
	nar   *NARReader
	info  *ItemInfo
	err   error
	h     hash.Hash
}

// Index is the item's position in the stream, from 0.
func (it *ExportItem) Index() int { return it.index }

// Offset is the stream offset of the item's NAR.
func (it *ExportItem) Offset() int64 { return it.start }

// NAR returns the reader of the item's NAR, to walk it while streaming. It must be used before
// Trailer is called; entries it has not read are skipped (but still checked) by Trailer.
func (it *ExportItem) NAR() *NARReader { return it.nar }

func (er *ExportReader) fail(rule Rule, item int, detail string, err error) error {
	if err == nil {
		err = ErrMalformed
	}
	return &FormatError{Offset: er.w.off, Item: item, Rule: rule, Detail: detail, Err: err}
}

func (er *ExportReader) wireErr(err error, item int, tooLong Rule) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return er.fail(RuleTruncated, item, "", io.ErrUnexpectedEOF)
	case errors.Is(err, errUpper32):
		return er.fail(RuleLength, item, err.Error(), nil)
	case errors.Is(err, errTooLong):
		return er.fail(tooLong, item, err.Error(), nil)
	case errors.Is(err, errNonZeroPd):
		return er.fail(RulePadding, item, "", nil)
	}
	return er.fail(RuleRead, item, "", err)
}

// Next finishes the current item (see Trailer) and starts the next one. It returns io.EOF after
// the end marker when nothing follows it, and an error wrapping ErrTrailingData when something
// does. An empty input is a truncated stream.
func (er *ExportReader) Next() (*ExportItem, error) {
	if er.err != nil {
		return nil, er.err
	}
	it, err := er.next()
	if err != nil {
		er.err = err
	}
	return it, err
}

func (er *ExportReader) next() (*ExportItem, error) {
	if er.cur != nil {
		if _, err := er.cur.Trailer(); err != nil {
			return nil, err
		}
		er.cur = nil
	}
	if er.done {
		return nil, io.EOF
	}
	markerOff := er.w.off
	m, err := er.w.u64()
	if err != nil {
		return nil, er.wireErr(err, -1, RuleItemMarker)
	}
	switch m {
	case 0:
		er.done = true
		eof, err := er.w.atEOF()
		if err != nil {
			return nil, er.fail(RuleRead, -1, "", err)
		}
		if !eof {
			return nil, &FormatError{Offset: er.w.off, Item: -1, Rule: RuleTrailing,
				Detail: fmt.Sprintf("after the end marker at offset %d", markerOff), Err: ErrTrailingData}
		}
		return nil, io.EOF
	case 1:
	default:
		return nil, &FormatError{Offset: markerOff, Item: -1, Rule: RuleItemMarker,
			Detail: fmt.Sprintf("%#x, want 0 or 1", m), Err: ErrMalformed}
	}
	it := &ExportItem{er: er, index: er.n, start: er.w.off, h: sha256.New()}
	er.n++
	er.w.h = it.h
	it.nar = newEmbeddedNAR(er.w, it.index)
	er.cur = it
	return it, nil
}

// Trailer reads the rest of the item (skipping, but still checking, NAR contents not read
// through NAR()) and returns its metadata and hashes. Calling it again returns the same result.
func (it *ExportItem) Trailer() (*ItemInfo, error) {
	if it.info != nil || it.err != nil {
		return it.info, it.err
	}
	info, err := it.trailer()
	if err != nil {
		it.err = err
		it.er.err = err
		return nil, err
	}
	it.info = info
	return info, nil
}

func (it *ExportItem) trailer() (*ItemInfo, error) {
	er, w := it.er, it.er.w
	for {
		_, err := it.nar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	info := &ItemInfo{NARSize: w.off - it.start}
	// The NAR hash is the signed-span hash so far: snapshot it instead of hashing twice.
	st, err := it.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	nh := sha256.New()
	if err := nh.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
		return nil, err
	}
	nh.Sum(info.NARHash[:0])

	magicOff := w.off
	m, err := w.u64()
	if err != nil {
		return nil, er.wireErr(err, it.index, RuleLength)
	}
	if m != exportMagic {
		return nil, &FormatError{Offset: magicOff, Item: it.index, Rule: RuleExportMagic,
			Detail: fmt.Sprintf("%#x, want %#x", m, exportMagic), Err: ErrMalformed}
	}
	pathOff := w.off
	p, err := w.str(nil, MaxStorePathLen)
	if err != nil {
		return nil, er.wireErr(err, it.index, RuleStorePath)
	}
	if err := CheckStorePath(string(p)); err != nil {
		return nil, &FormatError{Offset: pathOff, Item: it.index, Rule: RuleStorePath, Detail: err.Error(), Err: ErrMalformed}
	}
	info.StorePath = string(p)
	countOff := w.off
	n, err := w.u64()
	if err != nil {
		return nil, er.wireErr(err, it.index, RuleLength)
	}
	if n > MaxReferences {
		return nil, &FormatError{Offset: countOff, Item: it.index, Rule: RuleTooManyRefs,
			Detail: fmt.Sprintf("%d > %d", n, MaxReferences), Err: ErrMalformed}
	}
	var prev []byte
	for i := uint64(0); i < n; i++ {
		refOff := w.off
		ref, err := w.str(nil, MaxStorePathLen)
		if err != nil {
			return nil, er.wireErr(err, it.index, RuleStorePath)
		}
		if err := CheckStorePath(string(ref)); err != nil {
			return nil, &FormatError{Offset: refOff, Item: it.index, Rule: RuleStorePath,
				Detail: "reference: " + err.Error(), Err: ErrMalformed}
		}
		if prev != nil && bytes.Compare(ref, prev) <= 0 {
			return nil, &FormatError{Offset: refOff, Item: it.index, Rule: RuleReferences,
				Detail: fmt.Sprintf("%q after %q", ref, prev), Err: ErrMalformed}
		}
		prev = ref
		info.References = append(info.References, string(ref))
	}
	drvOff := w.off
	drv, err := w.str(nil, MaxStorePathLen)
	if err != nil {
		return nil, er.wireErr(err, it.index, RuleStorePath)
	}
	if len(drv) > 0 {
		if err := CheckStorePath(string(drv)); err != nil {
			return nil, &FormatError{Offset: drvOff, Item: it.index, Rule: RuleStorePath,
				Detail: "deriver: " + err.Error(), Err: ErrMalformed}
		}
	}
	info.Deriver = string(drv)
	it.h.Sum(info.SignedHash[:0])
	w.h = nil

	// The signature flag and signature are outside the signed span and are not copied to a
	// tee: a re-signer writes its own (onTrailer).
	tee := w.tee
	w.tee = nil
	flagOff := w.off
	flag, err := w.u64()
	if err != nil {
		return nil, er.wireErr(err, it.index, RuleSignatureFlag)
	}
	switch flag {
	case 0:
	case 1:
		sig, err := w.str(nil, MaxSignatureLen)
		if err != nil {
			return nil, er.wireErr(err, it.index, RuleSignatureLen)
		}
		if sig == nil {
			sig = []byte{} // flag 1 with an empty string: signed, corruptly
		}
		info.Signature = sig
	default:
		return nil, &FormatError{Offset: flagOff, Item: it.index, Rule: RuleSignatureFlag,
			Detail: fmt.Sprintf("%#x, want 0 or 1", flag), Err: ErrMalformed}
	}
	w.tee = tee
	if er.onTrailer != nil {
		if err := er.onTrailer(info); err != nil {
			return nil, err
		}
	}
	return info, nil
}
