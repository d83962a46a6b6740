package difftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// seed fixes the generated set of the default run: the same cases every time.
const seed = 20261203

// TestDifferential checks a fixed, seeded set of generated cases against every stock tool:
// archives made by the tools with odd options (clean and with an EICAR member), the hostile
// generators with EICAR as the payload (TestHostileCorpus has their benign forms) and seeded
// mutations of the clean tool-made archives.
func TestDifferential(t *testing.T) {
	k := newChecker(t)
	cases := toolCases(t, seed)
	cases = append(cases, mutatedCases(cases, seed)...)
	cases = append(cases, hostileCases(t)...)
	run(t, k, cases, 3, true)
}

const hostileDir = "testdata/hostile"

// corpusCases reads the committed hostile corpus; a file's class is its generator's.
func corpusCases(t testing.TB) []*testCase {
	t.Helper()
	byName := map[string]string{}
	for _, g := range hostileGens {
		byName[g.class+g.ext] = g.class
	}
	ents, err := os.ReadDir(hostileDir)
	must(t, err)
	var out []*testCase
	for _, e := range ents {
		if e.Name() == "README.md" {
			continue
		}
		class, ok := byName[e.Name()]
		if !ok {
			t.Fatalf("%s/%s: no hostile generator makes it", hostileDir, e.Name())
		}
		b, err := os.ReadFile(filepath.Join(hostileDir, e.Name()))
		must(t, err)
		out = append(out, &testCase{class: class, name: e.Name(), data: b})
	}
	return out
}

// TestHostileCorpus checks the committed corpus: one small file per hostile class, every one
// in the README's table, and each checked against the tools (the seeds of FuzzDifferential
// are the same files; this test names them by class).
func TestHostileCorpus(t *testing.T) {
	cases := corpusCases(t)
	readme, err := os.ReadFile(filepath.Join(hostileDir, "README.md"))
	must(t, err)
	have := map[string]bool{}
	for _, c := range cases {
		have[c.class] = true
		if len(c.data) > 8<<10 {
			t.Errorf("%s: %d bytes; corpus files stay under 8 KiB", c.name, len(c.data))
		}
		if !strings.Contains(string(readme), "| "+c.name+" |") {
			t.Errorf("%s is not in %s/README.md (AIRLOCK_DIFFTEST_WRITE=1 go test -run TestWriteHostileCorpus rewrites it)", c.name, hostileDir)
		}
	}
	for _, g := range hostileGens {
		if !have[g.class] {
			t.Errorf("class %s has no file in %s", g.class, hostileDir)
		}
	}
	k := newChecker(t)
	k.overRefusals = true
	run(t, k, cases, 2, false)
}

// TestWriteHostileCorpus regenerates testdata/hostile and its README (with what each tool
// extracts from each file) when AIRLOCK_DIFFTEST_WRITE=1.
func TestWriteHostileCorpus(t *testing.T) {
	if os.Getenv("AIRLOCK_DIFFTEST_WRITE") != "1" {
		t.Skip("set AIRLOCK_DIFFTEST_WRITE=1 to regenerate testdata/hostile")
	}
	needTools(t)
	must(t, os.MkdirAll(hostileDir, 0o755))
	var rows []string
	for _, g := range hostileGens {
		name := g.class + g.ext
		data := g.gen(t, benign(g.class))
		p := filepath.Join(hostileDir, name)
		must(t, os.WriteFile(p, data, 0o644))
		abs, err := filepath.Abs(p)
		must(t, err)
		var got []string
		for _, e := range extractors {
			ex := extract(context.Background(), e, abs, t.TempDir())
			var names []string
			for _, m := range ex.members {
				q := strconv.Quote(m.name)
				names = append(names, "`"+strings.ReplaceAll(q[1:len(q)-1], "|", `\|`)+"`")
			}
			if len(names) > 0 {
				sort.Strings(names)
				got = append(got, fmt.Sprintf("%s: %s", e.name, strings.Join(names, " ")))
			}
		}
		if len(got) == 0 {
			got = []string{"nothing"}
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %d | %s | %s |", name, g.class, len(data), g.why, strings.Join(got, "; ")))
	}
	readme := `# Hostile corpus (issue 13)

One small file per class of hostile archive that issue 13 lists, made by the generators in
` + "`hostile_test.go`" + ` with a harmless payload (the default test run builds the same generators again
with EICAR). TestHostileCorpus and the seeds of FuzzDifferential check every file against the
stock tools; knownDivergences in ` + "`known_test.go`" + ` lists the classes airlock misses today.

Regenerate (files and this table) with
` + "`AIRLOCK_DIFFTEST_WRITE=1 go test -run TestWriteHostileCorpus ./scanner/difftest/`" + `.
The last column is what each tool left on disk (non-empty regular files), extraction status ignored.

| file | class | bytes | what it is | what each tool extracts |
|---|---|---|---|---|
` + strings.Join(rows, "\n") + "\n"
	must(t, os.WriteFile(filepath.Join(hostileDir, "README.md"), []byte(readme), 0o644))
}

// FuzzDifferential mutates the hostile corpus (and whatever testdata/fuzz holds) with the tools
// as the oracle. An input that is exactly a corpus file keeps that file's class, so its known
// divergences stay known; anything the fuzzer makes gets its class from its structure
// (fuzzClass), and one of no known structure is class "fuzz", where every divergence fails.
func FuzzDifferential(f *testing.F) {
	k := newChecker(f)
	classOf := map[string]string{}
	for _, c := range corpusCases(f) {
		f.Add(c.data)
		classOf[sum(c.data)] = c.class
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		c := &testCase{class: fuzzClass(data), name: "fuzz.bin", data: data}
		if cl, ok := classOf[sum(data)]; ok {
			if !fuzzing() {
				return // TestHostileCorpus checks the corpus in the default run
			}
			c.class = cl
		}
		r, err := k.check(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dedupe(r.divs) {
			if name, kn, ok := isKnown(d); ok {
				t.Logf("KNOWN %s (issue %d: %s): %s", name, kn.issue, kn.why, d)
				continue
			}
			t.Errorf("DIVERGENCE: %s", d)
		}
	})
}

// fuzzing reports whether the test binary runs with -fuzz (rather than only the seeds).
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
