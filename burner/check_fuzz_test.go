package burner

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzCheckImage feeds hostile bytes to the disc verifier: it must refuse them (ErrBadImage or
// ErrNotWritten) or accept exactly the bytes the writer produces from the files it found
// (followed by zeros only).
func FuzzCheckImage(f *testing.F) {
	for _, files := range [][]File{
		randomTree(rand.New(rand.NewPCG(3, 3)), 5),
		{{Path: "SHA256SUMS", Size: 3, Open: constOpener("abc")}, {Path: "bundle/e", Dir: true}},
	} {
		l, err := NewLayout(files, Options{Epoch: testEpoch})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		l.WriteTo(&buf)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := CheckImage(context.Background(), "fuzz.iso", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrBadImage) && !errors.Is(err, ErrNotWritten) {
				t.Fatalf("refusal of another class: %v", err)
			}
			return
		}
		// Accepted: writing the files it holds with its parameters gives the same bytes.
		l, err := FromFS(c.FS, Options{Label: c.Label, Epoch: c.Epoch, Layout: c.Layout})
		if err != nil {
			t.Fatalf("accepted image's files do not lay out: %v", err)
		}
		var buf bytes.Buffer
		if _, err := l.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		n := buf.Len()
		if len(data) < n || !bytes.Equal(buf.Bytes(), data[:n]) || bytes.ContainsFunc(data[n:], func(r rune) bool { return r != 0 }) {
			t.Fatalf("accepted an image (%d bytes) the writer does not produce (%d bytes)", len(data), buf.Len())
		}
	})
}
