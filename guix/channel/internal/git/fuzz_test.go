package git

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"testing"
)

func FuzzBundleHeader(f *testing.F) {
	f.Add([]byte("# v2 git bundle\n" + "0123456789012345678901234567890123456789 refs/heads/main\n\nPACK"))
	f.Add([]byte("# v3 git bundle\n@object-format=sha1\n-0123456789012345678901234567890123456789 x\n0123456789012345678901234567890123456789 HEAD\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBundleHeader(bytes.NewReader(b), Limits{MaxRefs: 64})
		if err == nil && (h.PackOffset > int64(len(b)) || len(h.Refs) == 0) {
			t.Fatalf("header %+v of %d bytes", h, len(b))
		}
	})
}

func seedPack() []byte {
	var buf bytes.Buffer
	buf.WriteString("PACK")
	binary.Write(&buf, binary.BigEndian, uint32(2))
	binary.Write(&buf, binary.BigEndian, uint32(2))
	data := []byte("hello\n")
	buf.WriteByte(byte(TypeBlob)<<4 | byte(len(data)))
	zw := zlib.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	off := buf.Len()
	delta := []byte{6, 12, 0x90, 6, 6, 'w', 'o', 'r', 'l', 'd', '\n'}
	buf.WriteByte(byte(typeOfs)<<4 | byte(len(delta)))
	buf.WriteByte(byte(off - 12))
	zw = zlib.NewWriter(&buf)
	zw.Write(delta)
	zw.Close()
	s := sha1.Sum(buf.Bytes())
	buf.Write(s[:])
	return buf.Bytes()
}

func TestSeedPack(t *testing.T) {
	p, err := IndexPack("seed", bytes.NewReader(seedPack()), int64(len(seedPack())), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := p.OIDs()
	ty, d, err := p.Object(o[1])
	if err != nil || ty != TypeBlob || string(d) != "hello\nworld\n" {
		t.Fatalf("%v %q %v", ty, d, err)
	}
	want, _ := hashObject(TypeBlob, []byte("hello\nworld\n"))
	if o[1] != want {
		t.Fatalf("delta object named %s, want %s", o[1], want)
	}
}

// FuzzPackIndex indexes arbitrary packs: errors, never panics or unbounded work. The
// trailer is recomputed so that mutations reach the object parser.
func FuzzPackIndex(f *testing.F) {
	f.Add(seedPack())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 32 {
			s := sha1.Sum(b[:len(b)-20])
			copy(b[len(b)-20:], s[:])
		}
		lim := Limits{MaxObjects: 1000, MaxObjectSize: 1 << 20, MaxDeltaDepth: 50, MaxWork: 64 << 20}
		p, err := IndexPack("fuzz", bytes.NewReader(b), int64(len(b)), lim, nil)
		if err != nil {
			return
		}
		for _, o := range p.OIDs() {
			ty, d, err := p.Object(o)
			if err != nil {
				t.Fatalf("indexed object %s unreadable: %v", o, err)
			}
			if got, _ := hashObject(ty, d); got != o {
				t.Fatalf("object %s hashes to %s", o, got)
			}
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	idx := make([]byte, 8+1024+40)
	copy(idx, "\377tOc\x00\x00\x00\x02")
	f.Add(idx)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseIndex(b, 1<<20)
		if err == nil {
			for _, off := range m {
				if off < 12 || off >= 1<<20-20 {
					t.Fatalf("offset %d", off)
				}
			}
		}
	})
}

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello\n"), []byte{6, 12, 0x90, 6, 6, 'w', 'o', 'r', 'l', 'd', '\n'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := ApplyDelta(base, delta, 1<<20)
		if err == nil && len(out) > 1<<20 {
			t.Fatalf("%d bytes", len(out))
		}
	})
}

func FuzzParseCommit(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nmsg\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommit(b)
		if err != nil {
			return
		}
		if c.Signature == "" && !bytes.Equal(c.Signed, b) {
			t.Fatalf("unsigned commit's payload differs from the commit")
		}
		if len(c.Signed) > len(b) {
			t.Fatalf("payload longer than the commit")
		}
		ParseTree(b)
	})
}
