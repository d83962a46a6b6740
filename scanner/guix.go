package scanner

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
)

// GuixPolicy judges one item of a Guix export as guix-daemon would (signature, key authorized,
// signed hash); *guix.ACL is one. Missing references are checked by the scanner itself.
type GuixPolicy interface {
	Judge(info *guix.ItemInfo) guix.Outcome
}

// GuixValid is the outcome of an item that may be imported.
const GuixValid = string(guix.OutcomeValid)

// GuixResult is the verdict on one top-level Guix export stream, made in the same read as the
// scan of its files: every item judged in stream order against an empty store (a reference
// counts only if it is an earlier item), as guix.VerifyExport does.
type GuixResult struct {
	Items []GuixItem `json:"items"`
	// Stream is "" for a complete stream, else guix.StreamTruncated, StreamTrailingData or
	// StreamMalformed.
	Stream string `json:"stream,omitempty"`
	// Accepted: at least one item, every item valid, the stream complete.
	Accepted bool `json:"accepted"`
}

// GuixItem is one store item of an export and how the ACL judged it.
type GuixItem struct {
	StorePath string `json:"store_path"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason,omitempty"`
}

// walkGuix descends into a NAR or an export stream. Inner files of an export item are named
// "EXPORT!STOREPATH/PATH"; while an item's NAR is being read its store path (which follows the
// NAR) is not known yet, so they are named "EXPORT!#N/PATH" and renamed once the trailer is read
// (they keep "#N" if the stream breaks first).
func (w *worker) walkGuix(st *walkState, f *File, kind string, r io.Reader, depth int) error {
	if kind == FormatNAR {
		return w.walkNAR(st, f, guix.NewNARReader(r), "", depth)
	}
	policy := w.s.opt.Guix
	var res *GuixResult
	if depth == 0 && policy != nil {
		res = &GuixResult{}
		st.guix = res
	}
	known := map[string]bool{}
	er := guix.NewExportReader(r)
	for n := 0; ; n++ {
		it, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return guixStreamError(res, err)
		}
		placeholder := "#" + strconv.Itoa(n)
		first := len(st.inner)
		if err := w.walkNAR(st, f, it.NAR(), placeholder, depth); err != nil {
			var le *limitError
			if errors.As(err, &le) {
				return err
			}
			return guixStreamError(res, err)
		}
		info, err := it.Trailer()
		if err != nil {
			return guixStreamError(res, err)
		}
		old := f.Path + "!" + placeholder
		for i := first; i < len(st.inner); i++ {
			if p := st.inner[i].Path; strings.HasPrefix(p, old) {
				st.inner[i].Path = f.Path + "!" + info.StorePath + p[len(old):]
			}
		}
		if res != nil {
			item := GuixItem{StorePath: info.StorePath, Outcome: string(policy.Judge(info))}
			if item.Outcome == GuixValid {
				var missing []string
				for _, ref := range info.References {
					if ref != info.StorePath && !known[ref] && !w.present(ref) {
						missing = append(missing, ref)
					}
				}
				if len(missing) > 0 {
					item.Outcome = string(guix.OutcomeMissingReference)
					item.Reason = "not earlier in the stream nor present: " + strings.Join(missing, " ")
				}
			}
			res.Items = append(res.Items, item)
		}
		known[info.StorePath] = true
	}
	if res != nil {
		res.Accepted = len(res.Items) > 0
		for _, it := range res.Items {
			res.Accepted = res.Accepted && it.Outcome == GuixValid
		}
	}
	return nil
}

func (w *worker) present(storePath string) bool {
	for _, p := range w.s.opt.GuixPresent {
		if p == storePath {
			return true
		}
	}
	return false
}

// guixStreamError records a broken stream in res (if judging) and returns the error that makes
// the export unscannable: bytes the scanner could not attribute to an item were not seen as
// files.
func guixStreamError(res *GuixResult, err error) error {
	if res != nil {
		res.Accepted = false
		switch {
		case errors.Is(err, guix.ErrTrailingData):
			res.Stream = string(guix.StreamTrailingData)
		case errors.Is(err, io.ErrUnexpectedEOF):
			res.Stream = string(guix.StreamTruncated)
			res.Items = append(res.Items, GuixItem{Outcome: string(guix.OutcomeTruncated), Reason: err.Error()})
		default:
			res.Stream = string(guix.StreamMalformed)
			res.Items = append(res.Items, GuixItem{Outcome: string(guix.OutcomeMalformed), Reason: err.Error()})
		}
	}
	return err
}

// walkNAR scans every regular file of a NAR and records its symlinks. prefix goes before each
// entry's path ("/a/b"); a NAR whose root is a regular file has the entry path "".
func (w *worker) walkNAR(st *walkState, f *File, nr *guix.NARReader, prefix string, depth int) error {
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		e, err := nr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := prefix + e.Path
		if name == "" {
			name = "/"
		}
		switch e.Type {
		case guix.Regular:
			if err := w.entry(st, f, name, nr, e.Size, depth+1); err != nil {
				return err
			}
		case guix.Symlink:
			if err := w.record(st, f, name, TypeSymlink, e.Target, "symbolic link: recorded, not followed", depth+1); err != nil {
				return err
			}
		case guix.Directory:
		default:
			return fmt.Errorf("NAR entry %s: unknown type %v", name, e.Type)
		}
	}
}
