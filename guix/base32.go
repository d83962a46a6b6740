package guix

import (
	"errors"
	"fmt"
)

// nixAlphabet is nix-base32's alphabet: digits and lower-case letters without e, o, u and t.
const nixAlphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// ErrBase32 is wrapped by every nix-base32 decoding error.
var ErrBase32 = errors.New("invalid nix-base32")

// Base32Len returns the length of the nix-base32 encoding of n bytes.
func Base32Len(n int) int {
	if n == 0 {
		return 0
	}
	return (8*n-1)/5 + 1
}

// EncodeBase32 returns the nix-base32 encoding of h, as Nix and Guix print hashes and as the
// hash part of a store path is written. Unlike RFC 4648 base32 it starts with the most
// significant 5-bit group of the little-endian bit string.
func EncodeBase32(h []byte) string {
	l := Base32Len(len(h))
	out := make([]byte, l)
	for n := l - 1; n >= 0; n-- {
		b := n * 5
		i, j := b/8, uint(b%8)
		c := h[i] >> j
		if i+1 < len(h) {
			c |= h[i+1] << (8 - j)
		}
		out[l-1-n] = nixAlphabet[c&31]
	}
	return string(out)
}

var nixIndex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(nixAlphabet); i++ {
		t[nixAlphabet[i]] = int8(i)
	}
	return t
}()

// DecodeBase32 decodes nix-base32 strictly: the length must be that of a whole number of
// bytes, every character must be in the alphabet and the bits beyond the last byte must be 0.
func DecodeBase32(s string) ([]byte, error) {
	n := len(s) * 5 / 8
	if Base32Len(n) != len(s) {
		return nil, fmt.Errorf("%w: length %d is not the encoding of a whole number of bytes", ErrBase32, len(s))
	}
	h := make([]byte, n)
	for k := 0; k < len(s); k++ {
		c := s[len(s)-1-k]
		d := nixIndex[c]
		if d < 0 {
			return nil, fmt.Errorf("%w: character %q at %d", ErrBase32, c, len(s)-1-k)
		}
		b := k * 5
		i, j := b/8, uint(b%8)
		h[i] |= byte(d) << j
		carry := byte(d) >> (8 - j)
		if i+1 < n {
			h[i+1] |= carry
		} else if carry != 0 {
			return nil, fmt.Errorf("%w: non-zero bits past the end", ErrBase32)
		}
	}
	return h, nil
}
