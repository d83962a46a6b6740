package auditlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func testKeys(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func appendN(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		idx, err := l.Append(context.Background(), map[string]any{"type": "test", "n": i, "text": fmt.Sprintf("rec <%d>", i)})
		if err != nil {
			t.Fatal(err)
		}
		if idx != int64(i) {
			t.Fatalf("append %d got index %d", i, idx)
		}
	}
}

func TestAppendCheckpointProofs(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKeys(t, "airlock.test/log")
	l, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 7)
	msg7, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 7, 13)
	msg20, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	// The checkpoint verifies with x/mod/sumdb/note directly and has the C2SP body.
	n, err := note.Open(msg20, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if lines[0] != "airlock.test/log" || lines[1] != "20" || len(lines) != 4 || lines[3] != "" {
		t.Fatalf("checkpoint text %q", n.Text)
	}
	c7, _, _ := OpenCheckpoint(msg7, verifier)
	c20, _, err := OpenCheckpoint(msg20, verifier)
	if err != nil {
		t.Fatal(err)
	}
	// Inclusion proof of record 5 in tree 20, checked by tlog.
	rec5, _ := l.Record(5)
	p, err := l.ProveInclusion(5, 20)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := ParseProof(FormatProof(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(pp, 20, c20.Hash, 5, tlog.RecordHash(rec5)); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	if err := tlog.CheckRecord(pp, 20, c20.Hash, 5, tlog.RecordHash(append(rec5, ' '))); err == nil {
		t.Fatal("inclusion proof of another record passed")
	}
	tp, err := l.ProveConsistency(7, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(tp, 20, c20.Hash, 7, c7.Hash); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	l.Close()
	// Reopen: same head; VerifyDir passes; records intact.
	l2, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := l2.Head()
	if h.Size != 20 || h.Hash != c20.Hash {
		t.Fatalf("reopened head %+v", h)
	}
	appendN(t, l2, 20, 1)
	l2.Close()
	r, err := VerifyDir(dir, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 21 || r.Checkpoint.Size != 20 {
		t.Fatalf("report %+v", r)
	}
	// Wrong log key.
	_, other := testKeys(t, "airlock.test/log")
	if _, err := VerifyDir(dir, other); err == nil {
		t.Fatal("verified with another key")
	}
	// Auditor cosigning.
	asigner, averifier := testKeys(t, "auditor")
	cos, c, err := Cosign(dir, verifier, asigner)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 20 {
		t.Fatalf("cosigned size %d", c.Size)
	}
	if n, err := note.Open(cos, note.VerifierList(verifier, averifier)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned note: %v", err)
	}
	if r, err := VerifyDir(dir, verifier, averifier); err != nil || len(r.Cosigned) != 1 {
		t.Fatalf("verify with auditor: %v %+v", err, r)
	}
	// A second writer is refused while the first holds the log.
	l3, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if _, err := Open(dir, signer); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v", err)
	}
}

func TestTornTailRecovered(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKeys(t, "log")
	l, _ := Open(dir, signer)
	appendN(t, l, 0, 3)
	l.Checkpoint()
	l.Close()
	path := filepath.Join(dir, RecordsFile)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"n":3,"ty`)
	f.Close()
	if r, err := VerifyDir(dir, verifier); err != nil || r.Recovered != 10 || r.Records != 3 {
		t.Fatalf("read-only open of torn log: %v %+v", err, r)
	}
	l, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	if l.Recovered() != 10 || l.Size() != 3 {
		t.Fatalf("recovered %d, size %d", l.Recovered(), l.Size())
	}
	appendN(t, l, 3, 1)
	l.Close()
	b, _ := os.ReadFile(path)
	if bytes.Count(b, []byte("\n")) != 4 || bytes.Contains(b, []byte(`"ty{`)) {
		t.Fatalf("records after recovery: %q", b)
	}
}

func TestTamperingRefused(t *testing.T) {
	signer, verifier := testKeys(t, "log")
	mk := func() string {
		dir := t.TempDir()
		l, _ := Open(dir, signer)
		appendN(t, l, 0, 5)
		l.Checkpoint()
		l.Close()
		return dir
	}
	edit := func(dir string, f func([]byte) []byte) {
		p := filepath.Join(dir, RecordsFile)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, f(b), 0o644)
	}
	cases := []struct {
		name, want string
		is         error
		mutate     func([]byte) []byte
	}{
		{"edited record", "records:3: malformed record", ErrRecordMalformed, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"n":2,`), []byte(`"n": 2,`), 1)
		}},
		{"edited canonical record", "checkpoint does not match the records", ErrCheckpointMismatch, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`rec <2>`), []byte(`rec <9>`), 1)
		}},
		{"truncated record", "records:2: malformed record", ErrRecordMalformed, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"rec <1>","type":"test"}`), []byte(`"rec <1>","ty`), 1)
		}},
		{"removed record", "records missing that a checkpoint covers", ErrRecordsLost, func(b []byte) []byte {
			i := bytes.LastIndexByte(b[:len(b)-1], '\n')
			return b[:i+1]
		}},
		{"record without type", "records:1: malformed record: no \"type\"", ErrRecordMalformed, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"type":"test"`), []byte(`"typf":"test"`), 1)
		}},
	}
	for _, c := range cases {
		dir := mk()
		edit(dir, c.mutate)
		_, err := VerifyDir(dir, verifier)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
		// Without the hash cache, Open checks every record. (With it, see TestHashCache.)
		os.Remove(filepath.Join(dir, HashesFile))
		if _, err := Open(dir, signer); !errors.Is(err, c.is) {
			t.Errorf("%s: Open: %v", c.name, err)
		}
	}
	// A checkpoint edited after signing fails its signature.
	dir := mk()
	p := filepath.Join(dir, CheckpointFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("\n5\n"), []byte("\n4\n"), 1), 0o644)
	if _, err := VerifyDir(dir, verifier); err == nil {
		t.Error("edited checkpoint verified")
	}
}

func TestAppendRejectsBadRecords(t *testing.T) {
	signer, _ := testKeys(t, "log")
	l, _ := Open(t.TempDir(), signer)
	defer l.Close()
	for _, r := range []any{`{"n":1}`, `[1]`, `{"type":""}`, `{"type":"x","f":1.5}`, []byte("nope"), map[string]any{"type": strings.Repeat("x", MaxRecordSize)}} {
		if _, err := l.Append(context.Background(), r); !errors.Is(err, ErrRecordMalformed) {
			t.Errorf("Append(%.40v): %v", r, err)
		}
	}
	if l.Size() != 0 {
		t.Fatal("bad record appended")
	}
	if i, err := l.Append(context.Background(), `{ "type" : "ok" }`); err != nil || i != 0 {
		t.Fatalf("JSON text: %d %v", i, err)
	}
	if r, _ := l.Record(0); string(r) != `{"type":"ok"}` {
		t.Fatalf("stored %q", r)
	}
}

func FuzzCheckRecord(f *testing.F) {
	f.Add([]byte(`{"type":"seal","n":1}`))
	f.Add([]byte(`{"type":"x","a":[{"b":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckRecord(b) != nil {
			return
		}
		c, err := MarshalRecord(b)
		if err != nil || !bytes.Equal(c, b) {
			t.Fatalf("valid record %q not its own canonical form (%q, %v)", b, c, err)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	signer, _ := testKeys(f, "log")
	msg, _ := SignCheckpoint(Checkpoint{Origin: "o", Size: 3, Hash: tlog.RecordHash([]byte("x"))}, signer)
	f.Add(msg)
	f.Add([]byte("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCheckpoint(b); err == nil {
			c2, err := ParseCheckpoint(c.Text())
			if err != nil || !bytes.Equal(c2.Text(), b) {
				t.Fatalf("round trip of %q: %q %v", b, c2.Text(), err)
			}
		}
		_, _ = ParseSignedCheckpoint(b)
	})
}

func FuzzParseProof(f *testing.F) {
	f.Add(FormatProof([]tlog.Hash{tlog.RecordHash(nil), tlog.RecordHash([]byte("a"))}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err == nil && !bytes.Equal(FormatProof(p), b) {
			t.Fatalf("round trip of %q", b)
		}
	})
}

// TestConcurrentAppendCheckpoint: appends and checkpoints from many goroutines leave a log
// whose stored checkpoint verifies and whose records are all there (run with -race).
func TestConcurrentAppendCheckpoint(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKeys(t, "log")
	l, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 10; i++ {
				if _, err := l.Append(context.Background(), map[string]any{"type": "c", "g": g, "i": i}); err != nil {
					done <- err
					return
				}
				if _, err := l.Checkpoint(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	r, err := VerifyDir(dir, verifier)
	if err != nil || r.Records != 40 || r.Checkpoint.Size != 40 {
		t.Fatalf("%v %+v", err, r)
	}
}
