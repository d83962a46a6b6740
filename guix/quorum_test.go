package guix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// quorumFixture is a small closure built by three authorized builders and one outsider, each
// with its own key, exported with airlock's own NAR writer (narB, as nix-store --dump writes
// NARs) and signer.
type quorumFixture struct {
	keys   []*PrivateKey // farm-a, farm-b, farm-c, outsider
	q      *Quorum
	lib    string // no references
	app    string // references lib
	src    string // a recursive fixed output (a checkout)
	narLib []byte
	narApp []byte
	narSrc []byte
	badApp []byte // what a non-reproducible builder makes of app
}

func newQuorumFixture(t testing.TB, k int, rules ...QuorumRule) *quorumFixture {
	t.Helper()
	f := &quorumFixture{}
	var bs []Builder
	for i, name := range []string{"farm-a", "farm-b", "farm-c", "outsider"} {
		key, err := GenerateKey(testRand(uint64(100 + i)))
		if err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, key)
		if i < 3 {
			bs = append(bs, Builder{Name: name, Key: key.Public()})
		}
	}
	var err error
	if f.q, err = NewQuorum(bs, k, rules...); err != nil {
		t.Fatal(err)
	}
	f.lib, f.app = testStorePath(1, "libfoo-1.0"), testStorePath(2, "app-2.0")
	f.narLib = nb().dir(ent("lib", func(n *narB) { n.dir(ent("libfoo.so", fileNode("\x7fELF lib"))) })).b
	f.narApp = nb().dir(ent("bin", func(n *narB) { n.dir(ent("app", func(n *narB) { n.file("#!app "+f.lib, true) })) })).b
	f.badApp = nb().dir(ent("bin", func(n *narB) { n.dir(ent("app", func(n *narB) { n.file("#!app "+f.lib+" built at 12:00", true) })) })).b
	f.narSrc = nb().dir(ent("README", fileNode("source"))).b
	if f.src, err = SourceStorePath("foo-checkout", sha256Sum(f.narSrc)); err != nil {
		t.Fatal(err)
	}
	return f
}

// export is builder i's export of the closure, app's NAR replaced by appNAR when non-nil.
func (f *quorumFixture) export(t testing.TB, i int, appNAR []byte) []byte {
	t.Helper()
	if appNAR == nil {
		appNAR = f.narApp
	}
	var b bytes.Buffer
	ew := NewExportWriter(&b, f.keys[i])
	ew.AddBytes(f.narSrc, f.src, nil, "")
	ew.AddBytes(f.narLib, f.lib, nil, testStorePath(11, "libfoo-1.0.drv"))
	ew.AddBytes(appNAR, f.app, []string{f.lib}, testStorePath(12, "app-2.0.drv"))
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// narinfo is builder i's narinfo for the item with the given NAR.
func (f *quorumFixture) narinfo(t testing.TB, i int, storePath string, nar []byte, refs ...string) []byte {
	t.Helper()
	n := &Narinfo{StorePath: storePath, URLs: []string{"nar/gzip/" + strings.TrimPrefix(storePath, StoreDir+"/")},
		Compressions: []string{"gzip"}, FileSizes: []int64{int64(len(nar) / 2)}, NARHash: sha256Sum(nar),
		NARSize: int64(len(nar)), References: refs}
	b, err := MarshalNarinfo(n, fmt.Sprintf("farm%d", i), f.keys[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type quorumInput struct {
	name    string
	export  []byte
	narinfo []byte
}

func judgeQuorum(t testing.TB, q *Quorum, present []string, in ...quorumInput) *QuorumReport {
	t.Helper()
	j := NewQuorumJudge(q, present)
	for _, x := range in {
		if x.narinfo != nil {
			j.AddNarinfo(x.name, x.narinfo)
			continue
		}
		if err := j.AddExport(context.Background(), x.name, bytes.NewReader(x.export)); err != nil {
			t.Fatal(err)
		}
	}
	return j.Report()
}

func (r *QuorumReport) item(p string) *QuorumItem {
	for i := range r.Items {
		if r.Items[i].StorePath == p {
			return &r.Items[i]
		}
	}
	return nil
}

func verdicts(r *QuorumReport) string {
	var s []string
	for _, it := range r.Items {
		s = append(s, string(it.Verdict))
	}
	return strings.Join(s, " ")
}

func TestQuorumTwoOfThreeApproves(t *testing.T) {
	f := newQuorumFixture(t, 2)
	rep := judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "b.export", export: f.export(t, 1, nil)})
	if !rep.Accept {
		t.Fatalf("2 of 3 agreeing: %s %+v", verdicts(rep), rep.Items)
	}
	app := rep.item(f.app)
	if app.Verdict != QuorumApproved || strings.Join(app.Vouchers, ",") != "farm-a,farm-b" || app.K != 2 ||
		app.Claim.NARHash != sha256Sum(f.narApp) || app.Source == nil || !app.Source.Bytes {
		t.Fatalf("app %+v", app)
	}
	if src := rep.item(f.src); src.Verdict != QuorumFixedOutput || !strings.Contains(src.Reason, "no quorum") {
		t.Fatalf("source %+v", src)
	}
	// One builder is not enough.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)})
	if rep.Accept || rep.item(f.app).Verdict != QuorumShort || rep.item(f.lib).Verdict != QuorumShort ||
		!strings.Contains(rep.item(f.app).Reason, "1 of 3 builders vouch, 2 needed") {
		t.Fatalf("1 of 3: %s %+v", verdicts(rep), rep.item(f.app))
	}
	// The content-addressed source needs no builder at all, even unsigned.
	var b bytes.Buffer
	ew := NewExportWriter(&b, nil)
	ew.AddBytes(f.narSrc, f.src, nil, "")
	ew.Close()
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "src.export", export: b.Bytes()})
	if !rep.Accept || rep.Items[0].Verdict != QuorumFixedOutput || len(rep.Items[0].Vouchers) != 0 {
		t.Fatalf("unsigned source: %+v", rep.Items)
	}
}

func TestQuorumMismatchNamesBothBuilders(t *testing.T) {
	for _, k := range []int{1, 2, 3} {
		f := newQuorumFixture(t, k)
		rep := judgeQuorum(t, f.q, nil,
			quorumInput{name: "a.export", export: f.export(t, 0, nil)},
			quorumInput{name: "b.export", export: f.export(t, 1, nil)},
			quorumInput{name: "c.export", export: f.export(t, 2, f.badApp)})
		app := rep.item(f.app)
		good, bad := "sha256:"+b32(sha256Sum(f.narApp)), "sha256:"+b32(sha256Sum(f.badApp))
		if rep.Accept || app.Verdict != QuorumMismatch || app.Mismatch == nil ||
			app.Mismatch.BuilderA != "farm-a" || app.Mismatch.BuilderB != "farm-c" ||
			!strings.HasPrefix(app.Mismatch.ClaimA, good) || !strings.HasPrefix(app.Mismatch.ClaimB, bad) ||
			!strings.Contains(app.Reason, good) || !strings.Contains(app.Reason, bad) {
			t.Fatalf("k=%d: %+v %+v", k, app, app.Mismatch)
		}
		if lib := rep.item(f.lib); lib.Verdict != QuorumApproved {
			t.Errorf("k=%d: lib %+v", k, lib)
		}
	}
}

func TestQuorumUnauthorizedAndDuplicatesDoNotCount(t *testing.T) {
	f := newQuorumFixture(t, 2)
	a := f.export(t, 0, nil)
	// The outsider agrees, and even signs a different app: neither counts nor disagrees.
	rep := judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: a},
		quorumInput{name: "x.export", export: f.export(t, 3, nil)},
		quorumInput{name: "y.export", export: f.export(t, 3, f.badApp)})
	app := rep.item(f.app)
	if rep.Accept || app.Verdict != QuorumShort || strings.Join(app.Vouchers, ",") != "farm-a" {
		t.Fatalf("with the outsider: %+v", app)
	}
	var outsider int
	for _, v := range app.Votes {
		if v.Outcome == OutcomeUnauthorizedKey {
			outsider++
		}
	}
	if outsider != 2 {
		t.Errorf("outsider votes recorded %d, want 2: %+v", outsider, app.Votes)
	}
	// farm-a twice, and its narinfo: one builder.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: a}, quorumInput{name: "a-again.export", export: a},
		quorumInput{name: "a.narinfo", narinfo: f.narinfo(t, 0, f.app, f.narApp, f.lib)})
	app = rep.item(f.app)
	if rep.Accept || app.Verdict != QuorumShort || len(app.Vouchers) != 1 || len(app.Votes) != 3 {
		t.Fatalf("farm-a three times: %+v", app)
	}
	// A tampered copy of farm-b's export (one NAR byte) is no vote of farm-b's.
	b := f.export(t, 1, nil)
	i := bytes.Index(b, []byte("\x7fELF lib"))
	b[i+1] ^= 1
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: a}, quorumInput{name: "b.export", export: b})
	if lib := rep.item(f.lib); lib.Verdict != QuorumShort || rep.item(f.app).Verdict != QuorumMissingRef {
		t.Fatalf("tampered lib: %s %+v", verdicts(rep), lib.Votes)
	}
}

func TestQuorumNarinfoVotes(t *testing.T) {
	f := newQuorumFixture(t, 2)
	// farm-a's export carries the bytes; farm-b and farm-c vouch by narinfo.
	ins := []quorumInput{{name: "a.export", export: f.export(t, 0, nil)},
		{name: "lib.b.narinfo", narinfo: f.narinfo(t, 1, f.lib, f.narLib)},
		{name: "app.c.narinfo", narinfo: f.narinfo(t, 2, f.app, f.narApp, f.lib)}}
	rep := judgeQuorum(t, f.q, nil, ins...)
	if !rep.Accept {
		t.Fatalf("%s %+v", verdicts(rep), rep.Items)
	}
	// Narinfos alone carry no bytes.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "app.b.narinfo", narinfo: f.narinfo(t, 1, f.app, f.narApp, f.lib)},
		quorumInput{name: "app.c.narinfo", narinfo: f.narinfo(t, 2, f.app, f.narApp, f.lib)})
	if rep.Accept || rep.Items[0].Verdict != QuorumNoBytes {
		t.Fatalf("narinfos only: %+v", rep.Items)
	}
	// A narinfo claiming other references disagrees.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "app.b.narinfo", narinfo: f.narinfo(t, 1, f.app, f.narApp)})
	if app := rep.item(f.app); app.Verdict != QuorumMismatch || app.Mismatch.BuilderB != "farm-b" {
		t.Fatalf("references differ: %+v", app)
	}
	// Approved app whose lib is neither approved nor present.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "app.b.narinfo", narinfo: f.narinfo(t, 1, f.app, f.narApp, f.lib)})
	if app := rep.item(f.app); app.Verdict != QuorumMissingRef || !strings.Contains(app.Reason, f.lib) {
		t.Fatalf("missing lib: %+v", app)
	}
	rep = judgeQuorum(t, f.q, []string{f.lib}, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "app.b.narinfo", narinfo: f.narinfo(t, 1, f.app, f.narApp, f.lib)})
	if app := rep.item(f.app); app.Verdict != QuorumApproved {
		t.Fatalf("lib present: %+v", app)
	}
}

func TestQuorumPerPatternK(t *testing.T) {
	f := newQuorumFixture(t, 1, QuorumRule{Pattern: "app-*", K: 3})
	if f.q.K(f.app) != 3 || f.q.K(f.lib) != 1 {
		t.Fatalf("K %d %d", f.q.K(f.app), f.q.K(f.lib))
	}
	rep := judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "b.export", export: f.export(t, 1, nil)})
	if rep.item(f.lib).Verdict != QuorumApproved || rep.item(f.app).Verdict != QuorumShort {
		t.Fatalf("%s", verdicts(rep))
	}
}

func TestQuorumBrokenExportCountsForNothing(t *testing.T) {
	f := newQuorumFixture(t, 2)
	b := f.export(t, 1, nil)
	rep := judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: f.export(t, 0, nil)},
		quorumInput{name: "b.export", export: b[:len(b)-8]})
	if rep.Accept || rep.item(f.app).Verdict != QuorumShort || rep.Files[1].Problem == "" {
		t.Fatalf("%s %+v", verdicts(rep), rep.Files)
	}
}

func TestNewQuorumRejects(t *testing.T) {
	k1, _ := GenerateKey(testRand(1))
	k2, _ := GenerateKey(testRand(2))
	for _, c := range []struct {
		name  string
		bs    []Builder
		k     int
		rules []QuorumRule
	}{
		{"k 0", []Builder{{"a", k1.Public()}}, 0, nil},
		{"k > n", []Builder{{"a", k1.Public()}}, 2, nil},
		{"same key", []Builder{{"a", k1.Public()}, {"b", k1.Public()}}, 1, nil},
		{"same name", []Builder{{"a", k1.Public()}, {"a", k2.Public()}}, 1, nil},
		{"blank name", []Builder{{"a b", k1.Public()}}, 1, nil},
		{"bad pattern", []Builder{{"a", k1.Public()}}, 1, []QuorumRule{{"[", 1}}},
		{"rule k > n", []Builder{{"a", k1.Public()}}, 1, []QuorumRule{{"x-*", 2}}},
	} {
		if _, err := NewQuorum(c.bs, c.k, c.rules...); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestBuildersRoundTrip(t *testing.T) {
	f := newQuorumFixture(t, 2)
	text := MarshalBuilders(f.q.Builders())
	bs, err := ParseBuilders(text)
	if err != nil || len(bs) != 3 || bs[2].Name != "farm-c" || !bs[2].Key.Equal(f.keys[2].Public()) {
		t.Fatalf("%v %+v\n%s", err, bs, text)
	}
	for _, bad := range []string{"(acl)", "(builders (builder (name \"a\")))", "(builders (builder (name) (public-key (ecc (curve Ed25519) (q #00#)))))"} {
		if _, err := ParseBuilders([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNarinfoRoundTrip(t *testing.T) {
	f := newQuorumFixture(t, 2)
	text := f.narinfo(t, 1, f.app, f.narApp, f.lib)
	n, err := ParseNarinfo("app.narinfo", text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if n.StorePath != f.app || n.NARHash != sha256Sum(f.narApp) || n.NARSize != int64(len(f.narApp)) ||
		len(n.References) != 1 || n.References[0] != f.lib || n.Host != "farm1" || n.URLs[0] == "" || n.Compressions[0] != "gzip" {
		t.Fatalf("%+v", n)
	}
	above := text[:bytes.Index(text, []byte("Signature:"))]
	if n.SignedHash != sha256Sum(above) {
		t.Error("signed hash is not the SHA-256 of the text above Signature:")
	}
	if b, o, _ := f.q.vouch(n.Signature, n.SignedHash); b != 1 || o != OutcomeValid {
		t.Fatalf("vouch %d %s", b, o)
	}
	again, err := MarshalNarinfo(n, n.Host, f.keys[1])
	if err != nil || !bytes.Equal(again, text) {
		t.Fatalf("%v: re-marshalled\n%s\nwant\n%s", err, again, text)
	}
	// The layout guix publish writes (narinfo-string), for an item with no references.
	lib := string(f.narinfo(t, 0, f.lib, f.narLib))
	want := "StorePath: " + f.lib + "\nURL: nar/gzip/" + strings.TrimPrefix(f.lib, StoreDir+"/") + "\nCompression: gzip\nFileSize: " +
		fmt.Sprint(len(f.narLib)/2) + "\nNarHash: sha256:" + b32(sha256Sum(f.narLib)) + "\nNarSize: " +
		fmt.Sprint(len(f.narLib)) + "\nReferences: \nSignature: 1;farm0;"
	if !strings.HasPrefix(lib, want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", lib, want)
	}
}

func TestNarinfoRejects(t *testing.T) {
	f := newQuorumFixture(t, 2)
	good := string(f.narinfo(t, 1, f.app, f.narApp, f.lib))
	sigLine := good[strings.Index(good, "Signature:"):]
	signed := good[:strings.Index(good, "Signature:")]
	lib := strings.TrimPrefix(f.lib, StoreDir+"/")
	for _, c := range []struct{ name, text string }{
		{"empty", ""},
		{"no final newline", strings.TrimSuffix(good, "\n")},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n")},
		{"empty line", strings.Replace(good, "\nNarHash", "\n\nNarHash", 1)},
		{"unknown field", "Foo: bar\n" + good},
		{"no space after colon", strings.Replace(good, "NarSize: ", "NarSize:", 1)},
		{"trailing blank", strings.Replace(good, "\nNarHash", " \nNarHash", 1)},
		{"repeated StorePath", "StorePath: " + f.lib + "\n" + good},
		{"no signature", signed},
		{"two signatures", good + sigLine},
		{"NarHash after signature", signed + sigLine + "NarHash: sha256:" + b32(sha256Sum(f.narApp)) + "\n"},
		{"Signature: inside a value", strings.Replace(good, "URL: nar/gzip/", "URL: nar/Signature:/", 1)},
		{"no NarHash", strings.Replace(good, "NarHash: sha256:", "FileHash: sha256:", 1)},
		{"md5 NarHash", strings.Replace(good, "NarHash: sha256:", "NarHash: md5:", 1)},
		{"short NarHash", strings.Replace(good, "NarHash: sha256:", "NarHash: sha256:0", 1)},
		{"NarSize leading zero", strings.Replace(good, "NarSize: ", "NarSize: 0", 1)},
		{"NarSize sign", strings.Replace(good, "NarSize: ", "NarSize: +", 1)},
		{"bad reference", strings.Replace(good, "References: "+lib, "References: "+lib+" x", 1)},
		{"duplicate reference", strings.Replace(good, "References: "+lib, "References: "+lib+" "+lib, 1)},
		{"double blank in references", strings.Replace(good, "References: "+lib, "References: "+lib+"  "+lib, 1)},
		{"bad store path", strings.Replace(good, "StorePath: /gnu/store/", "StorePath: /nix/store/", 1)},
		{"signature version 2", strings.Replace(good, "Signature: 1;", "Signature: 2;", 1)},
		{"signature two fields", strings.Replace(good, "Signature: 1;farm1;", "Signature: 1;", 1)},
		{"signature not base64", strings.Replace(good, "Signature: 1;farm1;", "Signature: 1;farm1;!", 1)},
		{"unknown compression", strings.Replace(good, "Compression: gzip", "Compression: rar", 1)},
		{"URL without compression", strings.Replace(good, "Compression: gzip\n", "", 1)},
		{"non-ASCII", strings.Replace(good, "farm1", "farm\xc3\xa9", 1)},
		{"NUL", strings.Replace(good, "farm1", "farm\x00", 1)},
	} {
		if _, err := ParseNarinfo(c.name, []byte(c.text)); err == nil {
			t.Errorf("%s: accepted\n%s", c.name, c.text)
		} else if !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
	// A re-encoded but otherwise valid signature still parses; a changed signed line no longer
	// verifies.
	tampered := strings.Replace(good, "NarSize: ", "NarSize: 1", 1)
	n, err := ParseNarinfo("tampered", []byte(tampered))
	if err != nil {
		t.Fatal(err)
	}
	if _, o, _ := f.q.vouch(n.Signature, n.SignedHash); o != OutcomeHashMismatch {
		t.Errorf("tampered narinfo: %s", o)
	}
}

func FuzzParseNarinfo(f *testing.F) {
	fx := newQuorumFixture(f, 2)
	f.Add(fx.narinfo(f, 0, fx.lib, fx.narLib))
	f.Add(fx.narinfo(f, 1, fx.app, fx.narApp, fx.lib))
	f.Add([]byte("StorePath: /gnu/store/00000000000000000000000000000000-x\nNarHash: sha256:0\nSignature: 1;h;AA==\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNarinfo("fuzz", b)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// Whatever parses has its mandatory fields, signed, and judges without panicking.
		if CheckStorePath(n.StorePath) != nil || n.NARSize <= 0 || n.Signature == nil {
			t.Fatalf("accepted %+v", n)
		}
		above := b[:bytes.Index(b, []byte("Signature:"))]
		if n.SignedHash != sha256Sum(above) {
			t.Fatal("signed hash is not over the text above Signature:")
		}
		fx.q.vouch(n.Signature, n.SignedHash)
	})
}

func b32(h [32]byte) string { return EncodeBase32(h[:]) }

// TestQuorumStreamBound: the stream bounds of a Judge hold for a quorum's export too (the
// Judge's tests check the real constants at their edges; here they are lowered to the
// fixture's 3 items and 1 reference).
func TestQuorumStreamBound(t *testing.T) {
	f := newQuorumFixture(t, 1)
	b := f.export(t, 0, nil)
	for _, c := range []struct {
		items, refs int
		problem     bool
	}{{3, 1, false}, {2, 1, true}, {3, 0, true}} {
		j := NewQuorumJudge(f.q, nil)
		j.maxItems, j.maxRefs = c.items, c.refs
		if err := j.AddExport(context.Background(), "s.export", bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		rep := j.Report()
		if got := rep.Files[0].Problem != ""; got != c.problem || c.problem && (!strings.Contains(rep.Files[0].Problem, string(RuleTooManyItems)) || rep.Accept || len(rep.Items) != 0) {
			t.Fatalf("bounds %d/%d: problem %q, %d items", c.items, c.refs, rep.Files[0].Problem, len(rep.Items))
		}
		if !c.problem && !rep.Accept {
			t.Fatalf("bounds %d/%d: %s", c.items, c.refs, verdicts(rep))
		}
	}
}

func TestQuorumAddFileSniffs(t *testing.T) {
	f := newQuorumFixture(t, 2)
	j := NewQuorumJudge(f.q, nil)
	ctx := context.Background()
	if err := j.AddFile(ctx, "a.export", bytes.NewReader(f.export(t, 0, nil))); err != nil {
		t.Fatal(err)
	}
	if err := j.AddFile(ctx, "lib.narinfo", bytes.NewReader(f.narinfo(t, 1, f.lib, f.narLib))); err != nil {
		t.Fatal(err)
	}
	if err := j.AddFile(ctx, "junk", strings.NewReader("hello, world\n")); !errors.Is(err, ErrNotQuorumInput) || !strings.Contains(err.Error(), "junk") {
		t.Fatalf("junk: %v", err)
	}
	rep := j.Report()
	if len(rep.Files) != 2 || rep.Files[1].Kind != "narinfo" || rep.item(f.lib).Verdict != QuorumApproved {
		t.Fatalf("%+v %s", rep.Files, verdicts(rep))
	}
}
