package scanner

import (
	"errors"
	"io"
)

// GuixPolicy judges the items of Guix export streams (the ACL, from package guix).
type GuixPolicy interface{}

// GuixResult is the per-item verdict on one export stream, made in the same read as the scan.
type GuixResult struct {
	Items    []GuixItem `json:"items"`
	Stream   string     `json:"stream,omitempty"` // stream-level failure, e.g. "trailing-data"
	Accepted bool       `json:"accepted"`
}

// GuixItem is one store item of an export and how the ACL judged it.
// GuixValid is the outcome of an item that may be imported.
const GuixValid = "valid"

type GuixItem struct {
	StorePath string `json:"store_path"`
	Outcome   string `json:"outcome"`
}

func (w *worker) walkGuix(st *walkState, f *File, kind string, r io.Reader, depth int) error {
	return errors.New("the guix NAR reader is not wired yet")
}
