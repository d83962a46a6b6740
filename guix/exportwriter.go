package guix

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
)

// ExportWriter writes a "guix archive --export" stream, as guix-daemon's exportPath does: per
// item the marker 1, the NAR, the export magic, store path, sorted references and deriver, then
// the signature (by the writer's key) of that span's SHA-256; the end marker 0 on Close. It is
// how airlock makes builder exports in tests and re-signed ones; it does not check the NARs.
type ExportWriter struct {
	w   io.Writer
	key *PrivateKey // nil: items are written unsigned (flag 0)
	err error
	n   int
	buf [8]byte
}

// NewExportWriter returns a writer of an export stream to w whose items key signs (unsigned
// when key is nil).
func NewExportWriter(w io.Writer, key *PrivateKey) *ExportWriter {
	return &ExportWriter{w: w, key: key}
}

func (ew *ExportWriter) write(h hash.Hash, b []byte) {
	if ew.err != nil {
		return
	}
	if h != nil {
		h.Write(b)
	}
	_, ew.err = ew.w.Write(b)
}

func (ew *ExportWriter) u64(h hash.Hash, v uint64) {
	binary.LittleEndian.PutUint64(ew.buf[:], v)
	ew.write(h, ew.buf[:])
}

func (ew *ExportWriter) str(h hash.Hash, s []byte) {
	ew.u64(h, uint64(len(s)))
	ew.write(h, s)
	var pad [8]byte
	ew.write(h, pad[:(8-len(s)%8)%8])
}

// Add writes one item: the NAR read from nar, then its metadata. References are written sorted
// whatever their order here. It returns the SHA-256 and size of the NAR.
func (ew *ExportWriter) Add(nar io.Reader, storePath string, refs []string, deriver string) (narHash [32]byte, narSize int64, err error) {
	if ew.err != nil {
		return narHash, 0, ew.err
	}
	if err := CheckStorePath(storePath); err != nil {
		return narHash, 0, fmt.Errorf("export writer: %w", err)
	}
	refs = append([]string(nil), refs...)
	sort.Strings(refs)
	span, nh := sha256.New(), sha256.New()
	ew.u64(nil, 1)
	if ew.err == nil {
		narSize, ew.err = io.Copy(io.MultiWriter(ew.w, span, nh), nar)
	}
	nh.Sum(narHash[:0])
	ew.u64(span, exportMagic)
	ew.str(span, []byte(storePath))
	ew.u64(span, uint64(len(refs)))
	for _, r := range refs {
		ew.str(span, []byte(r))
	}
	ew.str(span, []byte(deriver))
	if ew.key == nil {
		ew.u64(nil, 0)
	} else {
		var sum [32]byte
		span.Sum(sum[:0])
		sig, err := ew.key.Sign(sum)
		if err != nil && ew.err == nil {
			ew.err = err
		}
		ew.u64(nil, 1)
		ew.str(nil, sig)
	}
	ew.n++
	return narHash, narSize, ew.err
}

// AddBytes is Add of a NAR held in memory.
func (ew *ExportWriter) AddBytes(nar []byte, storePath string, refs []string, deriver string) error {
	_, _, err := ew.Add(bytes.NewReader(nar), storePath, refs, deriver)
	return err
}

// Close writes the end marker. An export with no item is an error (guix-daemon writes none).
func (ew *ExportWriter) Close() error {
	if ew.err == nil && ew.n == 0 {
		ew.err = errors.New("export writer: no item")
	}
	ew.u64(nil, 0)
	return ew.err
}
