package fat

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"testing"
	"time"
)

// fuzzPatches is the most (offset, value) patches one fuzz input carries.
const fuzzPatches = 256

// FuzzFAT patches real FAT12 and FAT16 volumes (made by mkfs.fat and mtools): the input is a
// volume index followed by patches of 4 bytes (offset: 3 bytes little-endian, value). The seeds
// are the hostile classes of TestHostileClasses as patches, so the fuzzer starts at every
// refusal's edge. Whatever the bytes, Open returns an error or a tree whose every file reads
// back at its stated size.
func FuzzFAT(f *testing.F) {
	bases := []*vol{newVol(f, 12), newVol(f, 16)}
	for i, base := range bases {
		f.Add([]byte{byte(i)})
		for _, tc := range hostileCases() {
			v := base.clone()
			tc.patch(v)
			in := []byte{byte(i)}
			for blk := 0; blk < len(v.b); blk += 4096 {
				if bytes.Equal(v.b[blk:blk+4096], base.b[blk:blk+4096]) {
					continue // most of the volume: skipped quickly under -race
				}
				for off := blk; off < blk+4096; off++ {
					if v.b[off] != base.b[off] {
						in = append(in, byte(off), byte(off>>8), byte(off>>16), v.b[off])
					}
				}
			}
			if len(in) <= 1+4*fuzzPatches {
				f.Add(in)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 1+4*fuzzPatches {
			return
		}
		base := bases[int(in[0])%len(bases)]
		b := append([]byte(nil), base.b...)
		for p := in[1:]; len(p) >= 4; p = p[4:] {
			off := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
			b[off%len(b)] = p[3]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := Open(ctx, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		err = fs.WalkDir(v.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fl, err := v.FS.Open(p)
			if err != nil {
				return err
			}
			info, _ := fl.Stat()
			n, err := io.Copy(io.Discard, fl)
			if err != nil || n != info.Size() {
				t.Fatalf("read %s: %d of %d bytes: %v", p, n, info.Size(), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
