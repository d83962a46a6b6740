package openpgp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestDearmor(t *testing.T) {
	good := "-----BEGIN PGP SIGNATURE-----\nComment: x\n\naGVsbG8=\n=" + crcB64([]byte("hello")) + "\n-----END PGP SIGNATURE-----\n"
	if d, err := Dearmor(good); err != nil || string(d) != "hello" {
		t.Fatalf("%q %v", d, err)
	}
	for _, bad := range []string{
		strings.Replace(good, "\n="+crcB64([]byte("hello")), "", 1),   // no CRC line: Guix refuses
		strings.Replace(good, "aGVsbG8=", "aGVsbA==", 1),              // CRC mismatch
		strings.Replace(good, "-----END PGP SIGNATURE-----\n", "", 1), // truncated
		"hello",
	} {
		if _, err := Dearmor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func crcB64(b []byte) string {
	c := crc24(b)
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	v := []byte{byte(c >> 16), byte(c >> 8), byte(c)}
	n := uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
	return string([]byte{enc[n>>18&63], enc[n>>12&63], enc[n>>6&63], enc[n&63]})
}

func TestKeyringRefusesWhatGuixRefuses(t *testing.T) {
	// A secret-key packet (tag 5) is not among the packets get-data knows (openpgp.scm:481).
	if err := NewKeyring().Add([]byte{0xc5, 1, 4}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("secret key packet: %v", err)
	}
	// A v4 signature with an unknown hash algorithm raises (openpgp.scm:337-347).
	sig := []byte{4, 0, 1, 99, 0, 0, 0, 0, 0, 0}
	if _, err := ParseSignaturePacket(sig); !errors.Is(err, ErrInvalid) {
		t.Errorf("hash 99: %v", err)
	}
	// An unknown critical subpacket raises; a non-critical one does not.
	crit := []byte{4, 0, 1, 8, 0, 2, 1, 0x80 | 100, 0, 0, 0, 0, 0, 8, 1}
	if _, err := ParseSignaturePacket(crit); !errors.Is(err, ErrUnsupported) {
		t.Errorf("critical subpacket: %v", err)
	}
	crit[7] = 100
	if _, err := ParseSignaturePacket(crit); err != nil {
		t.Errorf("non-critical subpacket: %v", err)
	}
	if FormatFingerprint(make([]byte, 20)) != "0000 0000 0000 0000 0000  0000 0000 0000 0000 0000" {
		t.Error(FormatFingerprint(make([]byte, 20)))
	}
}

// TestRSASignatureWithLeadingZero: about one RSA signature in 256 starts with a zero byte,
// which OpenPGP's MPI encoding drops. Such a signature is valid (libgcrypt and Guix accept it);
// the verifier pads it back to the modulus size. The real-git-and-gpg channel test refused a
// good commit of a fresh key this way, once in a while.
func TestRSASignatureWithLeadingZero(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if i == 20000 {
			t.Fatal("no signature with a leading zero byte in 20000")
		}
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if sig[0] != 0 {
			continue
		}
		mpi := new(big.Int).SetBytes(sig).Bytes() // as an OpenPGP MPI carries it
		if len(mpi) >= len(sig) {
			t.Fatalf("MPI of %d bytes for a %d-byte signature", len(mpi), len(sig))
		}
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], mpi) == nil {
			t.Fatal("crypto/rsa accepted a short signature: the padding is not needed")
		}
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], leftPad(mpi, key.PublicKey.Size())); err != nil {
			t.Fatalf("padded signature refused: %v", err)
		}
		return
	}
}
