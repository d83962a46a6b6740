package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
)

// Decompressing an archive is serial, so one big archive would keep one worker busy while the
// others sit idle. The worker reading an archive therefore queues its plain inner files (not
// archives themselves, small enough for a slot) to a pool that every worker of the ScanFS call
// serves before taking a new top-level file; another worker hashes and scans them while the
// reader decompresses the next entry. A queued file is a copy in a ring of handoffRing bytes
// shared by the workers, so the pool adds at most handoffRing bytes; when the ring has no room
// the reader scans the file itself, as it would without the pool. The reader waits for its
// queued files (running queued work itself meanwhile) before its top-level result is emitted,
// so results are complete and the same as without the pool.
const (
	handoffRing  = 8 << 20
	handoffMax   = 4 << 20 // larger files are scanned by the reader
	handoffQueue = 64      // queued files at most
)

// pool is the queue of one ScanFS call.
type pool struct {
	queue chan *handoff
	mu    sync.Mutex
	ring  []byte  // allocated when first needed
	live  []*span // allocation order
}

// span is one allocation in the ring.
type span struct {
	off, end int
	done     bool
}

func newPool() *pool { return &pool{queue: make(chan *handoff, handoffQueue)} }

// alloc returns n contiguous bytes of the ring, or nil if there is no room. Allocations are
// freed in any order but their room is reused in allocation order (a ring), which is the order
// the queue hands them out.
func (p *pool) alloc(n int) (*span, []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.live) >= handoffQueue {
		return nil, nil
	}
	if p.ring == nil {
		p.ring = make([]byte, handoffRing)
	}
	off := -1
	if len(p.live) == 0 {
		off = 0
	} else if first, newest := p.live[0].off, p.live[len(p.live)-1]; newest.off >= first {
		// Not wrapped: room after the newest, or before the oldest.
		last := newest.end
		if len(p.ring)-last >= n {
			off = last
		} else if first >= n {
			off = 0
		}
	} else if first-newest.end >= n { // wrapped: room between the newest and the oldest
		off = newest.end
	}
	if off < 0 {
		return nil, nil
	}
	sp := &span{off: off, end: off + n}
	p.live = append(p.live, sp)
	return sp, p.ring[off : off+n : off+n]
}

// release frees sp and the room of every freed allocation before it.
func (p *pool) release(sp *span) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp.done = true
	for len(p.live) > 0 && p.live[0].done {
		p.live[0] = nil
		p.live = p.live[1:]
	}
}

// handoff is one queued inner file; the fields below buf are the results, read by the owner
// once pending says the file was done.
type handoff struct {
	buf   []byte
	sp    *span
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

// tryHandoff queues data (the contents of st.inner[idx], a plain file) if the ring has room.
func (w *worker) tryHandoff(st *walkState, idx int, data []byte) bool {
	if w.pool == nil || len(data) == 0 || len(data) > handoffMax {
		return false
	}
	sp, buf := w.pool.alloc(len(data))
	if sp == nil {
		return false
	}
	h := &handoff{buf: buf[:copy(buf, data)], sp: sp, owner: st, idx: idx}
	if st.hand.wake == nil {
		st.hand.wake = make(chan struct{}, 1)
	}
	st.hand.handed = append(st.hand.handed, h)
	st.hand.pending.Add(1)
	w.pool.queue <- h // never blocks: at most handoffQueue are allocated
	return true
}

// runHandoff hashes and scans a queued file with w's scanner and frees its room in the ring.
func (w *worker) runHandoff(h *handoff) {
	sum := sha256.Sum256(h.buf)
	h.sum = hex.EncodeToString(sum[:])
	h.f.Verdict = Clean
	w.yara(&h.f, memSource(h.buf), int64(len(h.buf)))
	h.buf = nil
	w.pool.release(h.sp)
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
