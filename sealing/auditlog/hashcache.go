package auditlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/airlock-appliance/airlock/internal/readlimit"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// HashesFile caches, beside the records, what Open would otherwise recompute from every record:
// for record i, the offset just past its line and its record hash (tlog.RecordHash). It makes
// opening a long log proportional to the records added since the cache was written.
//
// Format: the 16-byte header hashesMagic, then one 40-byte entry per record: the end offset as a
// big-endian uint64, then the 32-byte record hash. Entries are appended after the record they
// describe is durable, without fsync: the cache is never ahead of the records, and a torn or
// lost tail of it only costs re-hashing those records at the next Open.
//
// The cache is a speed-up, not a source of truth. Open trusts it only as far as it is consistent
// with the records file (increasing offsets within the file, each ending a line, the first and
// the last cached record re-hashed and compared) and with the stored checkpoint, which Open
// checks against the tree either way. Full verification (VerifyDir, `airlock log verify`,
// Cosign) never reads it: it re-hashes and re-checks every record.
const HashesFile = "hashes"

const (
	hashesMagic = "airlock-hashes1\n"
	hashesEntry = 8 + tlog.HashSize
)

// errCacheStale: the cache does not describe these records; Open ignores it and rebuilds it.
var errCacheStale = errors.New("hash cache does not match the records")

// loadCache reads the usable prefix of dir/hashes: the record end offsets and hashes, checked
// against the records file f of the given size. A missing, foreign or inconsistent cache gives
// no entries and no error.
func loadCache(dir string, f *os.File, size int64) (ends []int64, hashes []tlog.Hash) {
	// The shortest record, {"type":"x"} and its newline, is 13 bytes: a cache describing more
	// records than the file can hold is foreign, and is not read whole.
	maxCache := int64(len(hashesMagic)) + (size/13+1)*hashesEntry
	b, err := readlimit.File(filepath.Join(dir, HashesFile), maxCache)
	if err != nil || len(b) < len(hashesMagic) || string(b[:len(hashesMagic)]) != hashesMagic {
		return nil, nil
	}
	b = b[len(hashesMagic):]
	n := len(b) / hashesEntry // a torn last entry is ignored
	ends = make([]int64, 0, n)
	hashes = make([]tlog.Hash, 0, n)
	prev := int64(0)
	for i := 0; i < n; i++ {
		e := b[i*hashesEntry : (i+1)*hashesEntry]
		end := int64(binary.BigEndian.Uint64(e))
		if end <= prev || end > size {
			break
		}
		ends = append(ends, end)
		hashes = append(hashes, tlog.Hash(e[8:]))
		prev = end
	}
	if err := checkCache(f, ends, hashes); err != nil {
		return nil, nil
	}
	return ends, hashes
}

// checkCache re-reads the first and last cached records: each must end with "\n" where the
// cache says, and hash to the cached record hash.
func checkCache(f *os.File, ends []int64, hashes []tlog.Hash) error {
	if len(ends) == 0 {
		return nil
	}
	for _, i := range []int{0, len(ends) - 1} {
		start := int64(0)
		if i > 0 {
			start = ends[i-1]
		}
		line := make([]byte, ends[i]-start)
		if int64(len(line)) > MaxRecordSize+1 {
			return errCacheStale
		}
		if _, err := f.ReadAt(line, start); err != nil {
			return errCacheStale
		}
		if line[len(line)-1] != '\n' || bytes.IndexByte(line[:len(line)-1], '\n') >= 0 ||
			tlog.RecordHash(line[:len(line)-1]) != hashes[i] {
			return errCacheStale
		}
	}
	return nil
}

// hashCache appends entries to dir/hashes as records are appended.
type hashCache struct {
	f *os.File // nil: caching is off (read-only log, or a cache write failed)
}

// openCache opens dir/hashes for appending and makes it hold exactly entries [0, len(ends)):
// the first keep of them are already in the file and are kept, the rest are written.
func openCache(dir string, keep int, ends []int64, leaves []tlog.Hash) (hashCache, error) {
	path := filepath.Join(dir, HashesFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return hashCache{}, err
	}
	want := int64(len(hashesMagic) + keep*hashesEntry)
	if keep == 0 {
		want = 0
	}
	if err := f.Truncate(want); err != nil {
		f.Close()
		return hashCache{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(want, io.SeekStart); err != nil {
		f.Close()
		return hashCache{}, err
	}
	c := hashCache{f: f}
	buf := make([]byte, 0, 1<<16)
	if keep == 0 {
		buf = append(buf, hashesMagic...)
	}
	for i := keep; i < len(ends); i++ {
		buf = appendEntry(buf, ends[i], leaves[i])
		if len(buf) > 1<<16-hashesEntry {
			if _, err := f.Write(buf); err != nil {
				c.close()
				return hashCache{}, fmt.Errorf("%s: %w", path, err)
			}
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		c.close()
		return hashCache{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func appendEntry(buf []byte, end int64, h tlog.Hash) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(end))
	return append(buf, h[:]...)
}

// add records one appended record. A failed write turns caching off and removes the file, so
// that the next Open re-hashes instead of trusting a cache with a hole.
func (c *hashCache) add(end int64, h tlog.Hash) {
	if c.f == nil {
		return
	}
	if _, err := c.f.Write(appendEntry(make([]byte, 0, hashesEntry), end, h)); err != nil {
		name := c.f.Name()
		c.close()
		os.Remove(name)
	}
}

func (c *hashCache) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
