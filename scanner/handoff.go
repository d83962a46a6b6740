package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
)

// Decompressing an archive is serial, so one big archive would keep one worker busy while the
// others sit idle. The worker reading an archive therefore queues its plain inner files (not
// archives themselves, small enough for a slot) to a pool that every worker of the ScanFS call
// serves before taking a new top-level file; another worker hashes and scans them while the
// reader decompresses the next entry. A queued file is a copy in one of handoffSlots fixed
// buffers of handoffMax bytes, so the pool adds at most handoffSlots*handoffMax bytes; with no
// free slot the reader scans the file itself, as it would without the pool. The reader waits for
// its queued files (running queued work itself meanwhile) before its top-level result is
// emitted, so results are complete and the same as without the pool.
const (
	handoffSlots = 4
	handoffMax   = 2 << 20
)

// pool is the queue of one ScanFS call.
type pool struct {
	queue chan *handoff
	free  chan []byte // slots; nil until first used
}

func newPool() *pool {
	p := &pool{queue: make(chan *handoff, handoffSlots), free: make(chan []byte, handoffSlots)}
	for range handoffSlots {
		p.free <- nil
	}
	return p
}

// handoff is one queued inner file; the fields below buf are the results, read by the owner
// once pending says the file was done.
type handoff struct {
	buf   []byte
	owner *walkState
	idx   int // in owner.inner
	sum   string
	f     File // Verdict, Limit, Reason, Rules
}

// handoffState is a walkState's count of queued files not yet done, and a wake-up for the owner.
type handoffState struct {
	handed  []*handoff
	pending atomic.Int64
	wake    chan struct{}
}

// tryHandoff queues data (the contents of st.inner[idx], a plain file) if a slot is free.
func (w *worker) tryHandoff(st *walkState, idx int, data []byte) bool {
	if w.pool == nil || len(data) > handoffMax {
		return false
	}
	var buf []byte
	select {
	case buf = <-w.pool.free:
	default:
		return false
	}
	if buf == nil {
		buf = make([]byte, handoffMax)
	}
	h := &handoff{buf: buf[:copy(buf, data)], owner: st, idx: idx}
	if st.hand.wake == nil {
		st.hand.wake = make(chan struct{}, 1)
	}
	st.hand.handed = append(st.hand.handed, h)
	st.hand.pending.Add(1)
	w.pool.queue <- h // never blocks: at most handoffSlots are out, one per slot
	return true
}

// runHandoff hashes and scans a queued file with w's scanner and frees its slot.
func (w *worker) runHandoff(h *handoff) {
	sum := sha256.Sum256(h.buf)
	h.sum = hex.EncodeToString(sum[:])
	h.f.Verdict = Clean
	w.yara(&h.f, memSource(h.buf), int64(len(h.buf)))
	w.pool.free <- h.buf[:cap(h.buf)]
	h.buf = nil
	st := h.owner
	st.hand.pending.Add(-1)
	select {
	case st.hand.wake <- struct{}{}:
	default:
	}
}

// drainHandoffs waits for st's queued files, serving the queue meanwhile (every worker waiting
// here runs queued work, so the wait always progresses), and records their results.
func (w *worker) drainHandoffs(st *walkState) {
	if len(st.hand.handed) == 0 {
		return
	}
	for st.hand.pending.Load() > 0 {
		select {
		case h := <-w.pool.queue:
			w.runHandoff(h)
		case <-st.hand.wake:
		}
	}
	for _, h := range st.hand.handed {
		g := &st.inner[h.idx]
		g.SHA256, g.Rules, g.Verdict, g.Limit, g.Reason = h.sum, h.f.Rules, h.f.Verdict, h.f.Limit, h.f.Reason
	}
	st.hand.handed = nil
}
