package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
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
//
// A plain inner file too large for the ring is lent instead of copied: it stays where the reader
// stored it in its own arena, another worker hashes and scans it there, and the reader goes on
// decompressing into the arena above it. Lent regions sit together on top of the arena stack;
// the reader takes them back all at once (waiting for them, running queued work meanwhile) before
// it needs their room or releases anything below them, so a lent byte is never overwritten while
// another worker reads it. Lending costs no memory beyond the arena the reader already has.
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
	lent  int     // queued files lent by readers, not in the ring
	// counts of work queued since the pool was made: files copied to the ring, lent from an
	// arena, lent as a temporary file; containers' own scans
	copied, lentArena, lentFile, containers int
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
	if len(p.live)+p.lent >= handoffQueue {
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
	p.copied++
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

// reserveLend takes a queue slot for work on bytes the queuing worker holds (not in the ring),
// if one is free, and counts it in *count (one of p's counts).
func (p *pool) reserveLend(count *int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.live)+p.lent >= handoffQueue {
		return false
	}
	p.lent++
	*count++
	return true
}

// unreserveLend frees a lent file's queue slot once it is done.
func (p *pool) unreserveLend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lent--
}

// handoff is one queued inner file; sum and f are the results, read by the owner once done (or
// pending) says the file was done.
type handoff struct {
	src   io.ReaderAt // memSource, or a temporary file
	size  int64
	sp    *span // the ring's room holding src; nil if src is lent
	owner *walkState
	idx   int // in owner.inner
	done  atomic.Bool
	// scanOnly: a container's own scan (scanElsewhere); no hash, no entry in owner.inner
	scanOnly bool
	sum      string // preset if the reader hashed the file while storing it
	f        File   // Verdict, Limit, Reason, Rules
}

// lend is an arena region [off, off+n) lent to the pool.
type lend struct {
	h      *handoff
	off, n int
}

// fileLend is a temporary file lent to the pool, and how to release it once it is done.
type fileLend struct {
	h       *handoff
	release func()
}

// handoffState is a walkState's count of queued files not yet done, and a wake-up for the owner.
type handoffState struct {
	handed  []*handoff
	pending atomic.Int64
	wake    chan struct{}
}

// handOff queues the plain inner file (see sniff) st.inner[idx], n bytes of src (sum: its SHA-256 if the
// reader already has it), to the pool: copied into the ring if small, else lent from where the
// reader stored it. A lent file's release moves from *release to the lender, which calls it when
// the file is done. It reports false if the file must be scanned by the reader.
func (w *worker) handOff(st *walkState, idx int, src io.ReaderAt, n int64, sum string, release *func()) bool {
	if n == 0 {
		return false
	}
	if m, ok := src.(memSource); ok {
		m = m[:n]
		if n <= handoffMax {
			if sp, buf := w.pool.alloc(int(n)); sp != nil {
				w.queue(st, &handoff{src: memSource(buf[:copy(buf, m)]), size: n, sp: sp, sum: sum, owner: st, idx: idx})
				return true
			}
		}
		return w.tryLend(st, idx, m, sum, release)
	}
	return w.tryLendFile(st, idx, src, n, sum, release)
}

// tryLend queues data, the region on top of w's arena, without copying it, if it is worth
// another worker's time and the lent regions stay one block on top of the stack.
func (w *worker) tryLend(st *walkState, idx int, data memSource, sum string, release *func()) bool {
	off := w.used - len(data)
	if len(data) <= handoffMax || off < 0 || &w.arena[off] != &data[0] {
		return false
	}
	if n := len(w.lends); n > 0 && w.lends[n-1].off+w.lends[n-1].n != off {
		return false // something of the reader's own lies between: it would be freed under them
	}
	if !w.pool.reserveLend(&w.pool.lentArena) {
		return false
	}
	h := &handoff{src: data, size: int64(len(data)), sum: sum, owner: st, idx: idx}
	w.lends = append(w.lends, lend{h: h, off: off, n: len(data)})
	*release = func() {} // the region is settleLends' now
	w.queue(st, h)
	return true
}

// scanElsewhere queues the YARA scan of a container's own bytes (src stays valid until the
// caller's mergeScan returns), or returns nil if there is no pool or no free slot.
func (w *worker) scanElsewhere(st *walkState, src io.ReaderAt, size int64) *handoff {
	if w.pool == nil || size == 0 || !w.pool.reserveLend(&w.pool.containers) {
		return nil
	}
	if st.hand.wake == nil {
		st.hand.wake = make(chan struct{}, 1)
	}
	h := &handoff{src: src, size: size, scanOnly: true, owner: st}
	st.hand.pending.Add(1)
	w.pool.queue <- h // never blocks: the slot is reserved
	return h
}

// mergeScan waits for a container's scan queued by scanElsewhere and folds its outcome into f,
// which the walk has meanwhile worsened, exactly as if the scan had come first (see yara and
// worsen): the worse verdict, the scan's reason before the walk's, the walk's limit if it set
// one, the scan's rules.
func (w *worker) mergeScan(f *File, h *handoff) {
	w.await(h)
	y := h.f
	if y.Verdict.rank() > f.Verdict.rank() {
		f.Verdict = y.Verdict
	}
	switch {
	case y.Reason == "":
	case f.Reason == "":
		f.Reason = y.Reason
	default:
		f.Reason = y.Reason + "; " + f.Reason
	}
	if f.Limit == "" {
		f.Limit = y.Limit
	}
	f.Rules = y.Rules
}

// maxFileLends is how many spilled files (temporary files) one reader may have lent at once:
// each holds its whole size on the temporary filesystem until it is scanned.
const maxFileLends = 1

// tryLendFile queues a plain inner file that was spilled to a temporary file; its release (the
// file's close) waits until it is scanned. The reader first takes back its oldest lent file if
// it has maxFileLends out.
func (w *worker) tryLendFile(st *walkState, idx int, src io.ReaderAt, n int64, sum string, release *func()) bool {
	if n <= handoffMax || sum == "" {
		return false
	}
	if len(w.fileLends) >= maxFileLends {
		w.settleFileLends(maxFileLends - 1)
	}
	if !w.pool.reserveLend(&w.pool.lentFile) {
		return false
	}
	h := &handoff{src: src, size: n, sum: sum, owner: st, idx: idx}
	w.fileLends = append(w.fileLends, fileLend{h: h, release: *release})
	*release = func() {}
	w.queue(st, h)
	return true
}

// settleFileLends waits for the oldest lent files, running queued work meanwhile, and releases
// them until at most keep remain.
func (w *worker) settleFileLends(keep int) {
	for len(w.fileLends) > keep {
		l := w.fileLends[0]
		w.await(l.h)
		l.release()
		w.fileLends = w.fileLends[1:]
	}
}

// await returns when h is done, running queued work meanwhile.
func (w *worker) await(h *handoff) {
	for !h.done.Load() {
		select {
		case q := <-w.pool.queue:
			w.runHandoff(q)
		case <-h.owner.hand.wake:
		}
	}
}

// queue hands h to the pool; it never blocks: at most handoffQueue are queued or lent.
func (w *worker) queue(st *walkState, h *handoff) {
	if st.hand.wake == nil {
		st.hand.wake = make(chan struct{}, 1)
	}
	st.hand.handed = append(st.hand.handed, h)
	st.hand.pending.Add(1)
	w.pool.queue <- h
}

// settleLends waits until every region w lent is done (running queued work meanwhile) and pops
// them off the arena: they are the top of the stack whenever this is called.
func (w *worker) settleLends() {
	if len(w.lends) == 0 {
		return
	}
	for _, l := range w.lends {
		w.await(l.h)
	}
	if last := w.lends[len(w.lends)-1]; last.off+last.n != w.used {
		panic("scanner: lent arena regions are not the top of the stack") // a bug, not bad input
	}
	w.used = w.lends[0].off
	w.lends = w.lends[:0]
}

// runHandoff hashes and scans a queued file with w's scanner and frees its room in the ring.
func (w *worker) runHandoff(h *handoff) {
	if h.sum == "" && !h.scanOnly {
		sum := sha256.Sum256(h.src.(memSource)[:h.size]) // only ring and arena copies come unhashed
		h.sum = hex.EncodeToString(sum[:])
	}
	h.f.Verdict = Clean
	w.yara(&h.f, h.src, h.size)
	h.src = nil
	if h.sp != nil {
		w.pool.release(h.sp)
	} else {
		w.pool.unreserveLend()
	}
	h.done.Store(true)
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
		// The walk may have worsened the entry meanwhile (a zip entry whose claimed type
		// disagrees with its data): the scan's outcome comes first, as if it had run there.
		g := &st.inner[h.idx]
		walkVerdict, walkReason := g.Verdict, g.Reason
		g.SHA256, g.Rules, g.Verdict, g.Limit, g.Reason = h.sum, h.f.Rules, h.f.Verdict, h.f.Limit, h.f.Reason
		if walkVerdict.rank() > g.Verdict.rank() {
			g.Verdict = walkVerdict
		}
		g.Reason = joinReason(g.Reason, walkReason)
	}
	st.hand.handed = nil
}
