package guix

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// testRand is a deterministic byte stream for tests (SHA-256 in counter mode).
func testRand(seed uint64) io.Reader { return &ctrRand{seed: seed} }

type ctrRand struct {
	seed, ctr uint64
	buf       []byte
}

func (r *ctrRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:], r.seed)
			binary.LittleEndian.PutUint64(b[8:], r.ctr)
			r.ctr++
			s := sha256.Sum256(b[:])
			r.buf = s[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func sha256Writer() hash.Hash { return sha256.New() }

func hexOfSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
