package guix

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

const (
	testPath1 = "/gnu/store/hfj39pdgk5syajdqf8w4ibp7766cfsv3-quux-checkout"
	testPath2 = "/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.1.tar.xz"
)

// exportItem describes one item for buildExport.
type exportItem struct {
	nar     []byte
	path    string
	refs    []string
	deriver string
	key     *PrivateKey // nil: unsigned
	sig     []byte      // used instead of signing when non-nil
}

// buildExport writes an export stream of the items, signing each span with its key.
func buildExport(t testing.TB, items ...exportItem) []byte {
	t.Helper()
	var out narB
	for _, it := range items {
		out.u64(1)
		var span narB
		span.raw(it.nar...)
		span.u64(exportMagic)
		span.s(it.path)
		span.u64(uint64(len(it.refs)))
		span.s(it.refs...)
		span.s(it.deriver)
		out.raw(span.b...)
		switch {
		case it.sig != nil:
			out.u64(1).s(string(it.sig))
		case it.key != nil:
			sig, err := it.key.Sign(sha256Sum(span.b))
			if err != nil {
				t.Fatal(err)
			}
			out.u64(1).s(string(sig))
		default:
			out.u64(0)
		}
	}
	return out.u64(0).b
}

func verifyBytes(t testing.TB, b []byte, acl *ACL, present ...string) *ExportReport {
	t.Helper()
	rep, err := VerifyExport(context.Background(), bytes.NewReader(b), acl, present)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func outcomes(rep *ExportReport) string {
	var s []string
	for _, it := range rep.Items {
		s = append(s, string(it.Outcome))
	}
	return strings.Join(s, ",") + "/" + string(rep.Stream)
}

func TestExportBuiltStreams(t *testing.T) {
	k1, _ := GenerateKey(testRand(11))
	k2, _ := GenerateKey(testRand(12))
	acl := NewACL(k1.Public())
	nar := nb().file("hello", false).b
	p1, p2 := testPath1, testPath2
	cases := []struct {
		name    string
		items   []exportItem
		present []string
		want    string
		accept  bool
	}{
		{"one valid", []exportItem{{nar: nar, path: p1, key: k1}}, nil, "valid/complete", true},
		{"closure in order", []exportItem{{nar: nar, path: p1, key: k1}, {nar: nar, path: p2, refs: []string{p1, p2}, key: k1}}, nil, "valid,valid/complete", true},
		{"closure out of order", []exportItem{{nar: nar, path: p2, refs: []string{p1}, key: k1}, {nar: nar, path: p1, key: k1}}, nil, "missing-reference,valid/complete", false},
		{"reference present", []exportItem{{nar: nar, path: p2, refs: []string{p1}, key: k1}}, []string{p1}, "valid/complete", true},
		{"unauthorized", []exportItem{{nar: nar, path: p1, key: k2}}, nil, "unauthorized-key/complete", false},
		{"unsigned", []exportItem{{nar: nar, path: p1}}, nil, "unsigned/complete", false},
		{"corrupt: not a sexp", []exportItem{{nar: nar, path: p1, sig: []byte("(signature")}}, nil, "corrupt-signature/complete", false},
		{"corrupt: no public key", []exportItem{{nar: nar, path: p1, sig: []byte("(signature (data (flags rfc6979) (hash sha256 #" + strings.Repeat("00", 32) + "#)))")}}, nil, "corrupt-signature/complete", false},
		{"no items", nil, nil, "/complete", false},
		{"empty signature", []exportItem{{nar: nar, path: p1, sig: []byte{}}}, nil, "corrupt-signature/complete", false},
		{"40 KiB signature (buffer growth)", []exportItem{{nar: nar, path: p1, sig: bytes.Repeat([]byte("x"), 40<<10)}, {nar: nar, path: p2, key: k1}}, nil, "corrupt-signature,valid/complete", false},
	}
	for _, c := range cases {
		rep := verifyBytes(t, buildExport(t, c.items...), acl, c.present...)
		if got := outcomes(rep); got != c.want || rep.Accept != c.accept {
			t.Errorf("%s: %s accept=%v, want %s accept=%v", c.name, got, rep.Accept, c.want, c.accept)
		}
	}
}

// TestJudgeOrder checks guix-daemon's order of checks on signatures that fail several ways.
func TestJudgeOrder(t *testing.T) {
	k1, _ := GenerateKey(testRand(21))
	k2, _ := GenerateKey(testRand(22))
	acl := NewACL(k1.Public())
	var span [32]byte
	span[0] = 1
	good, _ := k1.Sign(span)
	other, _ := k2.Sign(span)
	var zero [32]byte
	wrongHash, _ := k1.Sign(zero)
	badR := bytes.Replace(good, []byte("(r #"), []byte("(r #00"), 1) // same value: still valid
	rZero := sigWith(good, "r", "#00#")
	sN := sigWith(good, "s", "#"+strings.ToUpper(string(hexOf(groupOrder[:])))+"#")
	noSigVal := sigWith(good, "sig-val", "")
	cases := []struct {
		name string
		sig  []byte
		want Outcome
	}{
		{"valid", good, OutcomeValid},
		{"valid with a zero-padded r", badR, OutcomeValid},
		{"other key", other, OutcomeUnauthorizedKey},
		{"other key and bad sig-val", sigWith(other, "sig-val", ""), OutcomeUnauthorizedKey},
		{"r = 0", rZero, OutcomeInvalidSignature},
		{"s = n", sN, OutcomeInvalidSignature},
		{"no sig-val", noSigVal, OutcomeInvalidSignature},
		{"hash of another algorithm", bytes.Replace(good, []byte("sha256"), []byte("sha512"), 1), OutcomeInvalidSignature},
		{"other key and malformed data", bytes.Replace(other, []byte("sha256"), []byte("sha512"), 1), OutcomeUnauthorizedKey},
		{"signature of another hash", wrongHash, OutcomeHashMismatch},
		{"garbage", []byte("garbage"), OutcomeCorruptSignature},
		{"unsigned", nil, OutcomeUnsigned},
	}
	for _, c := range cases {
		if got := acl.Judge(&ItemInfo{Signature: c.sig, SignedHash: span}); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// sigWith replaces the value of the (tok ...) list in a signature (or removes it if val is "").
func sigWith(sig []byte, tok, val string) []byte {
	s := string(sig)
	i := strings.Index(s, "("+tok+" ")
	depth, j := 0, i
	for ; j < len(s); j++ {
		if s[j] == '(' {
			depth++
		} else if s[j] == ')' {
			depth--
			if depth == 0 {
				break
			}
		}
	}
	if val == "" {
		return []byte(s[:i] + s[j+1:])
	}
	return []byte(s[:i] + "(" + tok + " " + val + ")" + s[j+1:])
}

// TestExportRejects mutates a real one-item stream and requires each framing violation to be
// refused with its rule.
func TestExportRejects(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(off int, v uint64) []byte {
		m := bytes.Clone(base)
		binary.LittleEndian.PutUint64(m[off:], v)
		return m
	}
	// Layout of p2-only.export: marker 0, NAR [8,560), magic 560, path 568, refs count 664,
	// deriver 672, flag 680? Find fields from the bytes instead of hard-coding them.
	magicOff := bytes.Index(base, []byte("NIXE\x00\x00\x00\x00"))
	pathOff := magicOff + 8
	refsOff := pathOff + 8 + 64
	drvOff := refsOff + 8
	flagOff := drvOff + 8
	k, _ := GenerateKey(testRand(5))
	nar := nb().file("x", false).b
	cases := []struct {
		name string
		b    []byte
		rule Rule
		is   error
	}{
		{"bad item marker", put(0, 2), RuleItemMarker, ErrMalformed},
		{"bad end marker", append(bytes.Clone(base[:len(base)-8]), 7, 0, 0, 0, 0, 0, 0, 0), RuleItemMarker, ErrMalformed},
		{"bad export magic", put(magicOff, 0x4558494f), RuleExportMagic, ErrMalformed},
		{"bad signature flag", put(flagOff, 2), RuleSignatureFlag, ErrMalformed},
		{"path length upper bits", put(pathOff, 1<<40|59), RuleLength, ErrMalformed},
		{"too many references", put(refsOff, MaxReferences+1), RuleTooManyRefs, ErrMalformed},
		{"path outside the store", bytes.Replace(base, []byte("/gnu/store/z5nff"), []byte("/nix/store/z5nff"), 1), RuleStorePath, ErrMalformed},
		{"bad hash part", bytes.Replace(base, []byte("/gnu/store/z5nff"), []byte("/gnu/store/e5nff"), 1), RuleStorePath, ErrMalformed},
		{"unsorted references", buildExport(t, exportItem{nar: nar, path: testPath1, refs: []string{testPath2, testPath1}, key: k}), RuleReferences, ErrMalformed},
		{"duplicate references", buildExport(t, exportItem{nar: nar, path: testPath1, refs: []string{testPath2, testPath2}, key: k}), RuleReferences, ErrMalformed},
		{"bad deriver", buildExport(t, exportItem{nar: nar, path: testPath1, deriver: "x.drv", key: k}), RuleStorePath, ErrMalformed},
		{"huge signature", buildExport(t, exportItem{nar: nar, path: testPath1, sig: bytes.Repeat([]byte("a"), MaxSignatureLen+1)}), RuleSignatureLen, ErrMalformed},
		{"bad NAR inside", buildExport(t, exportItem{nar: nb().dir(ent("b", fileNode("")), ent("a", fileNode(""))).b, path: testPath1, key: k}), RuleOrder, ErrMalformed},
		{"trailing data", append(bytes.Clone(base), 0), RuleTrailing, ErrTrailingData},
	}
	for _, c := range cases {
		er := NewExportReader(bytes.NewReader(c.b))
		var err error
		for err == nil {
			_, err = er.Next()
		}
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, c.is) || fe.Rule != c.rule {
			t.Errorf("%s: %v, want rule %q wrapping %v", c.name, err, c.rule, c.is)
		}
		rep := verifyBytes(t, c.b, NewACL(k.Public()))
		if rep.Accept || rep.Stream == StreamComplete {
			t.Errorf("%s: VerifyExport accepted (%s)", c.name, outcomes(rep))
		}
	}
}

// TestExportTruncatedEverywhere cuts a real stream at every length: always a truncated stream,
// with a truncated item once the cut is past the item marker.
func TestExportTruncatedEverywhere(t *testing.T) {
	dir := testenv.GuixVectors(t)
	base, err := os.ReadFile(filepath.Join(dir, "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	acl := loadACL(t, filepath.Join(dir, "two-acl"))
	for n := 0; n < len(base); n++ {
		rep := verifyBytes(t, base[:n], acl)
		want := "truncated/truncated"
		if n < 8 {
			want = "/truncated"
		} else if n >= len(base)-8 {
			want = "valid/truncated" // only the end marker is missing
		}
		if got := outcomes(rep); got != want || rep.Accept {
			t.Fatalf("cut at %d: %s (%v), want %s", n, got, rep.StreamErr, want)
		}
	}
}

func TestExportWalkNARWhileStreaming(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.GuixVectors(t), "bundle.export"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	er := NewExportReader(f)
	it, err := er.Next()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	nr := it.NAR()
	for {
		e, err := nr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == "/tests/data/random.bin" {
			h := sha256Writer()
			if _, err := io.Copy(h, nr); err != nil {
				t.Fatal(err)
			}
			found = hexOfSum(h) == "71179cf0b1bf240368b4f166a52b17204f3e11b4df6ed65ceec032a449181f86"
		}
	}
	info, err := it.Trailer()
	if err != nil || info.StorePath != testPath1 {
		t.Fatalf("trailer: %v %+v", err, info)
	}
	if !found {
		t.Error("random.bin not found or its sha256 is wrong")
	}
	// The rest of the stream is still readable.
	n := 1
	for {
		if _, err := er.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d items", n)
	}
}

func TestVerifyExportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, _ := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "p2-only.export"))
	if _, err := VerifyExport(ctx, bytes.NewReader(b), NewACL(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestPartialClosureWithPresent(t *testing.T) {
	dir := testenv.GuixVectors(t)
	b, _ := os.ReadFile(filepath.Join(dir, "partial-closure.export"))
	rep := verifyBytes(t, b, loadACL(t, filepath.Join(dir, "two-acl")), testPath1, testPath2)
	if got := outcomes(rep); got != "valid,valid/complete" || !rep.Accept {
		t.Errorf("with P1 and P2 present: %s", got)
	}
	rep = verifyBytes(t, b, loadACL(t, filepath.Join(dir, "two-acl")), testPath1)
	if len(rep.Items) == 0 || len(rep.Items[0].Missing) != 1 || rep.Items[0].Missing[0] != testPath2 {
		t.Errorf("with P1 present: %+v", rep.Items)
	}
}

// TestExportEveryByteMatters flips each byte of a real signed one-item stream (XOR 0xff): every
// byte is either inside the signed span, part of the strictly checked framing, or part of the
// signature, so no single flip may leave the stream accepted.
func TestExportEveryByteMatters(t *testing.T) {
	dir := testenv.GuixVectors(t)
	base, err := os.ReadFile(filepath.Join(dir, "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	acl := loadACL(t, filepath.Join(dir, "two-acl"))
	if rep := verifyBytes(t, base, acl); !rep.Accept {
		t.Fatal("base stream not accepted")
	}
	kinds := map[string]int{}
	for i := range base {
		m := bytes.Clone(base)
		m[i] ^= 0xff
		rep := verifyBytes(t, m, acl)
		if rep.Accept {
			t.Fatalf("flip at offset %d accepted", i)
		}
		kinds[outcomes(rep)]++
	}
	t.Logf("verdicts over %d flips: %v", len(base), kinds)
}
