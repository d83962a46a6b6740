package difftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/scanner"
)

// TestOracle checks the judging itself, independent of what today's scanner does: a plain tar
// is followed through the real tools against views of it made by hand. A view that lacks the
// member's bytes must give a divergence (by each tar reader), one that has them none, one that
// refuses the file none, and an unwalked clean view an unwalked-archive divergence.
func TestOracle(t *testing.T) {
	k := newChecker(t)
	member := []byte("the member's bytes, which the view must account for\n")
	tarball := mkTar(t, "dir/m.txt", member)
	sumOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	top := scanner.File{Path: "t.tar", Size: int64(len(tarball)), SHA256: sumOf(tarball), Verdict: scanner.Clean, Format: scanner.FormatTar}
	inner := scanner.File{Path: "t.tar!dir/m.txt", Size: int64(len(member)), SHA256: sumOf(member), Verdict: scanner.Clean, Depth: 1}
	judge := func(res scanner.Result) result {
		t.Helper()
		dir := t.TempDir()
		p := filepath.Join(dir, "t.tar")
		must(t, os.WriteFile(p, tarball, 0o600))
		w := &walker{k: k, c: &testCase{class: "oracle", name: "t.tar", data: tarball}, v: newView(res), dir: dir, seen: map[string]bool{}}
		w.follow(context.Background(), p, res.SHA256, 0, "", 0, true)
		return w.out
	}
	kinds := func(r result) map[string][]string {
		m := map[string][]string{}
		for _, d := range r.divs {
			m[d.kind] = append(m[d.kind], d.tool)
		}
		return m
	}

	missing := kinds(judge(scanner.Result{File: top}))
	for _, tool := range []string{"gnutar", "bsdtar", "7z"} {
		if !contains(missing[kindUnscanned], tool) {
			t.Errorf("view without the member: no %s divergence from %s (got %v)", kindUnscanned, tool, missing)
		}
	}
	if got := judge(scanner.Result{File: top, Inner: []scanner.File{inner}}); len(got.divs) != 0 {
		t.Errorf("view with the member: divergences %v", got.divs)
	}
	renamed := inner
	renamed.Path = "t.tar!other.txt"
	if r := judge(scanner.Result{File: top, Inner: []scanner.File{renamed}}); len(r.divs) != 0 || len(r.notes) == 0 {
		t.Errorf("view with the bytes under another name: divergences %v, notes %v (want none, and a name note)", r.divs, r.notes)
	}
	refused := top
	refused.Verdict, refused.Reason = scanner.Unscannable, "oracle: refused"
	if r := judge(scanner.Result{File: refused}); len(r.divs) != 0 {
		t.Errorf("refused view: divergences %v", r.divs)
	}
	unwalked := top
	unwalked.Format = ""
	if u := kinds(judge(scanner.Result{File: unwalked})); !contains(u[kindUnwalked], "gnutar") {
		t.Errorf("clean unwalked view: no %s divergence from gnutar (got %v)", kindUnwalked, u)
	}

	// EICAR in a member of a file the view calls clean, its bytes listed: still a divergence.
	member = append(eicar(), '\n')
	tarball = mkTar(t, "dir/m.txt", member)
	top.SHA256, top.Size = sumOf(tarball), int64(len(tarball))
	inner.SHA256, inner.Size = sumOf(member), int64(len(member))
	if i := kinds(judge(scanner.Result{File: top, Inner: []scanner.File{inner}})); !contains(i[kindInfected], "gnutar") {
		t.Errorf("EICAR member in a clean view: no %s divergence from gnutar (got %v)", kindInfected, i)
	}
}
