package difftest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/scanner"
)

// testCase is one file to scan and extract.
type testCase struct {
	class string // the generator (or corpus class) that made it: what knownDivergences matches
	name  string // file name as it lies on the stick; tools such as 7z look at the suffix
	data  []byte
}

// Divergence kinds.
const (
	// kindUnscanned: a tool yields a member whose bytes airlock scanned nowhere.
	kindUnscanned = "unscanned-member"
	// kindUnwalked: airlock calls a file clean without walking it; a tool opens it as an archive.
	kindUnwalked = "unwalked-archive"
	// kindInfected: a tool yields EICAR from a file airlock calls clean.
	kindInfected = "infected-approved"
)

// divergence is one disagreement between airlock and a tool.
type divergence struct {
	c      *testCase
	kind   string
	tool   string // the tool that yielded the member (the last of chain)
	chain  string // how the member was reached: "7z:a.tar>gnutar:x"
	member string // the member's name as the tool wrote it ("" for kindUnwalked)
	detail string
}

func (d divergence) String() string {
	return fmt.Sprintf("%s [%s] %s: %s via %s: %s", d.c.name, d.c.class, d.kind, d.tool, d.chain, d.detail)
}

// known is an entry of knownDivergences: one class of divergence, as narrow as it can be told.
type known struct {
	issue int
	// classes are the generators (or corpus classes) whose cases show it (see hasClass).
	classes []string
	tools   []string // the tools whose view airlock misses; a divergence by another fails
	kinds   []string // the divergence kinds seen (kindUnscanned, kindUnwalked, kindInfected)
	member  string   // if set, a regular expression the member's name must match
	why     string
}

// note is something the harness reports without failing: a name that differs for the same
// bytes, or a file airlock refuses that a tool extracts without complaint.
type note struct{ kind, text string }

// checker holds the scanner and the bounds of one test.
type checker struct {
	s     *scanner.Scanner
	dir   string
	tools []extractor
	// overRefusals: extract files airlock calls unscannable too, and note those that a tool
	// extracts without complaint (the issue's other side: refusals a site pays for).
	overRefusals bool
}

// maxFollow is how many levels of tool output the harness follows down (a .deb's data.tar.gz's
// tar, say).
const maxFollow = 3

func newChecker(t testing.TB) *checker {
	t.Helper()
	needTools(t)
	rules, err := scanner.CompileFiles(filepath.Join(testenv.RepoRoot(), "scanner", "rules", "airlock.yar"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rules.Destroy)
	dir := t.TempDir()
	s := scanner.New(rules, scanner.Options{Workers: 1, MemoryBudget: 4 << 20, TempDir: dir,
		Limits: scanner.Limits{MaxExpanded: 256 << 20, MaxEntries: 10000}})
	return &checker{s: s, dir: dir, tools: extractors}
}

// view is airlock's result for one case, indexed by content.
type view struct {
	res   scanner.Result
	files []scanner.File // the top-level file first, then every inner file
	bySum map[string][]int
}

func newView(res scanner.Result) *view {
	v := &view{res: res, files: append([]scanner.File{res.File}, res.Inner...), bySum: map[string][]int{}}
	for i, f := range v.files {
		if f.SHA256 != "" {
			v.bySum[f.SHA256] = append(v.bySum[f.SHA256], i)
		}
	}
	return v
}

// refused reports whether the file at index i, or anything inside it, is not clean: the import
// refuses the top-level file then, so nothing a tool gets out of it reaches the high side.
func (v *view) refused(i int) bool {
	f := v.files[i]
	if f.Verdict != scanner.Clean {
		return true
	}
	if i == 0 {
		return v.res.Worst() != scanner.Clean
	}
	for _, g := range v.files[1:] {
		if strings.HasPrefix(g.Path, f.Path+"!") && g.Verdict != scanner.Clean {
			return true
		}
	}
	return false
}

// innerName is the member name airlock gives file i, as a tool would write it.
func (v *view) innerName(i int) string {
	p := v.files[i].Path
	p = p[strings.LastIndex(p, "!")+1:]
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// result is everything one case produced.
type result struct {
	divs    []divergence
	notes   []note
	checked bool // the tools ran on it (airlock did not refuse it outright)
}

// check scans c with airlock and extracts it with every tool, following members down.
func (k *checker) check(ctx context.Context, c *testCase) (result, error) {
	res, err := k.s.ScanReader(ctx, c.name, bytes.NewReader(c.data), int64(len(c.data)))
	if err != nil {
		return result{}, err
	}
	v := newView(res)
	if w := res.Worst(); w != scanner.Clean && !(w == scanner.Unscannable && k.overRefusals) {
		// Refused: whatever a tool gets out of it never reaches the high side. (With
		// overRefusals an unscannable file is still extracted, to note what the tools accept.)
		return result{}, nil
	}
	dir, err := os.MkdirTemp(k.dir, "case-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	w := &walker{k: k, c: c, v: v, dir: dir, seen: map[string]bool{}}
	if err := os.WriteFile(filepath.Join(dir, c.name), c.data, 0o600); err != nil {
		return result{}, err
	}
	w.out.checked = true
	w.follow(ctx, filepath.Join(dir, c.name), res.SHA256, 0, "", 0, true)
	return w.out, nil
}

// walker follows one case's members down through the tools.
type walker struct {
	k    *checker
	c    *testCase
	v    *view
	dir  string
	seen map[string]bool // members already followed ("sha256@container"): whether a tool opened them
	out  result
}

// follow extracts the file at p with every tool. container is the index in the view of the
// airlock file whose walk must account for what comes out (the top-level file, or the member p
// was matched to); top is set for the case file itself.
func (w *walker) follow(ctx context.Context, p, selfSum string, container int, chain string, depth int, top bool) (opened []string) {
	refused := w.v.refused(container)
	walked := w.v.files[container].Format != ""
	for _, e := range w.k.tools {
		ex := extract(ctx, e, p, w.dir)
		got := ex.members
		if len(got) == 0 {
			continue
		}
		if len(got) == 1 && got[0].sum == selfSum {
			continue // a tool that copies its input (7z on a file it takes as raw data)
		}
		opened = append(opened, e.name)
		link := e.name
		if chain != "" {
			link = chain + ">" + e.name
		}
		if top && w.v.res.Worst() == scanner.Unscannable && ex.err == nil {
			w.note("over-refusal", fmt.Sprintf("%s: airlock: %s; %s extracts %d members and exits 0", w.c.name, reasons(w.v), e.name, len(got)))
		}
		if !walked && !refused {
			w.diverge(kindUnwalked, e.name, link, "", fmt.Sprintf("airlock calls %s clean without walking it; %s extracts %d members (%s)",
				w.v.files[container].Path, e.name, len(got), exitStatus(ex.err)))
		}
		for _, m := range got {
			w.member(ctx, e, m, container, refused, link+":"+m.name, depth)
		}
	}
	return opened
}

// member judges one member a tool produced.
func (w *walker) member(ctx context.Context, e extractor, m member, container int, refused bool, chain string, depth int) {
	if refused {
		return
	}
	if bytes.Contains(m.data, eicarTail()) && w.v.res.Worst() == scanner.Clean {
		w.diverge(kindInfected, e.name, chain, m.name, fmt.Sprintf("member %q (%d bytes, sha256 %.16s) holds the EICAR test string; airlock calls %s clean",
			m.name, m.size, m.sum, w.c.name))
	}
	idx, ok := w.v.bySum[m.sum]
	if ok {
		if !e.stdout {
			w.checkName(e, m, idx)
		}
		// Followed down too: a member airlock walked may hold more than airlock saw in it,
		// and one it did not walk may be an archive a tool opens.
		w.descend(ctx, m, idx[0], chain, depth)
		return
	}
	// Not scanned as such: if it is an archive (a decompressed tar, a .deb's data.tar.gz),
	// its own members must be in airlock's view; otherwise its bytes were never scanned.
	if w.descend(ctx, m, container, chain, depth) {
		return
	}
	w.diverge(kindUnscanned, e.name, chain, m.name, fmt.Sprintf("member %q (%d bytes, sha256 %.16s): airlock scanned these bytes nowhere (%d files in its result)",
		m.name, m.size, m.sum, len(w.v.files)))
}

// descend follows m down if it could be an archive, reporting whether some tool opened it.
func (w *walker) descend(ctx context.Context, m member, container int, chain string, depth int) bool {
	if depth+1 > maxFollow || m.data == nil || !mayBeArchive(m.data) {
		return false
	}
	key := fmt.Sprintf("%s@%d", m.sum, container)
	if opened, ok := w.seen[key]; ok {
		return opened // the same bytes from another tool: judged once
	}
	w.seen[key] = false
	p := filepath.Join(w.dir, fmt.Sprintf("m%d-%s", len(w.seen), path.Base(m.name)))
	if err := os.WriteFile(p, m.data, 0o600); err != nil {
		return false
	}
	defer os.Remove(p)
	opened := len(w.follow(ctx, p, m.sum, container, chain, depth+1, false)) > 0
	w.seen[key] = opened
	return opened
}

// checkName notes a member whose bytes airlock scanned under other names only.
func (w *walker) checkName(e extractor, m member, idx []int) {
	for i, f := range w.v.files {
		if f.Type == scanner.TypeHardlink && w.v.innerName(i) == m.name {
			return // a hard link to bytes airlock scanned under the link's target name
		}
	}
	names := []string{}
	for _, i := range idx {
		n := w.v.innerName(i)
		if n == m.name || i == 0 {
			return
		}
		names = append(names, n)
	}
	// 7z and GNU tar turn some names into others on disk (invalid UTF-8, "..", absolute paths).
	w.note("name", fmt.Sprintf("%s [%s]: %s writes %q, airlock names these bytes %q", w.c.name, w.c.class, e.name, m.name, names))
}

func (w *walker) diverge(kind, tool, chain, member, detail string) {
	w.out.divs = append(w.out.divs, divergence{c: w.c, kind: kind, tool: tool, chain: chain, member: member, detail: detail})
}

func (w *walker) note(kind, text string) { w.out.notes = append(w.out.notes, note{kind, text}) }

func reasons(v *view) string {
	p := v.res.Problems()
	if len(p) > 2 {
		p = append(p[:2], "...")
	}
	return strings.Join(p, "; ")
}

// isKnown returns the name and entry of the knownDivergences class d belongs to.
func isKnown(d divergence) (string, known, bool) {
	names := make([]string, 0, len(knownDivergences))
	for n := range knownDivergences {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kn := knownDivergences[n]
		if kn.matches(d) {
			return n, kn, true
		}
	}
	return "", known{}, false
}

func (kn known) matches(d divergence) bool {
	if !contains(kn.tools, d.tool) || !contains(kn.kinds, d.kind) {
		return false
	}
	if kn.member != "" && !regexp.MustCompile(kn.member).MatchString(d.member) {
		return false
	}
	return kn.hasClass(d.c.class)
}

// hasClass reports whether class is one of kn's: a pattern is a class name, or a prefix
// followed by "*" ("ar-*" is every ar generator and its variants, "zip-store/*" every mutation of
// zip-store).
func (kn known) hasClass(class string) bool {
	for _, pat := range kn.classes {
		if pre, ok := strings.CutSuffix(pat, "*"); ok && strings.HasPrefix(class, pre) || pat == class {
			return true
		}
	}
	return false
}

// covers reports whether some case is of a class kn names.
func (kn known) covers(cases []*testCase) bool {
	for _, c := range cases {
		if kn.hasClass(c.class) {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// run checks every case on par workers and reports: known divergences and notes with t.Log,
// every other divergence with t.Error, then the summary line. It also logs as STALE the
// knownDivergences entries that no case of their classes showed, counting only the cases the
// tools ran on; an entry limited to member names is judged only on the full generated set.
func run(t *testing.T, k *checker, cases []*testCase, par int, full bool) {
	t.Helper()
	var (
		mu      sync.Mutex
		results = make([]result, len(cases))
		wg      sync.WaitGroup
		next    = make(chan int)
	)
	ctx := context.Background()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := k.check(ctx, cases[i])
				if err != nil {
					mu.Lock()
					t.Errorf("%s: %v", cases[i].name, err)
					mu.Unlock()
				}
				results[i] = r
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	var nDiv, nKnown, nNames, nOver int
	hit := map[string]bool{}
	for _, r := range results {
		for _, d := range dedupe(r.divs) {
			nDiv++
			if name, kn, ok := isKnown(d); ok {
				nKnown++
				hit[name] = true
				t.Logf("KNOWN %s (issue %d: %s): %s", name, kn.issue, kn.why, d)
				continue
			}
			t.Errorf("DIVERGENCE: %s", d)
		}
		for _, n := range r.notes {
			switch n.kind {
			case "name":
				nNames++
			case "over-refusal":
				nOver++
			}
			t.Logf("NOTE %s: %s", n.kind, n.text)
		}
	}
	var checked []*testCase
	for i, r := range results {
		if r.checked {
			checked = append(checked, cases[i])
		}
	}
	var stale []string
	for name, kn := range knownDivergences {
		if !hit[name] && (full || kn.member == "") && kn.covers(checked) {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Logf("STALE: known divergence %q did not occur in these cases: delete its knownDivergences entry once the scanner's fix merged", name)
	}
	t.Logf("difftest: %d cases, %d tools, %d divergences (%d known); %d name mismatches, %d over-refusals",
		len(cases), len(k.tools), nDiv, nKnown, nNames, nOver)
}

// dedupe folds the divergences of one case by (kind, tool): one finding per tool, with the
// first member as its example and the count of the others.
func dedupe(ds []divergence) []divergence {
	idx := map[string]int{}
	count := map[string]int{}
	var out []divergence
	for _, d := range ds {
		key := d.kind + "\x00" + d.tool
		count[key]++
		if _, ok := idx[key]; !ok {
			idx[key] = len(out)
			out = append(out, d)
		}
	}
	for key, i := range idx {
		if n := count[key]; n > 1 {
			out[i].detail += fmt.Sprintf(" (and %d more)", n-1)
		}
	}
	return out
}
