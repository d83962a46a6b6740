package appliance

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/sealing"
)

// TestSealCheckerDisc: the station's check-a-disc mode re-derives a disc with burner.CheckDisc
// (the code airlock verify runs) before the seal checks: an airlock image verifies, the same
// image with one byte of its padding changed does not.
func TestSealCheckerDisc(t *testing.T) {
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := pub.MarshalText()
	st, _ := priv.MarshalText()
	pk, _ := sealing.ParsePublicKey(pt)
	sk, err := sealing.ParseSealKey(st, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bundle"), 0o755)
	os.WriteFile(filepath.Join(dir, "bundle", "a.txt"), []byte("sealed\n"), 0o644)
	if _, err := sealing.SealDir(context.Background(), dir, sk, sealing.SealInfo{Session: "s", LogIndex: sealing.NoLogIndex}); err != nil {
		t.Fatal(err)
	}
	l, err := burner.FromDir(dir, burner.Options{Label: "AIRLOCK_1", Epoch: time.Unix(1_700_000_000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "disc.iso")
	f, _ := os.Create(img)
	if _, err := l.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := &SealChecker{Trusted: []*sealing.PublicKey{pk}}
	id := Identity{Dev: img, Optical: true}
	if sum, err := c.Check(context.Background(), id, nil); err != nil || !strings.HasPrefix(sum, "VALID") {
		t.Fatalf("airlock image: %q %v", sum, err)
	}
	b, _ := os.ReadFile(img)
	b[len(b)-1] = 'X' // padding after the last file
	os.WriteFile(img, b, 0o644)
	if _, err := c.Check(context.Background(), id, nil); !errors.Is(err, burner.ErrNotWritten) {
		t.Fatalf("patched image: %v", err)
	}
}
