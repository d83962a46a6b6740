package auditlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestStoredHashesMatchTlog: the in-place stored-hash computation is tlog's.
func TestStoredHashesMatchTlog(t *testing.T) {
	var ours, theirs []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = theirs[x]
		}
		return out, nil
	})
	for n := int64(0); n < 300; n++ {
		rec := []byte{byte(n), byte(n >> 8)}
		hs, err := tlog.StoredHashes(n, rec, hr)
		if err != nil {
			t.Fatal(err)
		}
		theirs = append(theirs, hs...)
		ours = appendStoredHashes(ours, n, tlog.RecordHash(rec))
	}
	if len(ours) != len(theirs) {
		t.Fatalf("%d stored hashes, tlog %d", len(ours), len(theirs))
	}
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Fatalf("stored hash %d differs", i)
		}
	}
}

// TestHashCache: reopening a log takes the cached records from dir/hashes (tree heads
// unchanged), a cache that does not match the records is ignored and rebuilt, and full
// verification never trusts it.
func TestHashCache(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKeys(t, "airlock.test/log")
	l, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 40)
	head, _ := l.Head()
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	cachePath := filepath.Join(dir, HashesFile)
	if st, err := os.Stat(cachePath); err != nil || st.Size() != int64(len(hashesMagic)+40*hashesEntry) {
		t.Fatalf("hash cache after 40 appends: %v %v", st, err)
	}
	reopen := func(wantCached int) {
		t.Helper()
		l, err := Open(dir, signer)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if h, _ := l.Head(); h.Size != head.Size || h.Hash != head.Hash {
			t.Fatalf("head after reopen %v, want %v", h, head)
		}
		f, _ := os.Open(filepath.Join(dir, RecordsFile))
		defer f.Close()
		st, _ := f.Stat()
		ends, _ := loadCache(dir, f, st.Size())
		if len(ends) != wantCached {
			t.Fatalf("cache holds %d records, want %d", len(ends), wantCached)
		}
	}
	reopen(40)

	// A torn last entry, a lost tail: the rest is kept and the cache is completed.
	os.Truncate(cachePath, int64(len(hashesMagic)+30*hashesEntry+7))
	reopen(40)

	// A wrong hash for the last record, or a cache of another log: ignored, rebuilt.
	b, _ := os.ReadFile(cachePath)
	b[len(b)-1] ^= 1
	os.WriteFile(cachePath, b, 0o644)
	reopen(40)
	other := t.TempDir()
	lo, _ := Open(other, signer)
	for i := 0; i < 40; i++ {
		if _, err := lo.Append(context.Background(), map[string]any{"type": "other", "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	lo.Close()
	ob, _ := os.ReadFile(filepath.Join(other, HashesFile))
	os.WriteFile(cachePath, ob, 0o644)
	reopen(40)

	// A cache longer than the records could ever need is not read whole: ignored, rebuilt.
	huge := append([]byte(hashesMagic), make([]byte, 1<<20)...)
	os.WriteFile(cachePath, huge, 0o644)
	reopen(40)

	// A record altered in the middle (canonical, same length): Open trusts the cache, so the
	// tree and its checkpoints stay those of the true records, and Record refuses the altered
	// bytes; VerifyDir re-hashes every record and refuses the log.
	recs, _ := os.ReadFile(filepath.Join(dir, RecordsFile))
	i := len(recs) / 2
	for recs[i] < '0' || recs[i] > '8' {
		i++
	}
	recs[i]++
	os.WriteFile(filepath.Join(dir, RecordsFile), recs, 0o644)
	l, err = Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Record(20); !errors.Is(err, ErrRecordAltered) {
		t.Fatalf("Record of an altered record: %v, want ErrRecordAltered", err)
	}
	l.Close()
	if _, err := VerifyDir(dir, verifier); !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("VerifyDir of an altered record with a cache: %v, want ErrCheckpointMismatch", err)
	}
}
