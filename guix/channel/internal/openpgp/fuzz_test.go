package openpgp

import (
	"testing"
)

func FuzzSignaturePacket(f *testing.F) {
	f.Add([]byte{4, 0, 22, 8, 0, 6, 5, 2, 0, 0, 0, 1, 0, 10, 9, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 8, 1, 0, 8, 1})
	f.Add([]byte{3, 5, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 1, 8, 0, 0, 0, 8, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignaturePacket(b)
		if err == nil {
			Verify(s, NewKeyring(), b)
		}
		kr := NewKeyring()
		kr.Add(b)
		ParseArmoredSignature(string(b))
	})
}
