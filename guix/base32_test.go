package guix

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestBase32Vectors(t *testing.T) {
	var man manifestFile
	readJSON(t, filepath.Join(testenv.GuixVectors(t), "manifest.json"), &man)
	pairs := map[string]string{
		// quux-3.1.tar.xz: hex and what `guix hash` prints (README).
		"7bda6daa41ba0ba6a981eb167a8f32e08953d291162ad4a9c147914c9e0b6c06": "01kc1fg4r4a7q6lx8ahnj79572g06a7pl5pbh6lsc2xs86m6vnkv",
	}
	for _, it := range man.Items {
		pairs[it.NARSHA256Hex] = it.NARSHA256Nix32
	}
	for hx, want := range pairs {
		b, _ := hex.DecodeString(hx)
		if got := EncodeBase32(b); got != want {
			t.Errorf("EncodeBase32(%s) = %s, want %s", hx, got, want)
		}
		back, err := DecodeBase32(want)
		if err != nil || !bytes.Equal(back, b) {
			t.Errorf("DecodeBase32(%s) = %x, %v", want, back, err)
		}
	}
	if len(pairs) != 5 {
		t.Fatalf("%d pairs", len(pairs))
	}
}

func TestBase32RoundTripAndStrictness(t *testing.T) {
	rnd := testRand(8)
	for n := 0; n <= 64; n++ {
		b := make([]byte, n)
		rnd.Read(b)
		s := EncodeBase32(b)
		if len(s) != Base32Len(n) {
			t.Fatalf("len %d for %d bytes", len(s), n)
		}
		back, err := DecodeBase32(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	valid := "01kc1fg4r4a7q6lx8ahnj79572g06a7pl5pbh6lsc2xs86m6vnkv"
	for name, s := range map[string]string{
		"letter e":      strings.Replace(valid, "k", "e", 1),
		"upper case":    strings.ToUpper(valid),
		"short":         valid[1:],
		"long":          valid + "00",
		"excess bits":   "z" + valid[1:], // the top digit of a 32-byte hash has one spare bit
		"1 byte excess": "zz",
	} {
		if _, err := DecodeBase32(s); !errors.Is(err, ErrBase32) {
			t.Errorf("%s: %q accepted (%v)", name, s, err)
		}
	}
}

func TestStorePaths(t *testing.T) {
	dir := testenv.GuixVectors(t)
	var man manifestFile
	readJSON(t, filepath.Join(dir, "manifest.json"), &man)
	// P1 is a recursive "source" path of its NAR hash.
	var narHash [32]byte
	hex.Decode(narHash[:], []byte(man.Items[0].NARSHA256Hex))
	if p, err := SourceStorePath("quux-checkout", narHash); err != nil || p != man.Items[0].StorePath {
		t.Errorf("SourceStorePath = %s, %v; want %s", p, err, man.Items[0].StorePath)
	}
	// P2 is the flat fixed output of the tarball.
	f, err := os.Open(filepath.Join(dir, "quux-3.1.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := CheckFlatFixedOutput(man.Items[1].StorePath, f)
	if err != nil {
		t.Fatalf("CheckFlatFixedOutput: %v", err)
	}
	if hex.EncodeToString(sum[:]) != "7bda6daa41ba0ba6a981eb167a8f32e08953d291162ad4a9c147914c9e0b6c06" {
		t.Errorf("sum %x", sum)
	}
	tar, _ := os.ReadFile(filepath.Join(dir, "quux-3.1.tar.xz"))
	tar[100] ^= 1
	if _, err := CheckFlatFixedOutput(man.Items[1].StorePath, bytes.NewReader(tar)); !errors.Is(err, ErrFixedOutputMismatch) {
		t.Errorf("tampered tarball: %v", err)
	}
	// Same content under another name is another path.
	if _, err := CheckFlatFixedOutput("/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.2.tar.xz", bytes.NewReader(tar)); err == nil {
		t.Error("renamed path accepted")
	}
	for _, p := range []string{
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz",
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1r-quux",
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-.hidden",
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-a/b",
		"/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-" + strings.Repeat("a", 212),
		"/nix/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux",
		"/gnu/store/e5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux",
	} {
		if err := CheckStorePath(p); !errors.Is(err, ErrStorePath) {
			t.Errorf("CheckStorePath(%q) = %v", p, err)
		}
	}
	if err := CheckStorePath("/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-" + strings.Repeat("a", 211)); err != nil {
		t.Error(err)
	}
}
