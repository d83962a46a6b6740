package guix

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
)

// testStorePath returns a distinct valid store path for each i.
func testStorePath(i int, name string) string {
	var h [20]byte
	binary.BigEndian.PutUint64(h[12:], uint64(i))
	return StoreDir + "/" + EncodeBase32(h[:]) + "-" + name
}

// manyItems writes an unsigned export of n one-file items, item i referencing refsPer distinct
// paths (all present). Items are stamped from one template (only the store path's hash
// differs), so that streams at the stream bounds build fast even under the race detector.
func manyItems(t testing.TB, n, refsPer int) (stream []byte, present []string) {
	t.Helper()
	next := 1 << 30
	var refs []string
	if refsPer > 0 {
		for r := 0; r < refsPer; r++ {
			refs = append(refs, testStorePath(next+r, "ref"))
		}
	}
	var tmpl bytes.Buffer
	ew := NewExportWriter(&tmpl, nil)
	if err := ew.AddBytes(nb().file("x", false).b, testStorePath(0, "item"), refs, ""); err != nil {
		t.Fatal(err)
	}
	item := tmpl.Bytes()
	at := bytes.Index(item, []byte(testStorePath(0, "item"))) + len(StoreDir) + 1
	// Reference hashes sit at fixed offsets too; each item gets its own set.
	var refAt []int
	if len(refs) > 0 {
		first := bytes.Index(item, []byte(refs[0])) + len(StoreDir) + 1
		stride := 8 + (len(refs[0])+7)/8*8 // every reference string has the same length
		for r := range refs {
			refAt = append(refAt, first+r*stride)
		}
	}
	out := make([]byte, 0, n*len(item)+8)
	for i := 0; i < n; i++ {
		start := len(out)
		out = append(out, item...)
		copy(out[start+at:], testStorePath(i, "item")[len(StoreDir)+1:][:32])
		mine := make([]string, len(refAt))
		for r := range mine {
			mine[r] = testStorePath(next, "ref")
			next++
		}
		sort.Strings(mine) // an export lists references sorted
		for r, off := range refAt {
			copy(out[start+off:], mine[r][len(StoreDir)+1:][:32])
		}
		present = append(present, mine...)
	}
	return append(out, make([]byte, 8)...), present
}

var boundStreams struct {
	sync.Once
	at, over []byte
}

// itemBoundStreams returns exports of MaxStreamItems and MaxStreamItems+1 items, built once.
func itemBoundStreams(t testing.TB) (at, over []byte) {
	boundStreams.Do(func() {
		boundStreams.at, _ = manyItems(t, MaxStreamItems, 0)
		var b bytes.Buffer
		b.Write(boundStreams.at[:len(boundStreams.at)-8])
		ew := NewExportWriter(&b, nil)
		ew.AddBytes(nb().file("y", false).b, testStorePath(MaxStreamItems, "item"), nil, "")
		ew.Close()
		boundStreams.over = b.Bytes()
	})
	return boundStreams.at, boundStreams.over
}

func judgeBytes(t testing.TB, b []byte, present []string) *ExportReport {
	t.Helper()
	rep, err := VerifyExport(context.Background(), bytes.NewReader(b), NewACL(), present)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestJudgeMaxStreamItemsEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds streams of 2^17 items")
	}
	at, over := itemBoundStreams(t)
	rep := judgeBytes(t, at, nil)
	if rep.Stream != StreamComplete || len(rep.Items) != MaxStreamItems {
		t.Fatalf("%d items: stream %s (%v), %d reported", MaxStreamItems, rep.Stream, rep.StreamErr, len(rep.Items))
	}
	rep = judgeBytes(t, over, nil)
	var fe *FormatError
	if rep.Stream != StreamMalformed || !errors.As(rep.StreamErr, &fe) || fe.Rule != RuleTooManyItems ||
		fe.Item != MaxStreamItems || len(rep.Items) != MaxStreamItems || rep.Accept {
		t.Fatalf("%d items: stream %s (%v), %d reported", MaxStreamItems+1, rep.Stream, rep.StreamErr, len(rep.Items))
	}
	if !strings.Contains(strings.Join(rep.Reasons(), "\n"), string(RuleTooManyItems)) {
		t.Errorf("reasons %q do not name the bound", rep.Reasons())
	}
}

func TestJudgeMaxStreamReferencesEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds streams of 2^18 references")
	}
	n := MaxStreamReferences / MaxReferences
	at, present := manyItems(t, n, MaxReferences)
	rep := judgeBytes(t, at, present)
	if rep.Stream != StreamComplete || len(rep.Items) != n {
		t.Fatalf("%d references: stream %s (%v)", MaxStreamReferences, rep.Stream, rep.StreamErr)
	}
	// One more item with one reference passes the bound by one.
	var out bytes.Buffer
	out.Write(at[:len(at)-8]) // without the end marker
	ew := NewExportWriter(&out, nil)
	extra := testStorePath(1<<40, "extra")
	if err := ew.AddBytes(nb().file("", false).b, testStorePath(1<<41, "last"), []string{extra}, ""); err != nil {
		t.Fatal(err)
	}
	ew.Close()
	rep = judgeBytes(t, out.Bytes(), append(present, extra))
	var fe *FormatError
	if rep.Stream != StreamMalformed || !errors.As(rep.StreamErr, &fe) || fe.Rule != RuleTooManyItems || len(rep.Items) != n {
		t.Fatalf("%d references: stream %s (%v), %d items", MaxStreamReferences+1, rep.Stream, rep.StreamErr, len(rep.Items))
	}
}

// TestJudgeIncremental feeds items by hand, walking each NAR first as the scanner does, and
// gets the report VerifyExport gets.
func TestJudgeIncremental(t *testing.T) {
	k1, _ := GenerateKey(testRand(21))
	k2, _ := GenerateKey(testRand(22))
	p1, p2, p3 := testStorePath(1, "a"), testStorePath(2, "b"), testStorePath(3, "c")
	var out bytes.Buffer
	ew := NewExportWriter(&out, k1)
	ew.AddBytes(nb().file("one", false).b, p1, nil, "")
	ew.AddBytes(nb().file("two", true).b, p2, []string{p1, p3}, "")
	ew.Close()
	b := out.Bytes()
	acl := NewACL(k1.Public(), k2.Public())
	j := NewJudge(acl, nil)
	er := NewExportReader(bytes.NewReader(b))
	for {
		it, err := er.Next()
		if err == nil {
			for {
				if _, err = it.NAR().Next(); err != nil {
					break
				}
			}
			if err == io.EOF {
				err = j.Add(it)
			}
		}
		if err != nil {
			rep, ferr := j.Finish(err)
			if ferr != nil {
				t.Fatal(ferr)
			}
			want := verifyBytes(t, b, acl)
			if outcomes(rep) != outcomes(want) || outcomes(rep) != "valid,missing-reference/complete" ||
				rep.Items[1].Reason != want.Items[1].Reason || len(rep.Items[1].Missing) != 1 || rep.Items[1].Missing[0] != p3 {
				t.Fatalf("judge %s %+v, VerifyExport %s", outcomes(rep), rep.Items, outcomes(want))
			}
			if again, _ := j.Finish(nil); again != rep {
				t.Error("Finish again returned another report")
			}
			break
		}
	}
	if rep := verifyBytes(t, b, acl, p3); !rep.Accept {
		t.Errorf("with %s present: %v", p3, rep.Reasons())
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestJudgeUnreadOnReadError(t *testing.T) {
	b, _ := manyItems(t, 2, 0)
	boom := errors.New("boom")
	rep, err := VerifyExport(context.Background(), &failingReader{bytes.NewReader(b[:len(b)-20]), boom}, NewACL(), nil)
	if !errors.Is(err, boom) || rep.Stream != StreamUnread || rep.Accept || !strings.Contains(rep.StreamReason, "boom") {
		t.Fatalf("err %v, stream %s %q", err, rep.Stream, rep.StreamReason)
	}
	// A caller's own error (a scanner limit) is unread too, and kept.
	j := NewJudge(NewACL(), nil)
	limit := errors.New("limit hit")
	if rep, err := j.Finish(limit); !errors.Is(err, limit) || rep.Stream != StreamUnread || rep.Accept {
		t.Fatalf("err %v stream %s", err, rep.Stream)
	}
}

func TestExportWriterRoundTrip(t *testing.T) {
	k, _ := GenerateKey(testRand(23))
	p1, p2 := testStorePath(1, "a"), testStorePath(2, "b")
	var out bytes.Buffer
	ew := NewExportWriter(&out, k)
	nar := nb().dir(ent("f", fileNode("hello"))).b
	h, n, err := ew.Add(bytes.NewReader(nar), p2, []string{p2, p1}, testStorePath(3, "b.drv"))
	if err != nil || n != int64(len(nar)) || h != sha256Sum(nar) {
		t.Fatalf("Add: %v %d %x", err, n, h)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	rep := judgeBytes(t, out.Bytes(), []string{p1})
	rep2, _ := VerifyExport(context.Background(), bytes.NewReader(out.Bytes()), NewACL(k.Public()), []string{p1})
	if outcomes(rep) != "unauthorized-key/complete" || !rep2.Accept {
		t.Fatalf("%s / %v", outcomes(rep), rep2.Reasons())
	}
	info := rep2.Items[0].Info
	if info.NARHash != h || info.NARSize != n || strings.Join(info.References, " ") != p1+" "+p2 || info.Deriver != testStorePath(3, "b.drv") {
		t.Errorf("read back %+v", info)
	}
	if err := NewExportWriter(io.Discard, nil).Close(); err == nil {
		t.Error("an export with no item was written")
	}
}
