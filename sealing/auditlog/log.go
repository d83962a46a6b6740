// Package auditlog is airlock's append-only, tamper-evident audit log: one canonical-JSON record
// per event, hashed into a Merkle tree exactly as golang.org/x/mod/sumdb/tlog does (RFC 6962),
// with tree heads published as C2SP tlog-checkpoint signed notes (golang.org/x/mod/sumdb/note)
// that an auditor can cosign.
//
// Usage, on the appliance:
//
//	l, err := auditlog.Open(dir, signer) // recovers a torn tail
//	idx, err := l.Append(ctx, map[string]any{"type": "seal", "session": id, ...}) // durable on return
//	cp, err := l.Checkpoint() // signed note, also stored in dir/checkpoint
//	proof, err := l.ProveInclusion(idx, size)
//
// and anywhere else: VerifyDir(dir, logVerifier) re-hashes every record and checks the
// checkpoint.
//
// # On disk
//
// dir/records holds the records, one per line: record i (from 0) is line i+1, canonical JSON
// (package canonjson's rules) of an object with a non-empty string member "type", ended by
// "\n". dir/checkpoint holds the latest signed checkpoint, replaced atomically (write, fsync,
// rename, fsync dir). dir/cosigned/SIZE holds checkpoints cosigned by an auditor. dir/hashes
// caches each record's end offset and hash (HashesFile), so that Open costs in proportion to the
// records added since; VerifyDir ignores it.
//
// # Crash safety
//
// Append writes one line and fsyncs the file before it returns, so an acknowledged record
// survives a crash. A crash mid-append leaves at most one partial line without its "\n" (a
// torn tail): Open truncates it. Any complete line that is not a valid record, and any
// checkpoint whose root hash the records do not reproduce, is tampering: Open refuses the log,
// naming the file and line. A checkpoint is signed only over records already durable.
package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing/internal/canonjson"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// File names in a log directory.
const (
	RecordsFile    = "records"
	CheckpointFile = "checkpoint"
	CosignedDir    = "cosigned"
)

// MaxRecordSize bounds one record (line), so a hostile log cannot make Open read without end.
const MaxRecordSize = 1 << 20

// Sentinel errors; the wrapping error names the file and line.
var (
	ErrRecordMalformed    = errors.New("malformed record")
	ErrCheckpointMismatch = errors.New("checkpoint does not match the records")
	ErrRecordsLost        = errors.New("records missing that a checkpoint covers")
	ErrReadOnly           = errors.New("log opened without a signer (read-only)")
	ErrLocked             = errors.New("log is in use by another process")
	ErrRecordAltered      = errors.New("record does not hash to its leaf in the tree")
)

// RecordError is a bad record at a 1-based line of a records file.
type RecordError struct {
	File string
	Line int64
	Err  error
}

func (e *RecordError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	dir    string
	signer note.Signer // nil: read-only

	cpMu sync.Mutex // serializes Checkpoint: one temp file, and never an older head over a newer

	mu        sync.Mutex
	f         *os.File
	offsets   []int64     // start offset of each record, plus the end
	hashes    []tlog.Hash // stored hashes (tlog.StoredHashIndex order)
	truncated int64       // bytes of torn tail removed (or ignored) at open
	cache     hashCache   // appends to dir/hashes (see HashesFile)
	broken    error       // set when an append failed midway: no more appends
}

// Open opens (creating if missing) the log in dir. With a signer it may append and sign
// checkpoints, it takes an exclusive lock, and it truncates a torn tail; with signer == nil it
// is read-only and a torn tail is only skipped. It checks and hashes every record that the
// hash cache (HashesFile) does not already cover, and checks the stored checkpoint's root hash
// (not its signature: VerifyDir does that, over every record).
func Open(dir string, signer note.Signer) (*Log, error) {
	return open(dir, signer, true)
}

// open is Open; with useCache false it ignores the hash cache and checks every record.
func open(dir string, signer note.Signer, useCache bool) (*Log, error) {
	l := &Log{dir: dir, signer: signer}
	path := filepath.Join(dir, RecordsFile)
	var err error
	if signer != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		_, statErr := os.Stat(path)
		l.f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			l.f.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		if os.IsNotExist(statErr) {
			if err := syncDir(dir); err != nil {
				l.f.Close()
				return nil, err
			}
		}
	} else {
		l.f, err = os.Open(path)
		if err != nil {
			return nil, err
		}
	}
	cached, err := l.load(path, useCache)
	if err != nil {
		l.f.Close()
		return nil, err
	}
	if err := l.checkStoredCheckpoint(); err != nil {
		l.f.Close()
		return nil, err
	}
	if signer != nil {
		// A cache that cannot be written only costs time at the next Open.
		l.cache, _ = openCache(dir, cached, l.offsets[1:], l.recordHashes())
	}
	return l, nil
}

// recordHashes returns the record hash of every record, from the stored hashes.
func (l *Log) recordHashes() []tlog.Hash {
	out := make([]tlog.Hash, l.size())
	for i := range out {
		out[i] = l.hashes[tlog.StoredHashIndex(0, int64(i))]
	}
	return out
}

// load reads every record, validating and hashing it, and handles a torn tail. With useCache,
// the records the hash cache covers are taken from it; it returns how many.
func (l *Log) load(path string, useCache bool) (cached int, err error) {
	l.offsets = []int64{0}
	if useCache {
		st, err := l.f.Stat()
		if err != nil {
			return 0, err
		}
		ends, hashes := loadCache(l.dir, l.f, st.Size())
		for i, h := range hashes {
			l.hashes = appendStoredHashes(l.hashes, int64(i), h)
		}
		l.offsets = append(l.offsets, ends...)
		cached = len(ends)
	}
	off := l.offsets[len(l.offsets)-1]
	stop := make(chan struct{})
	defer close(stop)
	for res := range checkLines(io.NewSectionReader(l.f, off, 1<<62), off, stop) {
		cb := <-res
		if cb.readErr != nil {
			return 0, fmt.Errorf("%s: %w", path, cb.readErr)
		}
		for i, h := range cb.hashes {
			l.hashes = appendStoredHashes(l.hashes, l.size(), h)
			l.offsets = append(l.offsets, cb.ends[i])
		}
		if cb.err != nil {
			return 0, &RecordError{path, int64(len(l.offsets)), cb.err}
		}
		l.truncated = cb.torn
	}
	off = l.offsets[len(l.offsets)-1]
	if l.truncated > 0 && l.signer != nil {
		if err := l.f.Truncate(off); err != nil {
			return 0, fmt.Errorf("%s: truncate torn tail: %w", path, err)
		}
		if err := l.f.Sync(); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	if l.signer != nil {
		if _, err := l.f.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
	}
	return cached, nil
}

var errTooLong = fmt.Errorf("%w: longer than %d bytes", ErrRecordMalformed, MaxRecordSize)

// CheckRecord reports whether rec (without its newline) is a valid record: canonical JSON of an
// object with a non-empty string "type".
func CheckRecord(rec []byte) error {
	if len(rec) > MaxRecordSize {
		return errTooLong
	}
	typ, err := canonjson.CheckObject(rec, "type")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRecordMalformed, err)
	}
	// A canonical string member: its first byte is the quote; `""` is the empty string.
	if len(typ) < 3 || typ[0] != '"' {
		return fmt.Errorf("%w: no \"type\" string", ErrRecordMalformed)
	}
	return nil
}

// MarshalRecord returns the canonical form of a record given as a Go value, []byte or
// json.RawMessage (JSON text), and checks it.
func MarshalRecord(rec any) ([]byte, error) {
	var b []byte
	var err error
	switch r := rec.(type) {
	case []byte:
		b, err = canonjson.Canonicalize(r)
	case json.RawMessage:
		b, err = canonjson.Canonicalize(r)
	case string:
		b, err = canonjson.Canonicalize([]byte(r))
	default:
		b, err = canonjson.Marshal(rec)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecordMalformed, err)
	}
	return b, CheckRecord(b)
}

// appendStoredHashes appends the stored hashes of record n, whose record hash is h, to hashes,
// which holds those of records 0..n-1. It is tlog.StoredHashesForRecordHash reading hashes in
// place instead of through a HashReader, which on a long log's open is most of the cost.
func appendStoredHashes(hashes []tlog.Hash, n int64, h tlog.Hash) []tlog.Hash {
	hashes = append(hashes, h)
	// Each trailing 1 bit of n completes a subtree: combine with its left neighbour.
	for i := 0; i < bits.TrailingZeros64(uint64(n+1)); i++ {
		h = tlog.NodeHash(hashes[tlog.StoredHashIndex(i, n>>uint(i)-1)], h)
		hashes = append(hashes, h)
	}
	return hashes
}

func (l *Log) hashReader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(l.hashes)) {
				return nil, fmt.Errorf("hash index %d out of range", x)
			}
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

// checkStoredCheckpoint compares dir/checkpoint (if any) with the records.
func (l *Log) checkStoredCheckpoint() error {
	path := filepath.Join(l.dir, CheckpointFile)
	msg, err := readlimit.File(path, MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := ParseSignedCheckpoint(msg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return l.matches(path, c)
}

// matches checks that the records reproduce checkpoint c.
func (l *Log) matches(path string, c Checkpoint) error {
	n := l.size()
	if c.Size > n {
		return fmt.Errorf("%s: %w: checkpoint covers %d records, %s holds %d", path, ErrRecordsLost, c.Size, RecordsFile, n)
	}
	th, err := tlog.TreeHash(c.Size, l.hashReader())
	if err != nil {
		return err
	}
	if th != c.Hash {
		return fmt.Errorf("%s: %w: root hash at size %d is %s, records give %s (a record up to line %d was altered)",
			path, ErrCheckpointMismatch, c.Size, c.Hash, th, c.Size)
	}
	return nil
}

func (l *Log) size() int64 { return int64(len(l.offsets) - 1) }

// Size is the number of records.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size()
}

// Recovered is how many bytes of torn tail Open removed (or, read-only, skipped).
func (l *Log) Recovered() int64 { return l.truncated }

// Append adds a record (a Go value, or JSON text as []byte/json.RawMessage/string) and returns
// its index once it is durable on disk.
func (l *Log) Append(ctx context.Context, rec any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if l.signer == nil {
		return 0, ErrReadOnly
	}
	b, err := MarshalRecord(rec)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return 0, fmt.Errorf("audit log %s: an earlier append failed: %w", l.dir, l.broken)
	}
	end := l.offsets[len(l.offsets)-1]
	line := append(b, '\n')
	if _, err := l.f.Write(line); err != nil {
		l.undo(end, err)
		return 0, fmt.Errorf("audit log %s: append: %w", l.dir, err)
	}
	if err := l.f.Sync(); err != nil {
		l.undo(end, err)
		return 0, fmt.Errorf("audit log %s: fsync: %w", l.dir, err)
	}
	h := tlog.RecordHash(b)
	l.hashes = appendStoredHashes(l.hashes, l.size(), h)
	l.offsets = append(l.offsets, end+int64(len(line)))
	l.cache.add(end+int64(len(line)), h)
	return l.size() - 1, nil
}

// undo tries to cut a failed append off; if it cannot, the log takes no more appends (Open
// recovers it).
func (l *Log) undo(end int64, cause error) {
	if err := l.f.Truncate(end); err != nil {
		l.broken = cause
		return
	}
	if _, err := l.f.Seek(end, io.SeekStart); err != nil {
		l.broken = cause
	}
}

// Record returns record i (without newline).
func (l *Log) Record(i int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= l.size() {
		return nil, fmt.Errorf("record %d out of range [0, %d)", i, l.size())
	}
	b := make([]byte, l.offsets[i+1]-l.offsets[i]-1)
	if _, err := l.f.ReadAt(b, l.offsets[i]); err != nil {
		return nil, err
	}
	// Records covered by the hash cache were not re-read at Open: never hand out bytes the tree
	// does not hold.
	if tlog.RecordHash(b) != l.hashes[tlog.StoredHashIndex(0, i)] {
		return nil, fmt.Errorf("%s: line %d: %w", filepath.Join(l.dir, RecordsFile), i+1, ErrRecordAltered)
	}
	return b, nil
}

// Origin is the checkpoint origin line: the signer's name.
func (l *Log) Origin() string {
	if l.signer == nil {
		return ""
	}
	return l.signer.Name()
}

// Head returns the current tree size and root hash.
func (l *Log) Head() (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	th, err := tlog.TreeHash(l.size(), l.hashReader())
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: l.Origin(), Size: l.size(), Hash: th}, nil
}

// Checkpoint signs the current tree head, stores it as dir/checkpoint (atomically) and returns
// the signed note.
func (l *Log) Checkpoint() ([]byte, error) {
	if l.signer == nil {
		return nil, ErrReadOnly
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	c, err := l.Head()
	if err != nil {
		return nil, err
	}
	msg, err := SignCheckpoint(c, l.signer)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(l.dir, CheckpointFile), msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// ProveInclusion returns the proof that record index is in the tree of size treeSize.
func (l *Log) ProveInclusion(index, treeSize int64) (tlog.RecordProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if treeSize > l.size() || index < 0 || index >= treeSize {
		return nil, fmt.Errorf("inclusion proof of %d in tree of %d: log has %d records", index, treeSize, l.size())
	}
	return tlog.ProveRecord(treeSize, index, l.hashReader())
}

// ProveConsistency returns the proof that the tree of size oldSize is a prefix of the tree of
// size newSize.
func (l *Log) ProveConsistency(oldSize, newSize int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if newSize > l.size() || oldSize < 0 || oldSize > newSize {
		return nil, fmt.Errorf("consistency proof %d -> %d: log has %d records", oldSize, newSize, l.size())
	}
	return tlog.ProveTree(newSize, oldSize, l.hashReader())
}

// TreeHash is the root hash of the tree of the first n records.
func (l *Log) TreeHash(n int64) (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > l.size() {
		return tlog.Hash{}, fmt.Errorf("tree size %d: log has %d records", n, l.size())
	}
	return tlog.TreeHash(n, l.hashReader())
}

// Close releases the log.
func (l *Log) Close() error {
	l.cache.close()
	return l.f.Close()
}

// Report is what VerifyDir found.
type Report struct {
	Records    int64
	Checkpoint *Checkpoint // the verified stored checkpoint, nil if none
	Cosigned   []int64     // sizes of verified cosigned checkpoints
	Recovered  int64       // torn-tail bytes skipped
}

// VerifyDir verifies the log in dir without changing it: every record well formed, the stored
// checkpoint signed by logKey and reproduced by the records, and, when auditors are given,
// every cosigned checkpoint signed by the log key and by each auditor and reproduced too.
func VerifyDir(dir string, logKey note.Verifier, auditors ...note.Verifier) (*Report, error) {
	l, err := open(dir, nil, false)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	r := &Report{Records: l.size(), Recovered: l.truncated}
	path := filepath.Join(dir, CheckpointFile)
	msg, err := readlimit.File(path, MaxCheckpointSize)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if l.size() > 0 {
			return r, fmt.Errorf("%s: no checkpoint for %d records", path, l.size())
		}
	case err != nil:
		return r, err
	default:
		c, _, err := OpenCheckpoint(msg, logKey)
		if err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		if err := l.matches(path, c); err != nil {
			return r, err
		}
		r.Checkpoint = &c
	}
	if len(auditors) == 0 {
		return r, nil
	}
	ents, err := os.ReadDir(filepath.Join(dir, CosignedDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return r, err
	}
	for _, e := range ents {
		p := filepath.Join(dir, CosignedDir, e.Name())
		msg, err := readlimit.File(p, MaxCheckpointSize)
		if err != nil {
			return r, err
		}
		c, _, err := OpenCheckpoint(msg, append([]note.Verifier{logKey}, auditors...)...)
		if err != nil {
			return r, fmt.Errorf("%s: %w", p, err)
		}
		if err := l.matches(p, c); err != nil {
			return r, err
		}
		r.Cosigned = append(r.Cosigned, c.Size)
	}
	return r, nil
}

// Cosign has an auditor countersign the log's current checkpoint after checking it: the log
// key's signature, and that the records reproduce it. The cosigned note (log signature, then the
// auditor's) is stored as dir/cosigned/SIZE and returned.
func Cosign(dir string, logKey note.Verifier, auditor note.Signer) ([]byte, Checkpoint, error) {
	path := filepath.Join(dir, CheckpointFile)
	msg, err := readlimit.File(path, MaxCheckpointSize)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	c, n, err := OpenCheckpoint(msg, logKey)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	l, err := open(dir, nil, false)
	if err != nil {
		return nil, c, err
	}
	err = l.matches(path, c)
	l.Close()
	if err != nil {
		return nil, c, err
	}
	// Keep only the log key's signature, then add the auditor's.
	n.UnverifiedSigs = nil
	out, err := note.Sign(n, auditor)
	if err != nil {
		return nil, c, err
	}
	if err := os.MkdirAll(filepath.Join(dir, CosignedDir), 0o755); err != nil {
		return nil, c, err
	}
	if err := writeAtomic(filepath.Join(dir, CosignedDir, strconv.FormatInt(c.Size, 10)), out); err != nil {
		return nil, c, err
	}
	return out, c, nil
}

// writeAtomic replaces path with b: temp file, fsync, rename, fsync of the directory.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
