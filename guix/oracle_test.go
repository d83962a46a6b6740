package guix_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// The tests in this file judge airlock's Guix judge with the real Guix (testenv.GuixOracle:
// guix-daemon 1.5.0 on scratch stores). A source store makes real items offline and exports
// them; a sink store, which authorizes only the source's key, imports what airlock is shown.

// realItems is a closure made by the real Guix: a source tarball fetched with `guix download
// file://`, a directory tree added recursively, and text items with references (guix repl,
// add-text-to-store), so that `guix archive --export -r` of the top has five items.
type realItems struct {
	src, sink *testenv.Guix
	top       string            // the item whose closure is exported
	paths     map[string]string // name -> store path
	export    []byte            // guix archive --export -r top
	single    map[string][]byte // name -> guix archive --export of that item alone
	acl       []byte            // the sink's /etc/guix/acl, as guix archive --authorize wrote it
	order     []string          // names in export order
}

const makeItemsScm = `(use-modules (guix store) (ice-9 rdelim))
(define src (read-line (open-input-file "/tmp/%[1]s/src-path")))
(with-store s
  (let* ((tree (add-to-store s "airlock-tree" #t "sha256" "/tmp/%[1]s/tree"))
         (a (add-text-to-store s "a.txt" "alpha\n"))
         (b (add-text-to-store s "b.txt" (string-append "see " a " and " src "\n") (list a src)))
         (c (add-text-to-store s "c.txt" (string-append b " " a " " tree "\n") (list a b tree))))
    (for-each (lambda (n p) (format #t "~a ~a~%%" n p))
              '("src" "tree" "a" "b" "c") (list src tree a b c))))
`

func makeRealItems(t testing.TB) *realItems { return makeRealItemsSigned(t, nil) }

// makeRealItemsSigned is makeRealItems with the source store signing with key (nil: the key of
// its own it starts with). Store paths and NARs are content-derived and Ed25519 signatures
// deterministic, so every process given the same key makes byte-identical exports.
func makeRealItemsSigned(t testing.TB, key *guix.PrivateKey) *realItems {
	t.Helper()
	src := testenv.GuixOracle(t)
	sink := testenv.GuixOracle(t)
	if key != nil {
		installSigningKey(t, src, key)
	}
	host, in := src.TempDir()
	// A source tarball as upstream would publish it, fetched as `guix download` does.
	writeTarball(t, filepath.Join(host, "demo-src-1.0.tar.gz"))
	out := src.MustRun(nil, "download", "file://"+in+"/demo-src-1.0.tar.gz")
	srcPath := strings.SplitN(string(out), "\n", 2)[0]
	if !strings.HasPrefix(srcPath, "/gnu/store/") {
		t.Fatalf("guix download printed %q", out)
	}
	if err := os.WriteFile(filepath.Join(host, "src-path"), []byte(srcPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A tree with what NARs carry: nested directories, an executable, an empty file, symlinks.
	for name, body := range map[string]string{
		"tree/bin/run":          "#!/bin/sh\necho run\n",
		"tree/share/doc/README": "airlock oracle tree\n",
		"tree/share/empty":      "",
		"tree/share/é ü":        "utf-8 name\n",
	} {
		p := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(host, "tree/bin/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../share/doc/README", filepath.Join(host, "tree/bin/readme")); err != nil {
		t.Fatal(err)
	}
	scm := filepath.Join(host, "make.scm")
	if err := os.WriteFile(scm, []byte(fmt.Sprintf(makeItemsScm, filepath.Base(host))), 0o644); err != nil {
		t.Fatal(err)
	}
	out = src.MustRun(nil, "repl", "--", in+"/make.scm")
	it := &realItems{src: src, sink: sink, paths: map[string]string{}, single: map[string][]byte{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(path, "/gnu/store/") {
			t.Fatalf("guix repl printed %q", out)
		}
		it.paths[name] = path
	}
	it.top = it.paths["c"]
	refs := strings.Fields(string(src.MustRun(nil, "gc", "--references", it.top)))
	if len(refs) != 3 {
		t.Fatalf("guix gc --references %s: %q, want a, b, tree", it.top, refs)
	}
	it.export = src.MustRun(nil, "archive", "--export", "-r", it.top)
	for name, p := range it.paths {
		it.single[name] = src.MustRun(nil, "archive", "--export", p)
	}
	// The export's order, as the stream has it (guix sorts the closure topologically).
	rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(it.export), guix.NewACL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ir := range rep.Items {
		for name, q := range it.paths {
			if ir.StorePath == q {
				it.order = append(it.order, name)
			}
		}
	}
	if len(it.order) != len(it.paths) {
		t.Fatalf("export of %s holds %v, want the 5 items %v", it.top, it.order, it.paths)
	}
	pub, err := os.ReadFile(filepath.Join(src.Etc(), "signing-key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sink.MustRun(bytes.NewReader(pub), "archive", "--authorize")
	if it.acl, err = os.ReadFile(filepath.Join(sink.Etc(), "acl")); err != nil {
		t.Fatal(err)
	}
	return it
}

// installSigningKey makes key the signing key of g's store (/etc/guix/signing-key.sec and .pub,
// in the format of guix archive --generate-key). The daemon reads the key file for each export,
// so it signs with it from the next export on.
func installSigningKey(t testing.TB, g *testenv.Guix, key *guix.PrivateKey) {
	t.Helper()
	sec, err := key.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.Public().MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.Etc(), "signing-key.sec"), sec, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.Etc(), "signing-key.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeTarball(t testing.TB, path string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{"demo-src-1.0/README", "demo source\n"},
		{"demo-src-1.0/configure", "#!/bin/sh\nexit 0\n"},
		{"demo-src-1.0/src/main.c", "int main(void) { return 0; }\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (it *realItems) parsedACL(t *testing.T) *guix.ACL {
	t.Helper()
	acl, err := guix.ParseACL(it.acl)
	if err != nil {
		t.Fatalf("ACL written by guix archive --authorize: %v\n%s", err, it.acl)
	}
	return acl
}

func airlockVerify(t *testing.T, acl *guix.ACL, b []byte) *guix.ExportReport {
	t.Helper()
	rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(b), acl, nil)
	if err != nil {
		t.Fatalf("VerifyExport: %v", err)
	}
	return rep
}

// TestOracle makes one set of real items (makeRealItems) and judges them in its subtests.
func TestOracle(t *testing.T) {
	it := makeRealItems(t)
	t.Run("RealExport", func(t *testing.T) { testOracleRealExport(t, it) })
	t.Run("Resign", func(t *testing.T) { testOracleResign(t, it) })
	t.Run("Differential", func(t *testing.T) { testOracleDifferential(t, it) })
}

// testOracleRealExport: a real multi-item export made by guix-daemon is accepted by airlock
// under an ACL of the daemon's key written by `guix archive --authorize`, every item after the
// items it references, and refused under an ACL without it; the sink daemon imports the same
// bytes (and is emptied again for the next subtest).
func testOracleRealExport(t *testing.T, it *realItems) {
	rep := airlockVerify(t, it.parsedACL(t), it.export)
	if !rep.Accept || len(rep.Items) != 5 {
		t.Fatalf("airlock on a real 5-item export: accept=%v items=%d stream=%s %v", rep.Accept, len(rep.Items), rep.Stream, rep.FirstFailure())
	}
	// Every item comes after the items it references, as guix-daemon requires on import.
	seen := map[string]bool{}
	for _, ir := range rep.Items {
		for _, ref := range ir.Info.References {
			if ref != ir.StorePath && !seen[ref] {
				t.Errorf("%s: reference %s is not earlier in the export", ir.StorePath, ref)
			}
		}
		seen[ir.StorePath] = true
	}
	if rep := airlockVerify(t, guix.NewACL(), it.export); rep.Accept {
		t.Error("airlock accepted a real export under an empty ACL")
	}
	if _, err := it.sink.Run(context.Background(), bytes.NewReader(it.export), "archive", "--import"); err != nil {
		t.Fatalf("sink daemon refused the real export: %v", err)
	}
	out := it.sink.MustRun(nil, "gc", "--references", it.top)
	if len(strings.Fields(string(out))) != 3 {
		t.Errorf("imported %s has references %q", it.top, out)
	}
	var all []string
	for _, p := range it.paths {
		all = append(all, p)
	}
	it.sink.MustRun(nil, append([]string{"gc", "--delete"}, all...)...)
}

// testOracleResign is the high side: what `airlock guix sign` re-signs with the appliance's key
// is imported by a fresh guix-daemon after `guix archive --authorize` of that key, the
// imported items are byte-identical to the originals (`guix gc --verify=contents`, and the
// same NAR hashes as in the source store), while the daemon-signed original is refused there
// as "unauthorized public key".
func testOracleResign(t *testing.T, it *realItems) {
	high := testenv.GuixOracle(t)
	key, err := guix.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var resigned bytes.Buffer
	if err := guix.ResignExport(context.Background(), &resigned, bytes.NewReader(it.export), key); err != nil {
		t.Fatal(err)
	}
	if _, err := high.Run(context.Background(), bytes.NewReader(it.export), "archive", "--import"); err == nil ||
		!strings.Contains(err.Error(), "unauthorized public key") {
		t.Fatalf("fresh store on the daemon-signed export: %v, want unauthorized public key", err)
	}
	pub, err := key.Public().MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	high.MustRun(bytes.NewReader(pub), "archive", "--authorize")
	if _, err := high.Run(context.Background(), bytes.NewReader(resigned.Bytes()), "archive", "--import"); err != nil {
		t.Fatalf("fresh store refused airlock's re-signed export: %v", err)
	}
	if _, err := high.Run(context.Background(), nil, "gc", "--verify=contents"); err != nil {
		t.Fatalf("guix gc --verify=contents after the import: %v", err)
	}
	for name, p := range it.paths {
		want := it.src.MustRun(nil, "hash", "-S", "nar", p)
		got := high.MustRun(nil, "hash", "-S", "nar", p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: NAR hash %s in the high store, %s in the source store", name, got, want)
		}
	}
	acl := guix.NewACL(key.Public())
	if rep := airlockVerify(t, acl, resigned.Bytes()); !rep.Accept {
		t.Errorf("airlock rejects its own re-signed export: %v", rep.FirstFailure())
	}
}

// le64 is a u64 of the wire format.
func le64(n uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return b[:]
}

// field is a span of one item's trailer in an export, for naming and targeting mutations.
type field struct {
	name       string
	start, end int
}

// exportFields finds the fields of every item of a well-formed signed export: after each NAR,
// the "NIXE" magic, the store path, the references, the deriver, the flag and the signature.
func exportFields(t *testing.T, b []byte) []field {
	t.Helper()
	var fs []field
	str := func(off int) (int, int) { // a padded string at off: its bytes and the offset after it
		n := int(binary.LittleEndian.Uint64(b[off:]))
		return off + 8 + n, off + 8 + (n+7)/8*8
	}
	for i, item := 0, 0; ; item++ {
		j := bytes.Index(b[i:], []byte("NIXE\x00\x00\x00\x00"))
		if j < 0 {
			break
		}
		off := i + j
		fs = append(fs, field{fmt.Sprintf("item%d.magic", item), off, off + 8})
		off += 8
		end, next := str(off)
		fs = append(fs, field{fmt.Sprintf("item%d.path", item), off + 8, end})
		off = next
		nrefs := int(binary.LittleEndian.Uint64(b[off:]))
		fs = append(fs, field{fmt.Sprintf("item%d.nrefs", item), off, off + 8})
		off += 8
		for r := 0; r < nrefs; r++ {
			end, next := str(off)
			fs = append(fs, field{fmt.Sprintf("item%d.ref%d", item, r), off + 8, end})
			off = next
		}
		end, next = str(off)
		fs = append(fs, field{fmt.Sprintf("item%d.deriver", item), off, max(end, off+8)})
		off = next
		fs = append(fs, field{fmt.Sprintf("item%d.flag", item), off, off + 8})
		off += 8
		fs = append(fs, field{fmt.Sprintf("item%d.siglen", item), off, off + 8})
		end, next = str(off)
		fs = append(fs, field{fmt.Sprintf("item%d.sig", item), off + 8, end})
		i = next
	}
	return fs
}

// where names the field (and, in a signature, the s-expression atom) that offset off falls in.
func where(b []byte, fs []field, off int) string {
	for _, f := range fs {
		if off >= f.start && off < f.end {
			if strings.HasSuffix(f.name, ".sig") {
				return f.name + ":" + sexpAtomAt(b[f.start:f.end], off-f.start)
			}
			return f.name
		}
	}
	if off >= len(b)-8 {
		return "end-marker"
	}
	return "nar-or-marker"
}

// sexpAtomAt returns the atom of an advanced s-expression around offset i ("(" and ")" for
// the parentheses, "hex" inside #...#).
func sexpAtomAt(s []byte, i int) string {
	switch s[i] {
	case '(', ')':
		return string(s[i])
	case ' ', '\n':
		return "space"
	}
	if bytes.Count(s[:i], []byte("#"))%2 == 1 || s[i] == '#' {
		return "hex"
	}
	a, z := i, i
	for a > 0 && !strings.ContainsRune("() \n#", rune(s[a-1])) {
		a--
	}
	for z < len(s) && !strings.ContainsRune("() \n#", rune(s[z])) {
		z++
	}
	return string(s[a:z])
}

// mutant is one differential case: bytes fed to both judges, and what was done to them.
type mutant struct {
	name string
	what string // the field or kind the mutation hit, which the stricter table is keyed on
	b    []byte
}

func (it *realItems) mutants(t *testing.T) []mutant {
	t.Helper()
	b := it.export
	fs := exportFields(t, b)
	if len(fs) < 5*8 {
		t.Fatalf("found %d fields in a 5-item export", len(fs))
	}
	var ms []mutant
	add := func(name, what string, m []byte) { ms = append(ms, mutant{name, what, m}) }
	add("original", "none", b)
	// Byte flips: every field's first and last byte, and a stride over the whole stream, both
	// with 0x01 (a near miss) and 0xff.
	offs := map[int]bool{}
	for _, f := range fs {
		offs[f.start], offs[f.end-1] = true, true
	}
	for o := 0; o < len(b); o += 97 {
		offs[o] = true
	}
	sorted := make([]int, 0, len(offs))
	for o := range offs {
		sorted = append(sorted, o)
	}
	sort.Ints(sorted)
	for k, o := range sorted {
		x := byte(0xff)
		if k%2 == 1 {
			x = 0x01
		}
		m := bytes.Clone(b)
		m[o] ^= x
		name := fmt.Sprintf("flip@%d^%#x", o, x)
		if o >= len(b)-8 {
			name += fmt.Sprintf("[end marker byte %d]", o-(len(b)-8))
		}
		add(name, where(b, fs, o), m)
	}
	// Field edits, the stream still well formed: a store path's or reference's hash character,
	// the flag to 0 (then the signature string is read as the next marker), a reference count.
	for _, f := range fs {
		switch {
		case strings.HasSuffix(f.name, ".path") || strings.Contains(f.name, ".ref"):
			m := bytes.Clone(b)
			c := f.start + len("/gnu/store/")
			m[c] = map[bool]byte{true: 'b', false: 'a'}[m[c] == 'a']
			add("edit-"+f.name, f.name, m)
		case strings.HasSuffix(f.name, ".flag"):
			m := bytes.Clone(b)
			m[f.start] = 0
			add("unsign-"+f.name, f.name, m)
		case strings.HasSuffix(f.name, ".nrefs"):
			m := bytes.Clone(b)
			m[f.start]++
			add("morerefs-"+f.name, f.name, m)
		}
	}
	// Truncations: at every field boundary, and the last byte.
	cuts := map[int]bool{len(b) - 1: true, len(b) - 8: true, 8: true}
	for _, f := range fs {
		cuts[f.start], cuts[f.end] = true, true
	}
	cutAt := make([]int, 0, len(cuts))
	for c := range cuts {
		cutAt = append(cutAt, c)
	}
	sort.Ints(cutAt)
	for _, c := range cutAt {
		if c > 0 && c < len(b) {
			add(fmt.Sprintf("cut@%d", c), "truncation", bytes.Clone(b[:c]))
		}
	}
	// Trailing bytes after the end marker.
	add("trailing", "trailing-data", append(bytes.Clone(b), le64(1)...))
	// Items as guix archive --export writes them alone, recombined: reordered, missing
	// references, duplicated.
	body := func(names ...string) []byte {
		var out []byte
		for _, n := range names {
			s := it.single[n]
			out = append(out, s[:len(s)-8]...)
		}
		return append(out, le64(0)...)
	}
	add("concat-in-order", "none", body(it.order...))
	add("reversed", "order", body("c", "b", "a", "tree", "src"))
	add("top-first", "order", body(append([]string{"c"}, it.order[:len(it.order)-1]...)...))
	add("top-only", "missing-reference", body("c"))
	add("b-without-src", "missing-reference", body("a", "b"))
	add("duplicate-a", "duplicate", body("a", "a"))
	add("empty", "empty", le64(0))
	// Signatures by another key (airlock guix sign with a key the sink does not authorize).
	rogue, err := guix.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var rs bytes.Buffer
	if err := guix.ResignExport(context.Background(), &rs, bytes.NewReader(b), rogue); err != nil {
		t.Fatal(err)
	}
	add("rogue-signed", "unauthorized-key", rs.Bytes())
	return ms
}

// sample keeps at most n mutants, every kind of case but spread over the byte flips and
// truncations, the bulk (AIRLOCK_GUIX_ORACLE_ALL=1 runs them all: about 230 cases, several
// minutes on a loaded machine).
func sample(ms []mutant, n int) []mutant {
	var bulk, out []mutant
	for _, m := range ms {
		if strings.HasPrefix(m.name, "flip@") || strings.HasPrefix(m.name, "cut@") {
			bulk = append(bulk, m)
		} else {
			out = append(out, m)
		}
	}
	if room := n - len(out); room > 0 && len(bulk) > 0 {
		step := max(1, (len(bulk)+room-1)/room)
		for i := 0; i < len(bulk); i += step {
			out = append(out, bulk[i])
		}
	}
	return out
}

// knownStricter lists what airlock refuses and guix-daemon 1.5.0 imports, keyed by the field
// a mutation hit (mutant.what, with the item number dropped); each entry is a row of the table
// in guix/FORMATS.md, which gives the reason.
var knownStricter = map[string]string{
	"trailing-data": "bytes after the end marker: the daemon stops reading at the 0 marker",
	"empty":         "a stream of no items: the daemon imports nothing and succeeds",
	"sig:signature": "the signature's top tag misspelt: the daemon ignores the tag name",
}

func stricterKey(what string) string {
	if i := strings.IndexByte(what, '.'); i > 0 && strings.HasPrefix(what, "item") {
		return what[i+1:]
	}
	return what
}

// testOracleDifferential feeds a real export and its mutations (byte flips over every field,
// field edits, truncations at every field boundary, trailing bytes, reordered, duplicated and
// partial closures, another key's signatures) to guix-daemon (`guix archive --import` into a
// store that authorizes the exporting key, emptied after each case) and to airlock with the same
// ACL. airlock must never accept what the daemon refuses; where it is stricter, the case must
// be one of the documented kinds (knownStricter, guix/FORMATS.md).
func testOracleDifferential(t *testing.T, it *realItems) {
	acl := it.parsedACL(t)
	ms := it.mutants(t)
	if os.Getenv("AIRLOCK_GUIX_ORACLE_ALL") == "" {
		ms = sample(ms, 60)
	}
	verdicts := it.daemonImport(t, ms)
	var stricter []string
	for _, m := range ms {
		rep := airlockVerify(t, acl, m.b)
		d, ok := verdicts[m.name]
		if !ok {
			t.Fatalf("%s: no verdict from the daemon", m.name)
		}
		daemonOK := d == "ACCEPT"
		switch {
		case rep.Accept && !daemonOK:
			t.Errorf("%s (%s): airlock ACCEPTS what guix-daemon refuses: %s", m.name, m.what, d)
		case !rep.Accept && daemonOK:
			why := string(rep.Stream)
			if ff := rep.FirstFailure(); ff != nil {
				why = fmt.Sprintf("item %d %s: %s", ff.Index, ff.Outcome, ff.Reason)
			}
			stricter = append(stricter, fmt.Sprintf("%s (%s): %s", m.name, m.what, why))
			key := stricterKey(m.what)
			if rep.Stream == guix.StreamTrailingData {
				key = "trailing-data" // whatever was hit: e.g. a 1 marker between items made 0
			}
			if _, ok := knownStricter[key]; !ok {
				t.Errorf("%s (%s): airlock rejects (%s), guix-daemon imports it; not a documented stricter case (guix/FORMATS.md)", m.name, m.what, why)
			}
		}
		if m.what == "none" && (!daemonOK || !rep.Accept) {
			t.Errorf("%s: daemon %s, airlock accept=%v", m.name, d, rep.Accept)
		}
	}
	t.Logf("%d cases; airlock stricter than guix-daemon in %d:\n%s", len(ms), len(stricter), strings.Join(stricter, "\n"))
}

// daemonImport runs guix archive --import's import-paths for every mutant in the sink store
// (testdata/oracle-import.scm) and returns name -> "ACCEPT" or "REFUSE<TAB>why".
func (it *realItems) daemonImport(t *testing.T, ms []mutant) map[string]string {
	t.Helper()
	host, in := it.sink.TempDir()
	scm, err := os.ReadFile("testdata/oracle-import.scm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "import.scm"), scm, 0o644); err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	byFile := map[string]string{}
	for i, m := range ms {
		name := fmt.Sprintf("case%04d.export", i)
		if err := os.WriteFile(filepath.Join(host, name), m.b, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&list, "%s/%s\n", in, name)
		byFile[in+"/"+name] = m.name
	}
	if err := os.WriteFile(filepath.Join(host, "list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Bounded by the number of cases: about 0.2 s each on an idle machine, 2 s on a loaded one.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(len(ms))*5*time.Second)
	defer cancel()
	out, err := it.sink.Run(ctx, nil, "repl", "--", in+"/import.scm", in+"/list")
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		file, v, _ := strings.Cut(line, "\t")
		verdicts[byFile[file]] = v
	}
	return verdicts
}
