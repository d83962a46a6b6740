package burner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// smallImage builds an image of the awkward tree and returns its path, bytes and SHA-256.
func smallImage(t *testing.T) (string, []byte, [32]byte) {
	t.Helper()
	img, _ := buildImage(t, makeTree(t), Options{Label: "burn", Epoch: testEpoch})
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, b, sha256.Sum256(b)
}

func TestStdioBurnReadBack(t *testing.T) {
	testenv.Need(t, "xorriso")
	ctx := context.Background()
	_, img, sum := smallImage(t)
	disc := filepath.Join(t.TempDir(), "disc.iso")
	d, err := Open("stdio:" + disc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateBlank || !st.Pseudo || st.Media != "stdio file" || st.Capacity <= 0 {
		t.Fatalf("fresh stdio drive: %+v", st)
	}
	var last int64
	res, err := BurnAndVerify(ctx, d, bytes.NewReader(img), int64(len(img)), sum, Policy{Speed: "4d"},
		func(n int64) { last = n })
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sum || res.Size != int64(len(img)) || res.FirstBadSector != -1 {
		t.Fatalf("read-back result %+v", res)
	}
	if last != int64(len(img)) {
		t.Errorf("last progress %d, want %d", last, len(img))
	}
	st, err = d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A stdio file is "overwriteable" media to xorriso: it reports an ISO image on it as
	// appendable (it could grow it), not closed. What matters here is that it is not blank.
	if st.State != StateClosed && st.State != StateAppendable {
		t.Errorf("after burn: state %v, want closed or appendable", st.State)
	}
	// The burned disc reads as the same tree (through its own size, not the padded file's).
	f, err := os.Open(disc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fsys, err := OpenISO(f, int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listFS(fsys); err != nil {
		t.Fatal(err)
	}
	// A written disc is refused.
	if _, err := BurnAndVerify(ctx, d, bytes.NewReader(img), int64(len(img)), sum, Policy{}, nil); !errors.Is(err, ErrNotBlank) {
		t.Errorf("second burn: %v, want ErrNotBlank", err)
	}
}

func TestReadBackMismatch(t *testing.T) {
	testenv.Need(t, "xorriso")
	ctx := context.Background()
	_, img, sum := smallImage(t)
	disc := filepath.Join(t.TempDir(), "disc.iso")
	d, _ := Open("stdio:" + disc)
	if err := d.Burn(ctx, bytes.NewReader(img), int64(len(img)), "", nil); err != nil {
		t.Fatal(err)
	}
	// Flip one byte in sector 21 of the burned "disc".
	b, err := os.ReadFile(disc)
	if err != nil {
		t.Fatal(err)
	}
	b[21*SectorSize+100] ^= 0x40
	if err := os.WriteFile(disc, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := d.OpenRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := ReadBack(ctx, r, int64(len(img)), sum, bytes.NewReader(img))
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("flipped byte: err %v, want ErrMismatch", err)
	}
	if res.FirstBadSector != 21 {
		t.Errorf("first bad sector %d, want 21 (%v)", res.FirstBadSector, err)
	}
	// Without a reference the hash still catches it.
	r2, _ := d.OpenRead(ctx)
	defer r2.Close()
	if _, err := ReadBack(ctx, r2, int64(len(img)), sum, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("no reference: err %v", err)
	}
	// A disc shorter than the image is an error, not a pass.
	if _, err := ReadBack(ctx, bytes.NewReader(img[:len(img)-1]), int64(len(img)), sum, nil); err == nil {
		t.Error("short disc passed")
	}
}

func TestCheckBurn(t *testing.T) {
	blank := Status{State: StateBlank, Media: "DVD-R", Capacity: 4700000000}
	for _, tc := range []struct {
		st   Status
		size int64
		p    Policy
		want error
	}{
		{blank, 1 << 30, Policy{}, nil},
		{blank, 5 << 30, Policy{}, ErrTooSmall},
		{Status{State: StateBlank, Media: "DVD-R"}, 1, Policy{}, ErrTooSmall},
		{Status{State: StateNoDisc}, 1, Policy{}, ErrNoDisc},
		{Status{State: StateAppendable, Media: "DVD+R", Capacity: 1 << 40}, 1, Policy{}, ErrNotBlank},
		{Status{State: StateClosed, Media: "BD-R"}, 1, Policy{}, ErrNotBlank},
		{Status{State: StateNotWritable, Media: "DVD-ROM"}, 1, Policy{}, ErrNotWritable},
		{Status{State: StateBlank, Media: "DVD-RW", Rewritable: true, Capacity: 1 << 32}, 1, Policy{}, ErrRewritable},
		{Status{State: StateBlank, Media: "DVD-RW", Rewritable: true, Capacity: 1 << 32}, 1, Policy{AllowRewritable: true}, nil},
		{blank, 1, Policy{Media: []string{"BD-R"}}, ErrMediaType},
		{blank, 1, Policy{Media: []string{"BD-R", "DVD-R"}}, nil},
		{blank, 1, Policy{MaxMediaBytes: 1 << 30}, ErrMediaTooBig},
		{blank, 1, Policy{MaxMediaBytes: 5 << 30}, nil},
		{Status{}, 1, Policy{}, ErrUnknownState},
	} {
		if err := CheckBurn(tc.st, tc.size, tc.p); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("CheckBurn(%+v, %d, %+v) = %v, want %v", tc.st, tc.size, tc.p, err, tc.want)
		}
	}
}

func TestParseTOC(t *testing.T) {
	out := []byte(`Drive current: -outdev '/dev/sr0'
Media current: DVD-R sequential recording
Media status : is blank
Media blocks : 0 readable , 2297888 writable , 2297888 overall
`)
	st, err := parseTOC(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateBlank || st.Media != "DVD-R" || st.Rewritable || st.Capacity != 2297888*SectorSize {
		t.Errorf("DVD-R: %+v", st)
	}
	st, _ = parseTOC([]byte("Media current: BD-RE\nMedia status : is written , is appendable\n"))
	if st.State != StateAppendable || st.Media != "BD-RE" || !st.Rewritable {
		t.Errorf("BD-RE: %+v", st)
	}
	st, _ = parseTOC([]byte("Media current: DVD-RW restricted overwrite\nMedia status : is written , is closed\n"))
	if st.State != StateClosed || !st.Rewritable {
		t.Errorf("DVD-RW: %+v", st)
	}
	if _, err := parseTOC([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestMMCParse(t *testing.T) {
	for p, want := range map[uint16]string{0x11: "DVD-R", 0x1B: "DVD+R", 0x41: "BD-R", 0x14: "DVD-RW", 0x43: "BD-RE"} {
		if got, _, _ := profileName(p); got != want {
			t.Errorf("profile 0x%x: %q want %q", p, got, want)
		}
	}
	if _, rw, _ := profileName(0x13); !rw {
		t.Error("DVD-RW restricted overwrite not rewritable")
	}
	if _, _, rom := profileName(0x10); !rom {
		t.Error("DVD-ROM not ROM")
	}
	prof, err := parseConfiguration([]byte{0, 0, 0, 0x20, 0, 0, 0x00, 0x1B})
	if err != nil || prof != 0x1B {
		t.Errorf("configuration: %x %v", prof, err)
	}
	di := make([]byte, 34)
	di[2] = 0x10 // blank, erasable
	if st, er, err := parseDiscInfo(di); st != StateBlank || !er || err != nil {
		t.Errorf("disc info blank: %v %v %v", st, er, err)
	}
	di[2] = 0x0E // complete, last session complete
	if st, _, _ := parseDiscInfo(di); st != StateClosed {
		t.Errorf("disc info closed: %v", st)
	}
	di[2] = 0x01
	if st, _, _ := parseDiscInfo(di); st != StateAppendable {
		t.Errorf("disc info appendable: %v", st)
	}
	ti := make([]byte, 36)
	ti[16], ti[17], ti[18], ti[19] = 0, 0x23, 0x0F, 0x20 // 2297632 blocks
	if n, err := parseTrackFree(ti); err != nil || n != 2297632*SectorSize {
		t.Errorf("track free: %d %v", n, err)
	}
	if _, _, err := parseDiscInfo(nil); err == nil {
		t.Error("short disc info parsed")
	}
}

func TestBurnArgs(t *testing.T) {
	got := burnArgs("/dev/sr0", 4096, "4d")
	want := []string{"-as", "cdrecord", "-v", "dev=/dev/sr0", "-dao", "padsize=0", "tsize=4096", "speed=4d", "-"}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q, want %q", got, want)
		}
	}
}

// TestStatusNotADrive: a device that is no optical drive fails natively and through xorriso,
// and the error says both.
func TestStatusNotADrive(t *testing.T) {
	testenv.Need(t, "xorriso")
	d, err := Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "native status") || !strings.Contains(err.Error(), "xorriso") {
		t.Fatalf("status of /dev/null: %v", err)
	}
	if _, err := Open("sr0"); err == nil {
		t.Error("relative drive name accepted")
	}
	if _, err := Open("stdio:"); err == nil {
		t.Error("empty stdio path accepted")
	}
}

// TestBurnLayoutStream burns a Layout streamed straight into xorriso (as the appliance does from
// its spool), with the image hash taken from the stream, and reads it back.
func TestBurnLayoutStream(t *testing.T) {
	testenv.Need(t, "xorriso")
	ctx := context.Background()
	l, err := FromDir(makeTree(t), Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := Open("stdio:" + filepath.Join(t.TempDir(), "disc.iso"))
	res, err := BurnImage(ctx, d, l.Source(), l.Size(), [32]byte{}, Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l.WriteTo(&buf)
	if res.SHA256 != sha256.Sum256(buf.Bytes()) || res.Size != l.Size() {
		t.Fatalf("read-back %x, image %x", res.SHA256, sha256.Sum256(buf.Bytes()))
	}
	// A sealed hash that the stream does not match stops before read-back.
	d2, _ := Open("stdio:" + filepath.Join(t.TempDir(), "disc2.iso"))
	if _, err := BurnImage(ctx, d2, l.Source(), l.Size(), [32]byte{1}, Policy{}, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong sealed hash: %v", err)
	}
}
