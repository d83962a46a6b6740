package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/airlock-appliance/airlock/scanner"
)

func stream(t testing.TB, frames func(w *Writer)) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	frames(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const sum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func good(w *Writer) {
	w.Send(THello, Hello{PID: 1, UID: 65534, Landlock: 6, Seccomp: true})
	w.Send(TOpen, Open{Path: "a/b.tar", Size: 0})
	w.Send(TProgress, Progress{Bytes: 10, Total: 20})
	w.Send(TResult, ResultHead{File: scanner.File{Path: "a/b.tar", SHA256: sum, Verdict: scanner.Clean, Format: "tar"}, Inner: 1})
	w.Send(TInner, scanner.File{Path: "a/b.tar!x", Verdict: scanner.Match, Depth: 1, Rules: []scanner.RuleMatch{{Rule: "r", Namespace: "n"}}})
	w.Send(TDone, Done{Results: 1})
}

func TestRoundTrip(t *testing.T) {
	var opened []string
	st, err := NewReader(bytes.NewReader(stream(t, good)), Limits{}, Handler{Open: func(o Open) { opened = append(opened, o.Path) }}).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Results) != 1 || len(st.Results[0].Inner) != 1 || st.Results[0].Sum[0] != 0xe3 || st.Hello.Landlock != 6 {
		t.Fatalf("%+v", st)
	}
	if len(opened) != 1 || opened[0] != "a/b.tar" {
		t.Errorf("opened %v", opened)
	}
}

// Every violation is refused with ErrProtocol or ErrTruncated, never a partial success.
func TestStrict(t *testing.T) {
	full := stream(t, good)
	cases := map[string][]byte{
		"empty":      nil,
		"bad magic":  append([]byte("XLWK\x01"), full[5:]...),
		"bad vers":   append([]byte("ALWK\x02"), full[5:]...),
		"truncated":  full[:len(full)-3],
		"no done":    stream(t, func(w *Writer) { w.Send(THello, Hello{}) }),
		"trailing":   append(append([]byte{}, full...), 'x'),
		"no hello":   stream(t, func(w *Writer) { w.Send(TDone, Done{}) }),
		"two hellos": stream(t, func(w *Writer) { w.Send(THello, Hello{}); w.Send(THello, Hello{}); w.Send(TDone, Done{}) }),
		"unknown field": stream(t, func(w *Writer) {
			w.Send(THello, map[string]any{"pid": 1, "approved": true})
			w.Send(TDone, Done{})
		}),
		"count lie": stream(t, func(w *Writer) { w.Send(THello, Hello{}); w.Send(TDone, Done{Results: 3}) }),
		"escaping path": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "../etc/shadow", Verdict: scanner.Clean}})
			w.Send(TDone, Done{Results: 1})
		}),
		"bad verdict": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: "approved"}})
			w.Send(TDone, Done{Results: 1})
		}),
		"bad sum": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: scanner.Clean, SHA256: "zz"}})
			w.Send(TDone, Done{Results: 1})
		}),
		"duplicate": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: scanner.Clean}})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: scanner.Clean}})
			w.Send(TDone, Done{Results: 2})
		}),
		"inner outside": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: scanner.Clean}, Inner: 1})
			w.Send(TInner, scanner.File{Path: "b!c", Verdict: scanner.Clean, Depth: 1})
			w.Send(TDone, Done{Results: 1})
		}),
		"missing inner": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TResult, ResultHead{File: scanner.File{Path: "a", Verdict: scanner.Clean}, Inner: 2})
			w.Send(TInner, scanner.File{Path: "a!c", Verdict: scanner.Clean, Depth: 1})
			w.Send(TDone, Done{Results: 1})
		}),
		"progress back": stream(t, func(w *Writer) {
			w.Send(THello, Hello{})
			w.Send(TProgress, Progress{Bytes: 5})
			w.Send(TProgress, Progress{Bytes: 4})
			w.Send(TDone, Done{})
		}),
		"huge frame": append(append([]byte{}, full[:5]...), 'H', 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range cases {
		st, err := NewReader(bytes.NewReader(b), Limits{}, Handler{}).ReadAll()
		if err == nil {
			t.Errorf("%s: accepted: %+v", name, st)
			continue
		}
		if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v is neither ErrProtocol nor ErrTruncated", name, err)
		}
	}
	// Bounds are the Reader's, not the writer's.
	_, err := NewReader(bytes.NewReader(full), Limits{MaxFrames: 3}, Handler{}).ReadAll()
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "frames") {
		t.Errorf("frame bound: %v", err)
	}
}

// FuzzReader: whatever a hostile worker writes, the parent's parser neither panics nor accepts
// a stream that breaks the rules it checks.
func FuzzReader(f *testing.F) {
	f.Add(stream(f, good))
	f.Add([]byte("ALWK\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := NewReader(bytes.NewReader(b), Limits{MaxFrame: 1 << 16, MaxStream: 1 << 20, MaxFrames: 1 << 12}, Handler{}).ReadAll()
		if err != nil {
			return
		}
		for _, r := range st.Results {
			if err := checkFile(&r.File, "", 0); err != nil {
				t.Fatalf("accepted an invalid result: %v", err)
			}
			for i := range r.Inner {
				if err := checkFile(&r.Inner[i], r.Path, 1); err != nil {
					t.Fatalf("accepted an invalid inner file: %v", err)
				}
			}
		}
	})
}

// TestSendSeqKeepsFramesTogether: frames sent with SendSeq arrive back to back however many
// goroutines send at the same time (a Result and its Inner frames while others announce files).
func TestSendSeqKeepsFramesTogether(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				w.Send(TOpen, Open{Path: "x", Size: 1})
				w.SendSeq(Frame{TProgress, Progress{Bytes: 1, Total: 2}}, Frame{TProgress, Progress{Bytes: 2, Total: 2}})
			}
		}()
	}
	wg.Wait()
	w.Flush()
	b := buf.Bytes()[len(Magic)+1:]
	var last int64
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if b[0] == TProgress {
			var p Progress
			json.Unmarshal(b[5:5+n], &p)
			if p.Bytes == 2 && last != 1 {
				t.Fatal("the second frame of a sequence did not follow the first")
			}
			last = p.Bytes
		} else {
			if last == 1 {
				t.Fatal("a frame came between the two of a sequence")
			}
			last = 0
		}
		b = b[5+n:]
	}
}
