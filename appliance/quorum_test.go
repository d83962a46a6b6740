package appliance

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sandbox"
)

// quorumFix is one store item built by two real guix-daemons (separate stores, each with a
// key of its own from `guix archive --generate-key`) and exported by `guix archive --export`,
// plus a third builder whose NAR of the same item differs (made with airlock's own NAR and
// export writers under that builder's key, as a non-reproducible build would).
type quorumFix struct {
	item        string
	exports     [2][]byte // farm-a, farm-b: the real daemons'
	keys        [2]*guix.PrivateKey
	farmC       *guix.PrivateKey
	badC        []byte // farm-c's export of item, with a different NAR
	goodNarinfo []byte // farm-c's narinfo agreeing with farm-a and farm-b
	narHash     [32]byte
	badHash     [32]byte // farm-c's NAR
	narSize     int64
}

func newQuorumFix(t *testing.T) *quorumFix {
	f := &quorumFix{}
	script := "(use-modules (guix store))\n(with-store s (display (add-text-to-store s \"quorum-item\" \"the same bytes from every builder\\n\")))\n"
	for i := range f.exports {
		g := testenv.GuixOracle(t)
		// Every scratch store starts with the root's key: each builder gets a key of its own.
		for _, k := range []string{"signing-key.sec", "signing-key.pub"} {
			if err := os.Remove(filepath.Join(g.Etc(), k)); err != nil {
				t.Fatal(err)
			}
		}
		g.MustRun(nil, "archive", "--generate-key")
		host, in := g.TempDir()
		if err := os.WriteFile(filepath.Join(host, "make.scm"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		item := strings.TrimSpace(string(g.MustRun(nil, "repl", "--", in+"/make.scm")))
		if f.item != "" && item != f.item {
			t.Fatalf("daemons disagree on the store path: %s, %s", f.item, item)
		}
		f.item = item
		f.exports[i] = g.MustRun(nil, "archive", "--export", item)
		sec, err := os.ReadFile(filepath.Join(g.Etc(), "signing-key.sec"))
		if err != nil {
			t.Fatal(err)
		}
		if f.keys[i], err = guix.ParsePrivateKey(sec); err != nil {
			t.Fatal(err)
		}
	}
	if f.keys[0].Public().Equal(f.keys[1].Public()) {
		t.Fatal("the two daemons have the same key")
	}
	rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(f.exports[0]), guix.NewACL(f.keys[0].Public()), nil)
	if err != nil || !rep.Accept || len(rep.Items) != 1 {
		t.Fatalf("farm-a's export: %v %+v", err, rep)
	}
	f.narHash, f.narSize = rep.Items[0].Info.NARHash, rep.Items[0].Info.NARSize
	if f.farmC, err = guix.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), []byte("built at 12:00, not reproducible\n"), 0o644)
	var nar bytes.Buffer
	if err := guix.DumpPath(&nar, filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	var ex bytes.Buffer
	ew := guix.NewExportWriter(&ex, f.farmC)
	if err := ew.AddBytes(nar.Bytes(), f.item, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	f.badC = ex.Bytes()
	f.badHash = sha256.Sum256(nar.Bytes())
	n := &guix.Narinfo{StorePath: f.item, URLs: []string{"nar/" + filepath.Base(f.item)}, Compressions: []string{"none"},
		NARHash: f.narHash, NARSize: f.narSize}
	if f.goodNarinfo, err = guix.MarshalNarinfo(n, "farm-c", f.farmC); err != nil {
		t.Fatal(err)
	}
	return f
}

// sharedQuorumFix builds the fixture once per test binary (two guix-daemons take seconds).
func sharedQuorumFix(t *testing.T) *quorumFix {
	quorumOnce.Do(func() { quorumFx = newQuorumFix(t) })
	if quorumFx == nil {
		// The first test that tried skipped (no real Guix here) or failed, and said so.
		if testenv.InCI() {
			t.Fatal("no quorum fixture: the real Guix oracle failed in an earlier test")
		}
		t.Skip("no quorum fixture: the real Guix oracle is not available here")
	}
	return quorumFx
}

func (f *quorumFix) quorum(t *testing.T, k int) *guix.Quorum {
	q, err := guix.NewQuorum([]guix.Builder{{Name: "farm-a", Key: f.keys[0].Public()}, {Name: "farm-b", Key: f.keys[1].Public()},
		{Name: "farm-c", Key: f.farmC.Public()}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestQuorumImport: exports of one item by real guix-daemons, judged at the station under
// import.quorum, in the sandboxed worker and in process. k=2 of 3 approves, and what is
// burned is the carrier rewritten and re-signed with the appliance's key (the other inputs
// are votes, not burned); k=3 with two builders is refused; a builder whose NAR differs is a
// mismatch naming both builders and both hashes whatever k is; a narinfo votes; each vote is
// in the audit record.
func TestQuorumImport(t *testing.T) {
	f := sharedQuorumFix(t)
	appKey, err := guix.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		k     int
		files map[string][]byte
		want  string // "" approved, else a piece of every input's reasons
	}{
		{"met", 2, map[string][]byte{"a.export": f.exports[0], "b.export": f.exports[1]}, ""},
		{"narinfo", 2, map[string][]byte{"a.export": f.exports[0], "c.narinfo": f.goodNarinfo}, ""},
		{"not met", 3, map[string][]byte{"a.export": f.exports[0], "b.export": f.exports[1]}, "no-quorum (k=3, vouched by 2: farm-a, farm-b)"},
		{"disagreement", 1, map[string][]byte{"a.export": f.exports[0], "b.export": f.exports[1], "c.export": f.badC}, "mismatch"},
	}
	for _, sandboxed := range []bool{true, false} {
		for _, tc := range cases {
			im := newTestImporter(t)
			im.ACL = guix.NewACL(f.keys[0].Public()) // one builder's signature alone must not do
			im.Quorum, im.ResignGuix, im.GuixKey = f.quorum(t, tc.k), true, appKey
			spool := t.TempDir()
			var dec *Decision
			if sandboxed {
				im.Sandbox = &sandbox.Config{}
				dec, err = im.ReadDevice(context.Background(), fatImage(t, tc.files), spool, nil)
			} else {
				fsys := fstest.MapFS{}
				for n, b := range tc.files {
					fsys[n] = &fstest.MapFile{Data: b}
				}
				dec, err = im.Read(context.Background(), fsys, spool, nil)
			}
			if err != nil {
				t.Fatalf("%s (sandboxed %v): %v", tc.name, sandboxed, err)
			}
			var rec *Record
			for i := range dec.Records {
				if dec.Records[i].Type == RecordQuorum {
					rec = &dec.Records[i]
				}
			}
			if rec == nil {
				t.Fatalf("%s: no quorum record in %v", tc.name, dec.Records)
			}
			js, _ := json.Marshal(rec.Fields)
			if tc.want != "" {
				if dec.Approved() || len(dec.Files) != len(tc.files) {
					t.Errorf("%s (sandboxed %v): approved with %+v", tc.name, sandboxed, dec.Files)
				}
				for _, fv := range dec.Files {
					if why := strings.Join(fv.Reasons, "; "); fv.Approved || !strings.Contains(why, tc.want) {
						t.Errorf("%s: %s approved=%v %s, want %q", tc.name, fv.Path, fv.Approved, why, tc.want)
					}
				}
				if rec.Fields["verdict"] != "rejected" {
					t.Errorf("%s: record %s", tc.name, js)
				}
				if tc.name == "disagreement" {
					why := strings.Join(dec.Files[0].Reasons, "; ")
					good, bad := "sha256:"+guix.EncodeBase32(f.narHash[:]), "sha256:"+guix.EncodeBase32(f.badHash[:])
					if !strings.Contains(why, good) || !strings.Contains(why, bad) || !strings.Contains(why, "farm-a (a.export)") ||
						!strings.Contains(why, "farm-c (c.export)") {
						t.Errorf("the mismatch does not name both builders and hashes: %s", why)
					}
					if !strings.Contains(string(js), `"mismatch":{"builder_a":"farm-a"`) {
						t.Errorf("record lacks the mismatch: %s", js)
					}
				}
				continue
			}
			// Approved: one file crosses, the carrier, re-signed by the appliance.
			if !dec.Approved() || len(dec.Files) != 1 || dec.Files[0].Path != "a.export" {
				t.Fatalf("%s (sandboxed %v): %+v", tc.name, sandboxed, dec.Files)
			}
			fv := dec.Files[0]
			b, err := os.ReadFile(filepath.Join(spool, fv.Path))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != fv.SHA256 || int64(len(b)) != fv.Size || bytes.Equal(b, f.exports[0]) {
				t.Errorf("%s: the spool does not hold the re-signed export the verdict names", tc.name)
			}
			if rep, _ := guix.VerifyExport(context.Background(), bytes.NewReader(b), guix.NewACL(appKey.Public()), nil); rep == nil || !rep.Accept {
				t.Errorf("%s: the burned export does not verify under the appliance's key", tc.name)
			}
			if rep, _ := guix.VerifyExport(context.Background(), bytes.NewReader(b), guix.NewACL(f.keys[0].Public()), nil); rep == nil || rep.Accept {
				t.Errorf("%s: the burned export still verifies under a builder's key", tc.name)
			}
			for n := range tc.files {
				if _, err := os.Stat(filepath.Join(spool, n)); (n == "a.export") != (err == nil) {
					t.Errorf("%s: spool %s: %v", tc.name, n, err)
				}
			}
			if rec.Fields["verdict"] != "approved" || rec.Fields["carrier"] != "a.export" ||
				!strings.Contains(string(js), `"builder":"farm-a"`) || !strings.Contains(string(js), `"vouchers":["farm-a","farm-`) {
				t.Errorf("%s: record %s", tc.name, js)
			}
			if !strings.Contains(string(dec.Report), `"guix_quorum"`) || !strings.Contains(string(dec.Report), `"burned_sha256": "`+fv.SHA256) {
				t.Errorf("%s: the report lacks the quorum or the re-signed file", tc.name)
			}
		}
	}
}

// TestResignGuixACL: with import.resign_guix, an export approved under the ACL is re-signed
// with the appliance's key before it is sealed, in the spool, and the verdict names the bytes
// that cross.
func TestResignGuixACL(t *testing.T) {
	export, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "p2-only.export"))
	if err != nil {
		t.Fatal(err)
	}
	appKey, err := guix.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	im := newTestImporter(t)
	im.ResignGuix, im.GuixKey = true, appKey
	spool := t.TempDir()
	dec, err := im.Read(context.Background(), fstest.MapFS{"quux.export": {Data: export}}, spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	fv := dec.Files[0]
	b, _ := os.ReadFile(filepath.Join(spool, "quux.export"))
	sum := sha256.Sum256(b)
	if !fv.Approved || fv.SHA256 != hex.EncodeToString(sum[:]) || bytes.Equal(b, export) {
		t.Fatalf("verdict %+v", fv)
	}
	if rep, _ := guix.VerifyExport(context.Background(), bytes.NewReader(b), guix.NewACL(appKey.Public()), nil); rep == nil || !rep.Accept {
		t.Errorf("the re-signed export does not verify under the appliance's key: %+v", rep)
	}
	if rep, _ := guix.VerifyExport(context.Background(), bytes.NewReader(b), im.ACL, nil); rep == nil || rep.Accept {
		t.Error("the re-signed export still verifies under the low side's ACL")
	}
}

// TestQuorumRecordsSplit: the votes on a large closure are logged in parts, none dropped,
// each within the audit log's record size.
func TestQuorumRecordsSplit(t *testing.T) {
	rep := &guix.QuorumReport{}
	for i := 0; i < 1500; i++ {
		it := guix.QuorumItem{StorePath: "/gnu/store/" + strings.Repeat("a", 32) + "-item-" + strings.Repeat("x", i%50) + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}),
			K: 2, Verdict: guix.QuorumApproved, Vouchers: []string{"farm-a", "farm-b"}, NARHash: strings.Repeat("1", 52)}
		for _, b := range []string{"farm-a", "farm-b", "farm-c"} {
			it.Votes = append(it.Votes, guix.Vote{File: b + ".export", Builder: b, Outcome: guix.OutcomeValid, NARHash: strings.Repeat("1", 52), Bytes: true})
		}
		rep.Items = append(rep.Items, it)
	}
	recs := quorumRecords(rep, "farm-a.export", map[string]string{}, true)
	if len(recs) < 3 || recs[0].Type != RecordQuorum || recs[1].Type != RecordQuorum+"-items" {
		t.Fatalf("%d records", len(recs))
	}
	n := 0
	for _, r := range recs {
		m := map[string]any{"type": r.Type}
		for k, v := range r.Fields {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil || len(b) > 1<<20 {
			t.Fatalf("record of %d bytes: %v", len(b), err)
		}
		n += len(r.Fields["items"].([]map[string]any))
	}
	if n != len(rep.Items) {
		t.Errorf("%d of %d items logged", n, len(rep.Items))
	}
}
