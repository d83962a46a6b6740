package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

func imageFile(t testing.TB, mib int64, fill byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(p, bytes.Repeat([]byte{fill}, int(mib<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWipeMethodsOnImage(t *testing.T) {
	for _, method := range []string{MethodZero, MethodRandom, MethodDoD3, MethodDiscard} {
		for _, verify := range []string{VerifyFull, VerifySample} {
			t.Run(method+"-"+verify, func(t *testing.T) {
				img := imageFile(t, 9, 0x5a) // 9 MiB: not a multiple of the 2 MiB chunk
				var phases []string
				rep, err := Wipe(context.Background(), img, WipeOptions{Method: method, Verify: verify, SampleSeed: 42, ChunkSize: 2 << 20,
					Progress: func(p Progress) {
						if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
							phases = append(phases, p.Phase)
						}
					}})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Result != Passed || rep.VerifyResult != Passed || rep.Size != 9<<20 || (method != MethodDiscard && rep.BytesWritten != int64(rep.Passes)*rep.Size) {
					t.Fatalf("report %+v", rep)
				}
				b, _ := os.ReadFile(img)
				switch method {
				case MethodRandom, MethodDoD3:
					if bytes.Count(b, []byte{0x5a}) > len(b)/100 || bytes.Count(b, []byte{0}) > len(b)/100 {
						t.Fatal("not overwritten with random data")
					}
				default:
					if len(bytes.Trim(b, "\x00")) != 0 {
						t.Fatal("not all zeros")
					}
				}
				if verify == VerifySample {
					if rep.SampleSeed != 42 || rep.SampleBlocks < 3 || rep.BytesVerified >= rep.Size {
						t.Fatalf("sample: %+v", rep)
					}
				} else if rep.BytesVerified != rep.Size {
					t.Fatalf("full verify read %d of %d", rep.BytesVerified, rep.Size)
				}
				wantPhases := map[string]int{MethodDoD3: 4, MethodDiscard: 1}[method]
				if wantPhases == 0 {
					wantPhases = 2
				}
				if len(phases) != wantPhases || !strings.HasPrefix(phases[len(phases)-1], "verify") {
					t.Fatalf("phases %q", phases)
				}
			})
		}
	}
}

// TestVerifyDetectsMismatch corrupts one byte after the write pass: verification must fail and
// name the offset.
func TestVerifyDetectsMismatch(t *testing.T) {
	for _, method := range []string{MethodZero, MethodRandom} {
		img := imageFile(t, 5, 0)
		d, err := openWrite(img)
		if err != nil {
			t.Fatal(err)
		}
		rep := &WipeReport{}
		w := &wiper{d: d, o: WipeOptions{Method: method, Verify: VerifyFull, ChunkSize: 1 << 20}, rep: rep, zeros: make([]byte, 1<<20)}
		p := &pattern{name: "zero"}
		if method == MethodRandom {
			p, _ = newRandomPattern()
		}
		bufs := [][]byte{make([]byte, 1<<20), make([]byte, 1<<20), make([]byte, 1<<20)}
		if err := w.write(context.Background(), "pass", p, bufs[:2]); err != nil {
			t.Fatal(err)
		}
		if err := w.verify(context.Background(), p, bufs); err != nil {
			t.Fatalf("clean verify: %v", err)
		}
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		f.WriteAt([]byte{0x01 ^ firstByte(t, img, 3<<20+77)}, 3<<20+77)
		f.Close()
		err = w.verify(context.Background(), p, bufs)
		if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "offset 3145805") || rep.VerifyResult != Failed {
			t.Fatalf("%s: corrupted byte not found: %v", method, err)
		}
		d.close()
	}
}

func firstByte(t *testing.T, p string, off int64) byte {
	f, _ := os.Open(p)
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	return b[0]
}

func testKey(t testing.TB) (*sealing.SealKey, string) {
	t.Helper()
	testenv.Need(t, "minisign")
	dir := t.TempDir()
	sec, pub := filepath.Join(dir, "seal.key"), filepath.Join(dir, "seal.pub")
	run(t, "minisign", "-G", "-W", "-s", sec, "-p", pub)
	k, err := sealing.LoadSealKey(sec, "")
	if err != nil {
		t.Fatal(err)
	}
	return k, pub
}

func TestSanitizeImage(t *testing.T) {
	testenv.Need(t, "mdir", "mtype", "minisign")
	key, pub := testKey(t)
	img := imageFile(t, 48, 0xee)
	res, err := Sanitize(context.Background(), img, SanitizeOptions{Wipe: WipeOptions{Method: MethodRandom, Verify: VerifySample},
		Format: true, Label: "clean", Key: key, Info: CertInfo{ID: "test-1", Station: "bench", Operator: "op7", AuditLogIndex: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Result != Passed || !strings.Contains(res.Certificate.PostAction, "label CLEAN") {
		t.Fatalf("certificate %+v", res.Certificate)
	}
	m, err := Open(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Scheme != "mbr" || len(m.Volumes) != 1 || m.Volumes[0].Kind != "fat32" || m.Volumes[0].Start != 1<<20 || m.Volumes[0].Label != "CLEAN" {
		t.Fatalf("medium %+v", m)
	}
	js, _ := fs.ReadFile(m, CertJSON)
	sig, _ := fs.ReadFile(m, CertSig)
	txt, _ := fs.ReadFile(m, CertText)
	if !bytes.Equal(js, res.JSON) || !bytes.Equal(sig, res.Sig) || !bytes.Contains(txt, []byte("Result: PASSED")) {
		t.Fatalf("certificate files differ: %q", txt)
	}
	// The peers: mtools lists and reads the files, minisign verifies the certificate.
	dir := t.TempDir()
	for _, n := range []string{CertJSON, CertSig} {
		out, err := exec.Command("mtype", "-i", img+"@@1M", "::"+n).Output()
		if err != nil || !bytes.Equal(out, map[string][]byte{CertJSON: js, CertSig: sig}[n]) {
			t.Fatalf("mtype %s: %v", n, err)
		}
		os.WriteFile(filepath.Join(dir, n), out, 0o644)
	}
	run(t, "minisign", "-Vm", filepath.Join(dir, CertJSON), "-p", pub)
	if _, err := sealing.VerifyCertificate(js, sig, mustPub(t, pub)); err != nil {
		t.Fatal(err)
	}
}

func mustPub(t testing.TB, p string) *sealing.PublicKey {
	k, err := sealing.LoadPublicKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var _ = io.EOF

// TestWipeCancelled: a cancelled job stops, reports FAILED and leaves no goroutine writing.
func TestWipeCancelled(t *testing.T) {
	img := imageFile(t, 16, 1)
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := Wipe(ctx, img, WipeOptions{Method: MethodRandom, ChunkSize: 1 << 20, Progress: func(Progress) { cancel() }})
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Result != Failed || rep.BytesWritten >= rep.Size {
		t.Fatalf("cancelled wipe: %v %+v", err, rep)
	}
}

func TestSanitizeTooSmallRefusedBeforeWiping(t *testing.T) {
	img := imageFile(t, 20, 0x33)
	_, err := Sanitize(context.Background(), img, SanitizeOptions{Format: true})
	if err == nil || !strings.Contains(err.Error(), "too small for FAT32") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(img); bytes.Count(b, []byte{0x33}) != len(b) {
		t.Fatal("refused sanitize wrote to the device")
	}
}

// TestVerifyMismatchOffsets: with the keystream check split across cores, the reported offset is
// still the first differing byte, whichever span of the chunk holds it.
func TestVerifyMismatchOffsets(t *testing.T) {
	for _, offs := range [][]int64{{3<<20 + 900000}, {3<<20 + 900000, 3<<20 + 100}, {4<<20 - 1}} {
		img := imageFile(t, 5, 0)
		d, err := openWrite(img)
		if err != nil {
			t.Fatal(err)
		}
		rep := &WipeReport{}
		w := &wiper{d: d, o: WipeOptions{Method: MethodRandom, Verify: VerifyFull, ChunkSize: 1 << 20}, rep: rep, zeros: make([]byte, 1<<20)}
		p, _ := newRandomPattern()
		bufs := [][]byte{make([]byte, 1<<20), make([]byte, 1<<20), make([]byte, 1<<20)}
		if err := w.write(context.Background(), "pass", p, bufs[:2]); err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		first := offs[0]
		for _, off := range offs {
			f.WriteAt([]byte{0x80 ^ firstByte(t, img, off)}, off)
			first = min(first, off)
		}
		f.Close()
		err = w.verify(context.Background(), p, bufs)
		if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d ", first)) {
			t.Fatalf("%v: got %v, want the first at %d", offs, err, first)
		}
		d.close()
	}
}
