package burner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"testing/fstest"
	"time"

	"github.com/airlock-appliance/airlock/burner"
)

// Lay a tree out as a deterministic ISO 9660 image and check it as the high side does: an
// image verifies only if it is byte for byte what this writer produces from the files it
// holds. One byte changed anywhere, even where no reader looks, makes it foreign.
func Example() {
	tree := fstest.MapFS{
		"SHA256SUMS":       {Data: []byte("…\n")},
		"bundle/hello.txt": {Data: []byte("hello\n")},
	}
	l, err := burner.FromFS(tree, burner.Options{Label: "demo", Epoch: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	var img bytes.Buffer
	if _, err := l.Write(context.Background(), &img); err != nil {
		log.Fatal(err)
	}
	c, err := burner.CheckImage(context.Background(), "demo.iso", bytes.NewReader(img.Bytes()), int64(img.Len()))
	if err != nil {
		log.Fatal(err)
	}
	b, _ := fs.ReadFile(c.FS, "bundle/hello.txt")
	fmt.Printf("airlock wrote it: label %s, layout %d, %q\n", c.Label, c.Layout, b)

	forged := bytes.Clone(img.Bytes())
	forged[len(forged)-1] ^= 1 // the last byte of the last file's sector padding
	_, err = burner.CheckImage(context.Background(), "forged.iso", bytes.NewReader(forged), int64(len(forged)))
	fmt.Println("forged is foreign:", errors.Is(err, burner.ErrNotWritten))
	// Output:
	// airlock wrote it: label DEMO, layout 2, "hello\n"
	// forged is foreign: true
}
