package media

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/sealing"
)

// TestFinishSanitizeReformatFails: a wipe that passed on a stick that cannot then be
// reformatted (here an image far too small for FAT32) ends with a FAILED certificate, signed
// again, and the error; the station and airlock wipe share this one path.
func TestFinishSanitizeReformatFails(t *testing.T) {
	key, pub := testKey(t)
	img := filepath.Join(t.TempDir(), "tiny.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rep := &WipeReport{Device: img, Method: MethodZero, Passes: 1, Verify: VerifyFull, Result: Passed,
		VerifyResult: Passed, Size: 1 << 20, BytesWritten: 1 << 20, BytesVerified: 1 << 20, Start: now, End: now}
	res, err := FinishSanitize(context.Background(), img, rep, nil, SanitizeOptions{Format: true, Key: key,
		Info: CertInfo{ID: "tiny-1", Station: "test", AuditLogIndex: 7}})
	if err == nil {
		t.Fatal("reformat of a 1 MiB image succeeded")
	}
	if res == nil || res.Certificate == nil || res.Certificate.Result != sealing.ResultFailed || res.Certificate.PostAction != "" {
		t.Fatalf("result %+v", res)
	}
	k, err := sealing.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sealing.VerifyCertificate(res.JSON, res.Sig, k)
	if err != nil {
		t.Fatalf("the FAILED certificate is not signed: %v", err)
	}
	if c.Result != sealing.ResultFailed || len(c.Errors) == 0 {
		t.Errorf("signed certificate: result %s, errors %q", c.Result, c.Errors)
	}
}
