package scanner

import (
	"errors"
	"fmt"
	"math/bits"
)

// Inner files that are not archives are scanned by a helper goroutine with its own libyara
// scanner while the worker goes on decompressing and parsing the next entry, so one big export
// or tarball keeps two cores busy. The helper gets a copy of the bytes (the worker's arena is a
// stack that the next entry reuses); copies are bounded in number and bytes.
const (
	asyncMaxFile  = 2 << 20 // larger inner files are scanned in place by the worker
	asyncMaxBytes = 4 << 20 // bytes in flight per worker
	asyncMaxJobs  = 64      // jobs in flight per worker
)

type scanJob struct {
	idx int
	buf []byte
}

type scanOut struct {
	idx     int
	buf     []byte
	matches []RuleMatch
	err     error
}

type helper struct {
	e    *engine
	jobs chan scanJob
	out  chan scanOut
	done chan struct{}
	// Worker side only:
	jobsInFlight  int
	bytesInFlight int
	free          [32][][]byte // reusable buffers by size class (power of two)
}

func newHelper(r *Rules, opt Options) (*helper, error) {
	e, err := newEngine(r, opt.Timeout)
	if err != nil {
		return nil, err
	}
	h := &helper{e: e, jobs: make(chan scanJob, asyncMaxJobs), out: make(chan scanOut, asyncMaxJobs), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for j := range h.jobs {
			m, err := h.e.scanMem(j.buf)
			h.out <- scanOut{idx: j.idx, buf: j.buf, matches: m, err: err}
		}
	}()
	return h, nil
}

func (h *helper) close() {
	close(h.jobs)
	<-h.done
	h.e.destroy()
}

// submit queues a scan of data for st.inner[idx], waiting for earlier results while too much is
// in flight. It reports false when data is too big to go through the helper.
func (w *worker) submit(st *walkState, idx int, data []byte) bool {
	h := w.h
	if h == nil || len(data) > asyncMaxFile {
		return false
	}
	for h.jobsInFlight >= asyncMaxJobs || h.bytesInFlight+len(data) > asyncMaxBytes {
		w.collect(st)
	}
	class := bits.Len(uint(max(len(data), 4096) - 1))
	var buf []byte
	if n := len(h.free[class]); n > 0 {
		buf, h.free[class] = h.free[class][n-1], h.free[class][:n-1]
	} else {
		buf = make([]byte, 1<<class)
	}
	buf = buf[:len(data)]
	copy(buf, data)
	h.jobsInFlight++
	h.bytesInFlight += len(data)
	h.jobs <- scanJob{idx: idx, buf: buf}
	return true
}

// collect applies one finished scan.
func (w *worker) collect(st *walkState) {
	h := w.h
	o := <-h.out
	h.jobsInFlight--
	h.bytesInFlight -= len(o.buf)
	class := bits.Len(uint(cap(o.buf) - 1))
	h.free[class] = append(h.free[class], o.buf[:cap(o.buf)])
	w.apply(&st.inner[o.idx], o.matches, o.err)
}

// collectAll waits for every scan of this top-level file.
func (w *worker) collectAll(st *walkState) {
	for w.h != nil && w.h.jobsInFlight > 0 {
		w.collect(st)
	}
}

// apply records a libyara result on f.
func (w *worker) apply(f *File, matches []RuleMatch, err error) {
	f.Rules = matches
	switch {
	case err != nil && errors.Is(err, errScanTimeout):
		f.Verdict, f.Limit, f.Reason = LimitHit, LimitTimeout, fmt.Sprintf("yara scan exceeded %v", w.s.opt.Timeout)
	case err != nil:
		f.Verdict, f.Reason = Unscannable, "yara: "+err.Error()
	case len(matches) > 0:
		f.Verdict = Match
	}
}
