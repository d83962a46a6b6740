package git

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pjbgf/sha1cd"
)

// byteCounter reads a section sequentially, counts the bytes consumed and implements
// io.ByteReader so that flate never reads past the end of a zlib stream.
type byteCounter struct {
	r   *bufio.Reader
	off int64
}

func (b *byteCounter) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.off += int64(n)
	return n, err
}

func (b *byteCounter) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err == nil {
		b.off++
	}
	return c, err
}

// packEntry is one object of a pack as the index knows it.
type packEntry struct {
	off     int64 // offset of the object header
	dataOff int64 // offset of the zlib stream
	typ     Type  // stored type: 1-4, or 6/7 for deltas
	size    int64 // declared inflated size of the stored data
	baseOff int64 // typeOfs: offset of the base
	baseOID OID   // typeRef: name of the base
	oid     OID
	real    Type // resolved type
	known   bool // oid and real are set
}

// Pack is an indexed pack over a ReaderAt. Its Object method resolves deltas on demand.
type Pack struct {
	name    string
	r       io.ReaderAt
	size    int64
	lim     Limits
	entries []packEntry
	byOff   map[int64]int
	byOID   map[OID]int64 // object name -> offset
	lazy    bool          // from a .idx: headers parsed on demand, names checked on read
	work    int64
	ext     Store // bases outside the pack (prerequisites), may be nil
	cache   *lru
}

// readHeader parses an object header at br (type and size varint, then the delta base).
func readHeader(br *byteCounter, e *packEntry, lim Limits) error {
	c, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("object header at %d: %w", e.off, truncated(err))
	}
	e.typ = Type((c >> 4) & 7)
	e.size = int64(c & 15)
	shift := uint(4)
	for c&0x80 != 0 {
		if c, err = br.ReadByte(); err != nil {
			return fmt.Errorf("object header at %d: %w", e.off, truncated(err))
		}
		if shift > 56 {
			return fmt.Errorf("object size at %d overflows: %w", e.off, ErrCorrupt)
		}
		e.size |= int64(c&0x7f) << shift
		shift += 7
	}
	if e.size > lim.MaxObjectSize {
		return fmt.Errorf("object at %d declares %d bytes (max %d): %w", e.off, e.size, lim.MaxObjectSize, ErrLimit)
	}
	switch e.typ {
	case TypeCommit, TypeTree, TypeBlob, TypeTag:
	case typeOfs:
		c, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("delta offset at %d: %w", e.off, truncated(err))
		}
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if c, err = br.ReadByte(); err != nil {
				return fmt.Errorf("delta offset at %d: %w", e.off, truncated(err))
			}
			if rel > 1<<48 {
				return fmt.Errorf("delta offset at %d overflows: %w", e.off, ErrCorrupt)
			}
			rel = ((rel + 1) << 7) | int64(c&0x7f)
		}
		if rel <= 0 || rel > e.off {
			return fmt.Errorf("delta at %d points outside the pack: %w", e.off, ErrCorrupt)
		}
		e.baseOff = e.off - rel
	case typeRef:
		if _, err := io.ReadFull(br, e.baseOID[:]); err != nil {
			return fmt.Errorf("delta base at %d: %w", e.off, truncated(err))
		}
	default:
		return fmt.Errorf("object at %d has type %d: %w", e.off, e.typ, ErrCorrupt)
	}
	e.dataOff = br.off
	return nil
}

func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("truncated: %w", ErrCorrupt)
	}
	return err
}

// inflate reads exactly size bytes of zlib data from r; more or less is corruption.
func inflate(r io.Reader, size int64) ([]byte, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w: %v", ErrCorrupt, truncated(err))
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(zr, buf); err != nil {
		return nil, fmt.Errorf("zlib: %w: %v", ErrCorrupt, truncated(err))
	}
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		if n != 0 {
			return nil, fmt.Errorf("zlib stream longer than declared %d bytes: %w", size, ErrCorrupt)
		}
		return nil, fmt.Errorf("zlib end: %w: %v", ErrCorrupt, truncated(err))
	}
	return buf, nil
}

// IndexPack reads the pack in r[0:size] sequentially, checks its trailer, hashes every
// object (resolving deltas) and returns it indexed. ext supplies delta bases outside the pack
// (a thin pack's prerequisites); with ext nil such a base is an error. name labels errors.
func IndexPack(name string, r io.ReaderAt, size int64, lim Limits, ext Store) (*Pack, error) {
	lim = lim.withDefaults()
	if lim.MaxWork == 0 {
		lim.MaxWork = max(4<<30, 64*size)
	}
	p := &Pack{name: name, r: r, size: size, lim: lim, byOff: map[int64]int{}, byOID: map[OID]int64{}, ext: ext, cache: newLRU(32 << 20)}
	if size < 32 {
		return nil, fmt.Errorf("%s: pack of %d bytes is truncated: %w", name, size, ErrCorrupt)
	}
	// Checksum the whole pack first (one sequential read) with collision detection.
	h := sha1cd.New().(interface {
		io.Writer
		CollisionResistantSum([]byte) ([]byte, bool)
	})
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size-20)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sum, coll := h.CollisionResistantSum(nil)
	var trailer [20]byte
	if _, err := r.ReadAt(trailer[:], size-20); err != nil {
		return nil, fmt.Errorf("%s: trailer: %w", name, truncated(err))
	}
	if coll {
		return nil, fmt.Errorf("%s: pack checksum: %w", name, ErrCollision)
	}
	if !bytes.Equal(sum, trailer[:]) {
		return nil, fmt.Errorf("%s: pack checksum mismatch (truncated or altered): %w", name, ErrCorrupt)
	}
	var hdr [12]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, truncated(err))
	}
	if string(hdr[:4]) != "PACK" {
		return nil, fmt.Errorf("%s: not a pack: %w", name, ErrCorrupt)
	}
	if v := binary.BigEndian.Uint32(hdr[4:]); v != 2 && v != 3 {
		return nil, fmt.Errorf("%s: pack version %d: %w", name, v, ErrCorrupt)
	}
	n := binary.BigEndian.Uint32(hdr[8:])
	if int64(n) > int64(lim.MaxObjects) {
		return nil, fmt.Errorf("%s: %d objects (max %d): %w", name, n, lim.MaxObjects, ErrLimit)
	}
	if int64(n) > (size-32)/2 { // an object takes at least 2 bytes of header+zlib... really more
		return nil, fmt.Errorf("%s: %d objects cannot fit in %d bytes: %w", name, n, size, ErrCorrupt)
	}
	p.entries = make([]packEntry, n)
	br := &byteCounter{r: bufio.NewReaderSize(io.NewSectionReader(r, 12, size-32), 1<<16), off: 12}
	for i := range p.entries {
		e := &p.entries[i]
		e.off = br.off
		if err := readHeader(br, e, lim); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.byOff[e.off] = i
		p.work += e.size
		if p.work > lim.MaxWork {
			return nil, fmt.Errorf("%s: more than %d bytes inflated: %w", name, lim.MaxWork, ErrLimit)
		}
		data, err := inflate(br, e.size)
		if err != nil {
			return nil, fmt.Errorf("%s: object at %d: %w", name, e.off, err)
		}
		if e.typ < typeOfs {
			oid, err := hashObject(e.typ, data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			e.oid, e.real, e.known = oid, e.typ, true
			p.byOID[oid] = e.off
			if e.typ == TypeCommit || e.typ == TypeTree {
				p.cache.put(e.off, e.typ, data)
			}
		}
	}
	if br.off != size-20 {
		return nil, fmt.Errorf("%s: %d bytes between the last object and the trailer: %w", name, size-20-br.off, ErrCorrupt)
	}
	if err := p.resolveAll(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// resolveAll names every delta object by walking the delta forest from its bases, each base
// inflated once and kept only while its children are resolved.
func (p *Pack) resolveAll() error {
	ofsKids := map[int64][]int{}
	refKids := map[OID][]int{}
	for i := range p.entries {
		e := &p.entries[i]
		switch e.typ {
		case typeOfs:
			if _, ok := p.byOff[e.baseOff]; !ok {
				return fmt.Errorf("delta at %d: base offset %d is not an object: %w", e.off, e.baseOff, ErrCorrupt)
			}
			ofsKids[e.baseOff] = append(ofsKids[e.baseOff], i)
		case typeRef:
			refKids[e.baseOID] = append(refKids[e.baseOID], i)
		}
	}
	var walk, resolve func(i int, t Type, data []byte, depth int) error
	walk = func(base int, t Type, data []byte, depth int) error {
		b := &p.entries[base]
		kids := append(ofsKids[b.off], refKids[b.oid]...)
		delete(refKids, b.oid)
		if len(kids) > 0 && depth >= p.lim.MaxDeltaDepth {
			return fmt.Errorf("delta chain deeper than %d at %d: %w", p.lim.MaxDeltaDepth, b.off, ErrLimit)
		}
		for _, k := range kids {
			if err := resolve(k, t, data, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	// resolve applies delta entry k to its base (type t, bytes data), names the result and
	// walks on to its own children, depth deltas down from a full object.
	resolve = func(k int, t Type, data []byte, depth int) error {
		e := &p.entries[k]
		if e.known {
			return nil // a ref delta whose base appears twice
		}
		delta, err := p.inflateAt(e)
		if err != nil {
			return err
		}
		out, err := p.applyDelta(data, delta, e)
		if err != nil {
			return err
		}
		oid, err := hashObject(t, out)
		if err != nil {
			return err
		}
		e.oid, e.real, e.known = oid, t, true
		if _, dup := p.byOID[oid]; !dup {
			p.byOID[oid] = e.off
		}
		if t == TypeCommit || (t == TypeTree && len(out) < 1<<16) {
			p.cache.put(e.off, t, out)
		}
		return walk(k, t, out, depth)
	}
	for i := range p.entries {
		e := &p.entries[i]
		if e.typ >= typeOfs || (len(ofsKids[e.off]) == 0 && len(refKids[e.oid]) == 0) {
			continue
		}
		t, data, err := p.objectAt(i, 0)
		if err != nil {
			return err
		}
		if err := walk(i, t, data, 0); err != nil {
			return err
		}
	}
	// Bases outside the pack (thin pack, prerequisites).
	for base, kids := range refKids {
		if p.ext == nil {
			return fmt.Errorf("delta base %s is not in the pack (thin pack): %w", base, ErrMissing)
		}
		t, data, err := p.ext.Object(base)
		if err != nil {
			return fmt.Errorf("delta base %s: %w", base, err)
		}
		// The external base is a full object: its children are one delta down from it.
		for _, k := range kids {
			if err := resolve(k, t, data, 1); err != nil {
				return err
			}
		}
	}
	for i := range p.entries {
		if !p.entries[i].known {
			return fmt.Errorf("delta at %d never resolved (a cycle): %w", p.entries[i].off, ErrCorrupt)
		}
	}
	return nil
}

func (p *Pack) inflateAt(e *packEntry) ([]byte, error) {
	p.work += e.size
	if p.work > p.lim.MaxWork {
		return nil, fmt.Errorf("more than %d bytes inflated: %w", p.lim.MaxWork, ErrLimit)
	}
	sr := bufio.NewReaderSize(io.NewSectionReader(p.r, e.dataOff, p.size-20-e.dataOff), 4096)
	d, err := inflate(sr, e.size)
	if err != nil {
		return nil, fmt.Errorf("object at %d: %w", e.off, err)
	}
	return d, nil
}

// objectAt returns the resolved object of entry i, following its delta chain.
func (p *Pack) objectAt(i int, depth int) (Type, []byte, error) {
	e := &p.entries[i]
	if t, d, ok := p.cache.get(e.off); ok {
		return t, d, nil
	}
	if depth > p.lim.MaxDeltaDepth {
		return 0, nil, fmt.Errorf("delta chain deeper than %d at %d: %w", p.lim.MaxDeltaDepth, e.off, ErrLimit)
	}
	raw, err := p.inflateAt(e)
	if err != nil {
		return 0, nil, err
	}
	var t Type
	var base []byte
	switch e.typ {
	case typeOfs:
		var j int
		if j, err = p.entryAt(e.baseOff); err == nil {
			t, base, err = p.objectAt(j, depth+1)
		}
	case typeRef:
		if off, ok := p.byOID[e.baseOID]; ok && off != e.off {
			var j int
			if j, err = p.entryAt(off); err == nil {
				t, base, err = p.objectAt(j, depth+1)
			}
		} else if p.ext != nil {
			t, base, err = p.ext.Object(e.baseOID)
		} else {
			err = fmt.Errorf("delta base %s: %w", e.baseOID, ErrMissing)
		}
	default:
		t = e.typ
		if t != TypeBlob {
			p.cache.put(e.off, t, raw)
		}
		return t, raw, nil
	}
	if err != nil {
		return 0, nil, err
	}
	out, err := p.applyDelta(base, raw, e)
	if err != nil {
		return 0, nil, err
	}
	if t != TypeBlob || len(out) < 1<<16 {
		p.cache.put(e.off, t, out)
	}
	return t, out, nil
}

// Object implements Store; the object's name is checked against its bytes (by indexing).
func (p *Pack) Object(oid OID) (Type, []byte, error) {
	off, ok := p.byOID[oid]
	if !ok {
		return 0, nil, fmt.Errorf("%s: %s: %w", p.name, oid, ErrMissing)
	}
	i, err := p.entryAt(off)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %s: %w", p.name, oid, err)
	}
	t, d, err := p.objectAt(i, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %s: %w", p.name, oid, err)
	}
	if p.lazy {
		got, err := hashObject(t, d)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if got != oid {
			return 0, nil, fmt.Errorf("%s: object at %d is %s, index says %s: %w", p.name, off, got, oid, ErrCorrupt)
		}
	}
	return t, d, nil
}

// entryAt returns the index of the entry at off, parsing its header if the pack is lazy.
func (p *Pack) entryAt(off int64) (int, error) {
	if i, ok := p.byOff[off]; ok {
		return i, nil
	}
	if !p.lazy || off < 12 || off >= p.size-20 {
		return 0, fmt.Errorf("no object at offset %d: %w", off, ErrCorrupt)
	}
	e := packEntry{off: off}
	br := &byteCounter{r: bufio.NewReaderSize(io.NewSectionReader(p.r, off, p.size-20-off), 64), off: off}
	if err := readHeader(br, &e, p.lim); err != nil {
		return 0, err
	}
	p.entries = append(p.entries, e)
	p.byOff[off] = len(p.entries) - 1
	return len(p.entries) - 1, nil
}

// OIDs lists the names of the pack's objects in pack order.
func (p *Pack) OIDs() []OID {
	out := make([]OID, len(p.entries))
	for i := range p.entries {
		out[i] = p.entries[i].oid
	}
	return out
}

// applyDelta applies a git delta, bounding the result by MaxObjectSize and MaxWork.
func (p *Pack) applyDelta(base, delta []byte, e *packEntry) ([]byte, error) {
	out, err := ApplyDelta(base, delta, p.lim.MaxObjectSize)
	if err != nil {
		return nil, fmt.Errorf("delta at %d: %w", e.off, err)
	}
	p.work += int64(len(out))
	if p.work > p.lim.MaxWork {
		return nil, fmt.Errorf("more than %d bytes inflated: %w", p.lim.MaxWork, ErrLimit)
	}
	return out, nil
}

func deltaVarint(d []byte) (int64, []byte, error) {
	var v int64
	var shift uint
	for i, c := range d {
		if shift > 56 {
			return 0, nil, fmt.Errorf("delta size overflows: %w", ErrCorrupt)
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return v, d[i+1:], nil
		}
	}
	return 0, nil, fmt.Errorf("delta header truncated: %w", ErrCorrupt)
}

// ApplyDelta applies a git delta to base. The declared result size is checked against max
// before anything is allocated, and every copy against the base and the declared size.
func ApplyDelta(base, delta []byte, max int64) ([]byte, error) {
	srcSize, d, err := deltaVarint(delta)
	if err != nil {
		return nil, err
	}
	if srcSize != int64(len(base)) {
		return nil, fmt.Errorf("delta wants a %d-byte base, have %d: %w", srcSize, len(base), ErrCorrupt)
	}
	dstSize, d, err := deltaVarint(d)
	if err != nil {
		return nil, err
	}
	if dstSize > max {
		return nil, fmt.Errorf("delta result of %d bytes (max %d): %w", dstSize, max, ErrLimit)
	}
	out := make([]byte, 0, dstSize)
	for len(d) > 0 {
		op := d[0]
		d = d[1:]
		if op&0x80 != 0 {
			var off, n uint64
			for i := uint(0); i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(d) == 0 {
						return nil, fmt.Errorf("delta copy truncated: %w", ErrCorrupt)
					}
					off |= uint64(d[0]) << (8 * i)
					d = d[1:]
				}
			}
			for i := uint(0); i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(d) == 0 {
						return nil, fmt.Errorf("delta copy truncated: %w", ErrCorrupt)
					}
					n |= uint64(d[0]) << (8 * i)
					d = d[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(base)) || int64(len(out))+int64(n) > dstSize {
				return nil, fmt.Errorf("delta copy out of bounds: %w", ErrCorrupt)
			}
			out = append(out, base[off:off+n]...)
		} else if op != 0 {
			n := int(op)
			if len(d) < n || int64(len(out)+n) > dstSize {
				return nil, fmt.Errorf("delta insert out of bounds: %w", ErrCorrupt)
			}
			out = append(out, d[:n]...)
			d = d[n:]
		} else {
			return nil, fmt.Errorf("delta opcode 0: %w", ErrCorrupt)
		}
	}
	if int64(len(out)) != dstSize {
		return nil, fmt.Errorf("delta produced %d bytes, declared %d: %w", len(out), dstSize, ErrCorrupt)
	}
	return out, nil
}

// lru is a byte-bounded cache of resolved objects by pack offset.
type lru struct {
	max, cur int64
	m        map[int64]*lruItem
	head     lruItem // sentinel: head.next is the most recent
}

type lruItem struct {
	key        int64
	t          Type
	d          []byte
	prev, next *lruItem
}

func newLRU(max int64) *lru {
	l := &lru{max: max, m: map[int64]*lruItem{}}
	l.head.next, l.head.prev = &l.head, &l.head
	return l
}

func (l *lru) unlink(it *lruItem) { it.prev.next, it.next.prev = it.next, it.prev }
func (l *lru) front(it *lruItem) {
	it.next, it.prev = l.head.next, &l.head
	l.head.next.prev = it
	l.head.next = it
}

func (l *lru) get(k int64) (Type, []byte, bool) {
	it, ok := l.m[k]
	if !ok {
		return 0, nil, false
	}
	l.unlink(it)
	l.front(it)
	return it.t, it.d, true
}

func (l *lru) put(k int64, t Type, d []byte) {
	if int64(len(d)) > l.max/4 {
		return
	}
	if it, ok := l.m[k]; ok {
		l.unlink(it)
		l.cur -= int64(len(it.d))
	}
	it := &lruItem{key: k, t: t, d: d}
	l.m[k] = it
	l.front(it)
	l.cur += int64(len(d))
	for l.cur > l.max {
		old := l.head.prev
		l.unlink(old)
		delete(l.m, old.key)
		l.cur -= int64(len(old.d))
	}
}
