package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/airlock-appliance/airlock/scanner/internal/zipr"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
)

// Scanner scans files with one compiled rule set under one set of options. It is safe for
// concurrent use.
type Scanner struct {
	rules *Rules
	opt   Options
}

// New returns a Scanner; opt's zero fields take their defaults.
func New(rules *Rules, opt Options) *Scanner {
	return &Scanner{rules: rules, opt: opt.withDefaults()}
}

// Options returns the options in force, defaults filled in.
func (s *Scanner) Options() Options { return s.opt }

// ScanFS scans root (a file or a directory, "." for all) of fsys with Options.Workers workers,
// calling fn (never concurrently) with each top-level file's result as it completes. Paths in
// results are fsys paths. Symbolic links and special files are recorded, never followed or
// opened. It returns ctx.Err() if cancelled, or an error if the walk itself or a worker's
// libyara setup failed; problems with single files are verdicts, not errors.
func (s *Scanner) ScanFS(ctx context.Context, fsys fs.FS, root string, fn func(Result)) error {
	return s.scanFS(ctx, fsys, root, fn, newPool())
}

// scanFS is ScanFS with the queue of inner files given, for tests to read its counts.
func (s *Scanner) scanFS(ctx context.Context, fsys fs.FS, root string, fn func(Result), p *pool) error {
	type job struct {
		path string
		d    fs.DirEntry
	}
	jobs := make(chan job)
	var mu sync.Mutex
	emit := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		fn(r)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Workers serve queued inner files until every worker is done with top-level files (top),
	// then stop (quit): an archive's reader waits for its queued files before it returns.
	var wg, top sync.WaitGroup
	quit := make(chan struct{})
	stop := func() {
		close(jobs)
		top.Wait()
		close(quit)
		wg.Wait()
	}
	for range s.opt.Workers {
		w, err := s.newWorker()
		if err != nil {
			cancel()
			stop()
			return err
		}
		w.pool = p
		wg.Add(1)
		top.Add(1)
		go func() {
			defer wg.Done()
			defer w.close()
			jobs := jobs
			for {
				select { // queued inner files first: they hold memory and finish an archive
				case h := <-p.queue:
					w.runHandoff(h)
					continue
				default:
				}
				select {
				case h := <-p.queue:
					w.runHandoff(h)
				case j, ok := <-jobs:
					if !ok {
						jobs = nil
						top.Done()
						continue
					}
					if ctx.Err() != nil {
						continue
					}
					emit(w.scanFSFile(ctx, fsys, j.path, j.d))
				case <-quit:
					return
				}
			}
		}()
	}
	walkErr := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// An unreadable directory or file is a verdict on that path, not the end of the walk.
			emit(Result{File: File{Path: p, Verdict: Unscannable, Reason: err.Error()}})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		select {
		case jobs <- job{p, d}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	stop()
	if walkErr != nil {
		return fmt.Errorf("walk %s: %w", root, walkErr)
	}
	return ctx.Err()
}

// ScanAll is ScanFS collecting the results, sorted by path.
func (s *Scanner) ScanAll(ctx context.Context, fsys fs.FS, root string) ([]Result, error) {
	var out []Result
	err := s.ScanFS(ctx, fsys, root, func(r Result) { out = append(out, r) })
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// ScanReader scans one top-level file read from r, which should yield size bytes. It is the
// unit of work of ScanFS, for callers that drive their own reading; it creates a libyara
// scanner per call, so ScanFS is cheaper for many files.
func (s *Scanner) ScanReader(ctx context.Context, name string, r io.Reader, size int64) (Result, error) {
	w, err := s.newWorker()
	if err != nil {
		return Result{}, err
	}
	defer w.close()
	return w.scanTop(ctx, name, r, size), nil
}

// worker owns one libyara scanner and a memory budget.
type worker struct {
	s     *Scanner
	e     *engine
	arena []byte // Options.MemoryBudget bytes for file contents, used as a stack
	used  int
	buf   []byte
	pool  *pool  // ScanFS's queue of inner files, nil for ScanReader
	lends []lend // arena regions lent to the pool, together on top of the stack (see handoff.go)
	// fileLends are temporary files lent to the pool, oldest first, at most maxFileLends.
	fileLends []fileLend
}

func (s *Scanner) newWorker() (*worker, error) {
	e, err := newEngine(s.rules, s.opt.Timeout)
	if err != nil {
		return nil, err
	}
	return &worker{s: s, e: e, arena: make([]byte, s.opt.MemoryBudget), buf: make([]byte, 256<<10)}, nil
}

func (w *worker) close() { w.e.destroy() }

func (w *worker) scanFSFile(ctx context.Context, fsys fs.FS, p string, d fs.DirEntry) Result {
	res := Result{File: File{Path: p}}
	switch t := d.Type(); {
	case t&fs.ModeSymlink != 0:
		res.Type, res.Verdict = TypeSymlink, Clean
		if target, err := fs.ReadLink(fsys, p); err == nil {
			res.Target = target
		}
		res.Reason = "symbolic link: recorded, not followed"
		return res
	case !t.IsRegular():
		res.Type, res.Verdict = TypeSpecial, Clean
		res.Reason = "special file (" + t.String() + "): recorded, not opened"
		return res
	}
	f, err := fsys.Open(p)
	if err != nil {
		res.Verdict, res.Reason = Unscannable, err.Error()
		return res
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		res.Verdict, res.Reason = Unscannable, err.Error()
		return res
	}
	if !fi.Mode().IsRegular() { // changed type since the directory was read
		res.Verdict, res.Reason = Unscannable, "not a regular file when opened ("+fi.Mode().Type().String()+")"
		return res
	}
	return w.scanTop(ctx, p, f, fi.Size())
}

// walkState is the bookkeeping of one top-level file.
type walkState struct {
	ctx      context.Context
	top      int64 // top-level size, for the ratio
	expanded int64 // bytes produced by decompressors
	unpacked int64 // bytes of tar entries (more than the tar holds when it has sparse holes)
	entries  int
	paths    int64 // bytes of the inner files' paths, against Limits.MaxPathBytes
	inner    []File
	guix     *GuixResult
	hand     handoffState
}

// limitError stops a walk; global limits (ratio, expanded bytes, entry count) stop every level
// up to the top-level file, the others only the archive they occur in.
type limitError struct {
	limit  string
	msg    string
	global bool
}

func (e *limitError) Error() string { return "limit " + e.limit + ": " + e.msg }

// scanTop reads a top-level file once: into SHA-256, into the spool (or our own random-access
// copy), then scans and descends from that copy.
func (w *worker) scanTop(ctx context.Context, name string, r io.Reader, size int64) Result {
	res := Result{File: File{Path: name, Size: size}}
	h := sha256.New()
	var (
		src     io.ReaderAt
		release func()
		n       int64
		err     error
	)
	if sp := w.s.opt.Spool; sp != nil {
		var sf SpoolFile
		sf, err = sp.Spool(name, size)
		if err != nil {
			res.Verdict, res.Reason = Unscannable, fmt.Sprintf("spool: %v", err)
			return res
		}
		n, err = w.copyBuf(io.MultiWriter(h, sf), io.LimitReader(r, size+1))
		src, release = sf, func() {}
	} else {
		src, n, release, err = w.store(io.TeeReader(io.LimitReader(r, size+1), h), size+1)
	}
	defer release()
	switch {
	case err != nil:
		res.Verdict, res.Reason = Unscannable, fmt.Sprintf("read after %d bytes: %v", n, err)
		return res
	case n != size:
		res.Verdict, res.Reason = Unscannable, fmt.Sprintf("read %d bytes, the filesystem says %d: file changed or short read", n, size)
		return res
	}
	copy(res.Sum[:], h.Sum(nil))
	res.SHA256 = hex.EncodeToString(res.Sum[:])
	st := &walkState{ctx: ctx, top: size}
	kind, opaqueName := w.sniff(src, size)
	if err := w.examine(st, &res.File, src, size, 0, kind, opaqueName); err != nil {
		// A global limit was already recorded on the file where it struck.
		_ = err
	}
	w.drainHandoffs(st)
	w.settleLends()
	w.settleFileLends(0)
	res.Inner = st.inner
	res.Guix = st.guix
	return res
}

// copyBuf is io.Copy through the worker's buffer.
func (w *worker) copyBuf(dst io.Writer, src io.Reader) (int64, error) {
	return io.CopyBuffer(dst, src, w.buf)
}

// memSource is contents held in the arena.
type memSource []byte

// Bytes lets readers that only look (zipr.FindEnd) skip a copy.
func (m memSource) Bytes() []byte { return m }

func (m memSource) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m).ReadAt(p, off)
}

// store copies at most max bytes of r into a random-access copy: the worker's memory arena
// while it has room, else an unlinked temporary file. release frees it; copies are released in
// the reverse order they were made (a nested file's before its archive's), so the arena is a
// stack and file contents cost neither allocation nor zeroing. Reading stops at max, so the
// caller detects "more than expected" as n == max.
func (w *worker) store(r io.Reader, max int64) (src io.ReaderAt, n int64, release func(), err error) {
	if int64(len(w.arena)-w.used) < max && w.lendsOnTop() {
		w.settleLends() // their room rather than a temporary file
	}
	off := w.used
	free := w.arena[w.used:]
	if int64(len(free)) > max {
		free = free[:max]
	}
	k, err := io.ReadFull(r, free)
	n = int64(k)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	if err != nil || n < int64(len(free)) || n == max {
		// Everything (or all there was before an error) is in the arena.
		w.used += k
		return memSource(free[:k]), n, func() {
			if len(w.lends) > 0 && w.lends[0].off >= off {
				w.settleLends() // lent after this region, so above it
			}
			w.used -= k
		}, err
	}
	// The arena is full and more is coming: spill to a temporary file.
	f, ferr := os.CreateTemp(w.s.opt.TempDir, "airlock-scan-")
	if ferr != nil {
		return nil, n, func() {}, fmt.Errorf("spill to temporary file: %w", ferr)
	}
	os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
	rel := func() { f.Close() }
	if _, err := f.Write(free); err != nil {
		return nil, n, rel, fmt.Errorf("spill: %w", err)
	}
	m, err := w.copyBuf(f, io.LimitReader(r, max-n))
	return f, n + m, rel, err
}

// lendsOnTop reports whether w has lent regions and nothing of its own above them.
func (w *worker) lendsOnTop() bool {
	n := len(w.lends)
	return n > 0 && w.lends[n-1].off+w.lends[n-1].n == w.used
}

// sniff says what the walk does with a file: kind is the format it descends into ("" for a
// file scanned as it is), opaqueName a container it cannot open (see opaqueMagic).
func (w *worker) sniff(src io.ReaderAt, size int64) (kind, opaqueName string) {
	head := make([]byte, min(size, 512))
	n, _ := src.ReadAt(head, 0)
	head = head[:n]
	if kind = detect(head); kind != "" {
		return kind, ""
	}
	if opaqueName = opaque(head); opaqueName != "" {
		return "", opaqueName
	}
	if k := cpioKind(head); k == "newc" || k == "odc" {
		// An ASCII cpio magic whose header does not parse: GNU cpio warns ("Malformed
		// number") and extracts members from it anyway (found by FuzzDifferential).
		return "", "cpio archive with a malformed first header"
	}
	if opaqueName = lhaName(head); opaqueName != "" {
		return "", opaqueName
	}
	if kind, opaqueName = isoKind(src, size); kind != "" || opaqueName != "" {
		return kind, opaqueName
	}
	if lzmaProbe(src, size, w.s.opt.Limits.MaxDecoderMemory) {
		return FormatLzma, ""
	}
	if zipr.FindEnd(src, size) >= 0 {
		return FormatZipAppended, "" // walked, or unscannable if its directory cannot be read
	}
	if opaqueName = embeddedOpaque(src, size); opaqueName != "" {
		return "", opaqueName
	}
	if k, _ := findHidden(src, size, w.s.opt.Limits.MaxDecoderMemory); k != "" {
		return k, "" // GNU tar and cpio skip the bytes before it
	}
	if hasUUBegin(src, size) {
		return FormatUU, ""
	}
	return "", ""
}

// examine scans one file's bytes with YARA and, if it is an archive (kind, from sniff),
// everything inside.
func (w *worker) examine(st *walkState, f *File, src io.ReaderAt, size int64, depth int, kind, opaqueName string) error {
	if err := st.ctx.Err(); err != nil {
		f.Verdict, f.Reason = Unscannable, "cancelled"
		return err
	}
	f.Verdict = Clean
	if kind == "" {
		w.yara(f, src, size)
		if opaqueName != "" {
			w.worsen(f, Unscannable, opaqueName+": airlock cannot open it, so what it holds was not scanned")
		}
		return nil
	}
	if (!compressed(kind) || w.s.opt.ScanCompressed) && !memberwise(kind) {
		// The container's own scan goes to another worker if one is free, and runs while
		// this one walks the container: a Guix export or a tar is otherwise scanned whole on
		// one core before its first file is even opened.
		if h := w.scanElsewhere(st, src, size); h != nil {
			defer w.mergeScan(f, h)
		} else {
			w.yara(f, src, size)
		}
	}
	f.Format = kind
	if depth+1 > w.s.opt.Limits.MaxDepth {
		w.worsen(f, LimitHit, fmt.Sprintf("%s nested deeper than %d levels: not opened", kind, w.s.opt.Limits.MaxDepth))
		f.Limit = LimitDepth
		return nil
	}
	err := w.descend(st, f, kind, src, size, depth)
	var le *limitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		if le.msg != "" { // not yet recorded
			w.worsen(f, LimitHit, le.msg)
			f.Limit = le.limit
			le.msg = ""
		}
		if le.global {
			return err
		}
		return nil
	case st.ctx.Err() != nil:
		w.worsen(f, Unscannable, "cancelled")
		return st.ctx.Err()
	default:
		w.worsen(f, Unscannable, fmt.Sprintf("corrupt or unsupported %s: %v", kind, err))
		return nil
	}
}

// yara scans one file's bytes: whole from memory, or in overlapping blocks from a copy that did
// not fit the memory budget (see the package doc).
func (w *worker) yara(f *File, src io.ReaderAt, size int64) {
	var (
		matches []RuleMatch
		err     error
	)
	if m, ok := src.(memSource); ok {
		matches, err = w.e.scanMem(m[:size])
	} else {
		matches, err = w.e.scanBlocks(src, size, w.s.opt.BlockSize, w.s.opt.BlockOverlap)
	}
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

// compressed reports whether kind is a compression format: its bytes are noise to string rules,
// and what they decompress to is scanned instead.
// memberwise reports whether a container is scanned only file by file, never whole. A NAR or a
// Guix export is nothing on the high side but the store files guix-daemon writes from it, and
// airlock's NAR reader refuses every stream the daemon would read differently, so its files
// are all there is to see. Scanning its bytes whole as well would put every byte through
// libyara twice and, worse, evaluate file-level conditions against the stream: a rule such as
// "names /etc/ld.so.preload and is not an ELF file" matches any export holding glibc.
func memberwise(kind string) bool { return kind == FormatNAR || kind == FormatExport }

func compressed(kind string) bool {
	switch kind {
	case FormatGzip, FormatXz, FormatBzip2, FormatZstd:
		return true
	}
	return false
}

// worsen sets f's verdict to v unless it is already as bad, keeping every reason.
func (w *worker) worsen(f *File, v Verdict, reason string) {
	if v.rank() >= f.Verdict.rank() {
		f.Verdict = v
	}
	if f.Reason != "" {
		f.Reason += "; "
	}
	f.Reason += reason
}

// entry stores and examines one inner file read from r. declared is the size the archive
// claims (-1 if unknown); name is the path inside the archive.
func (w *worker) entry(st *walkState, parent *File, name string, r io.Reader, declared int64, depth int) error {
	if err := w.checkName(st, parent, name, depth); err != nil {
		return err
	}
	f := File{Path: parent.Path + "!" + name, Size: declared, Depth: depth}
	idx := len(st.inner)
	st.inner = append(st.inner, f)
	defer func() { st.inner[idx] = f }()
	st.entries++
	lim := w.s.opt.Limits
	if st.entries > lim.MaxEntries {
		f.Verdict, f.Limit = LimitHit, LimitEntries
		f.Reason = fmt.Sprintf("more than %d inner files in one top-level file", lim.MaxEntries)
		return &limitError{limit: LimitEntries, global: true}
	}
	if declared > lim.MaxEntrySize {
		f.Verdict, f.Limit = LimitHit, LimitEntrySize
		f.Reason = fmt.Sprintf("declared size %d exceeds %d", declared, lim.MaxEntrySize)
		return nil
	}
	max := lim.MaxEntrySize + 1
	if declared >= 0 {
		max = declared + 1
	}
	// A file that will be in memory whole is hashed from there (perhaps by another worker,
	// see handoff.go) rather than while it is read.
	inMem := declared >= 0 && max < int64(len(w.arena)-w.used)
	if !inMem && declared >= 0 && w.lendsOnTop() && max < int64(len(w.arena)-w.lends[0].off) {
		w.settleLends() // it fits once they are back: wait rather than spill to a temporary file
		inMem = true
	}
	var h hash.Hash
	if !inMem {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	src, n, release, err := w.store(r, max)
	defer func() { release() }() // release may be replaced below (a lent region)
	f.Size = n
	var le *limitError
	switch {
	case errors.As(err, &le):
		f.Verdict, f.Limit, f.Reason = LimitHit, le.limit, le.msg
		le.msg = ""
		return err
	case err != nil:
		f.Verdict, f.Reason = Unscannable, fmt.Sprintf("read after %d bytes: %v", n, err)
		return err // the archive's stream is broken: the archive is corrupt
	case declared < 0 && n > lim.MaxEntrySize:
		f.Verdict, f.Limit = LimitHit, LimitEntrySize
		f.Reason = fmt.Sprintf("more than %d bytes", lim.MaxEntrySize)
		return nil
	case declared >= 0 && n != declared:
		f.Verdict, f.Reason = Unscannable, fmt.Sprintf("archive declares %d bytes, holds %d", declared, n)
		return fmt.Errorf("%s: size mismatch", name)
	}
	var sum string
	if h != nil {
		sum = hex.EncodeToString(h.Sum(nil))
	} else if _, ok := src.(memSource); !ok { // cannot happen: max fitted the arena
		f.Verdict, f.Reason = Unscannable, "internal: entry expected in memory"
		return nil
	}
	kind, opaqueName := w.sniff(src, n)
	if kind == "" && opaqueName == "" && st.ctx.Err() == nil && w.pool != nil && w.handOff(st, idx, src, n, sum, &release) {
		f.Verdict = Clean // for now: drainHandoffs records the hash and scan
		return nil
	}
	if sum == "" {
		d := sha256.Sum256(src.(memSource)[:n])
		sum = hex.EncodeToString(d[:])
	}
	f.SHA256 = sum
	return w.examine(st, &f, src, n, depth, kind, opaqueName)
}

// record adds an inner entry that has no contents to scan (link, special file).
func (w *worker) record(st *walkState, parent *File, name, typ, target, reason string, depth int) error {
	if err := w.checkName(st, parent, name, depth); err != nil {
		return err
	}
	st.entries++
	f := File{Path: parent.Path + "!" + name, Verdict: Clean, Type: typ, Target: target, Reason: reason, Depth: depth}
	if len(target) > maxPathBytes { // no tool makes such a link
		f.Target = cut(target, maxPathBytes)
		f.Verdict, f.Reason = Unscannable, reason+fmt.Sprintf("; link target of %d bytes, longer than PATH_MAX (%d)", len(target), maxPathBytes)
	}
	if lim := w.s.opt.Limits.MaxEntries; st.entries > lim {
		f.Verdict, f.Limit = LimitHit, LimitEntries
		f.Reason = fmt.Sprintf("more than %d inner files in one top-level file", lim)
		st.inner = append(st.inner, f)
		return &limitError{limit: LimitEntries, global: true}
	}
	st.inner = append(st.inner, f)
	return nil
}

// Name bounds every extractor has: a component longer than NAME_MAX or a path longer than
// PATH_MAX cannot be created, so what a tool does with it (cut it, skip it, fail) differs.
const (
	maxNameBytes = 255
	maxPathBytes = 4096
)

// checkName bounds an inner file's name before it is recorded: PATH_MAX and NAME_MAX (the entry
// is recorded, cut, with a LimitName verdict, and the archive's walk stops), and the path bytes
// of the top-level file (a global limit). The name of a NAR or export entry starts with "/".
func (w *worker) checkName(st *walkState, parent *File, name string, depth int) error {
	st.paths += int64(len(parent.Path) + 1 + len(name))
	if lim := w.s.opt.Limits.MaxPathBytes; st.paths > lim {
		st.inner = append(st.inner, File{Path: cut(parent.Path+"!"+name, maxPathBytes), Depth: depth, Verdict: LimitHit, Limit: LimitPathBytes,
			Reason: fmt.Sprintf("the paths of the inner files add up to more than %d bytes", lim)})
		return &limitError{limit: LimitPathBytes, global: true}
	}
	msg := ""
	if len(name) > maxPathBytes {
		msg = fmt.Sprintf("entry path of %d bytes, longer than PATH_MAX (%d)", len(name), maxPathBytes)
	} else {
		for rest := name; rest != ""; {
			c, after, _ := strings.Cut(rest, "/")
			if len(c) > maxNameBytes {
				msg = fmt.Sprintf("path component of %d bytes, longer than NAME_MAX (%d)", len(c), maxNameBytes)
				break
			}
			rest = after
		}
	}
	if msg == "" {
		return nil
	}
	st.inner = append(st.inner, File{Path: cut(parent.Path+"!"+name, maxPathBytes), Depth: depth, Verdict: LimitHit, Limit: LimitName, Reason: msg})
	return &limitError{limit: LimitName}
}

// cut shortens s to at most n bytes, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// expansion counts decompressed bytes against the ratio and absolute limits, failing the read
// that crosses one so a bomb stops within one buffer of the limit.
type expansion struct {
	r  io.Reader
	st *walkState
	l  Limits
	// tar: count into unpacked rather than expanded. Tar entry bytes are not expansion, except
	// for sparse files, whose holes a few header bytes can make gigabytes long; the limits
	// apply to the larger of the two counts, so nothing is counted twice.
	tar bool
}

func (x *expansion) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if x.tar {
		x.st.unpacked += int64(n)
	} else {
		x.st.expanded += int64(n)
	}
	e := max(x.st.expanded, x.st.unpacked)
	if e > x.l.MaxExpanded {
		return n, &limitError{limit: LimitExpanded, global: true,
			msg: fmt.Sprintf("decompressed more than %d bytes", x.l.MaxExpanded)}
	}
	if e > x.l.RatioFloor && e > x.l.MaxRatio*max(x.st.top, 1) {
		return n, &limitError{limit: LimitRatio, global: true,
			msg: fmt.Sprintf("decompressed %d bytes from a %d-byte file: more than %d:1", e, x.st.top, x.l.MaxRatio)}
	}
	return n, err
}

// innerName is the name given to the one file a compressed stream holds: the outer name less
// its compression suffix.
func innerName(outer, kind string) string {
	base := path.Base(outer[strings.LastIndex(outer, "!")+1:])
	for _, suf := range []string{".gz", ".tgz", ".xz", ".txz", ".bz2", ".tbz2", ".zst", ".tzst", ".z", ".Z", ".lzma", ".tlz"} {
		if strings.HasSuffix(base, suf) && len(base) > len(suf) {
			b := strings.TrimSuffix(base, suf)
			if strings.HasPrefix(suf, ".t") {
				b += ".tar"
			}
			return b
		}
	}
	return base + ".decompressed"
}

var _ hash.Hash = sha256.New()
