package guix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// narB builds NAR byte streams token by token, so tests can write malformed ones.
type narB struct{ b []byte }

func (n *narB) u64(v uint64) *narB {
	n.b = binary.LittleEndian.AppendUint64(n.b, v)
	return n
}

func (n *narB) s(xs ...string) *narB {
	for _, x := range xs {
		n.u64(uint64(len(x)))
		n.b = append(n.b, x...)
		for len(n.b)%8 != 0 {
			n.b = append(n.b, 0)
		}
	}
	return n
}

func (n *narB) raw(b ...byte) *narB { n.b = append(n.b, b...); return n }

func nb() *narB { return (&narB{}).s("nix-archive-1") }

// file appends a regular-file node.
func (n *narB) file(contents string, exec bool) *narB {
	n.s("(", "type", "regular")
	if exec {
		n.s("executable", "")
	}
	return n.s("contents", contents, ")")
}

func (n *narB) entry(name string, node func(*narB)) *narB {
	n.s("entry", "(", "name", name, "node")
	node(n)
	return n.s(")")
}

func (n *narB) dir(entries ...func(*narB)) *narB {
	n.s("(", "type", "directory")
	for _, e := range entries {
		e(n)
	}
	return n.s(")")
}

func ent(name string, node func(*narB)) func(*narB) {
	return func(n *narB) { n.entry(name, node) }
}

func fileNode(c string) func(*narB) { return func(n *narB) { n.file(c, false) } }

func linkNode(target string) func(*narB) {
	return func(n *narB) { n.s("(", "type", "symlink", "target", target, ")") }
}

// nested returns a chain of depth directories ending in a file.
func nested(depth int) func(*narB) {
	return func(n *narB) {
		if depth == 0 {
			n.file("x", false)
			return
		}
		n.dir(ent("d", nested(depth-1)))
	}
}

func readAllNAR(b []byte) ([]NAREntry, error) { return walkNAR(NewNARReader(bytes.NewReader(b))) }

func TestNARValidEdgeCases(t *testing.T) {
	cases := map[string][]byte{
		"empty file":        nb().file("", false).b,
		"executable":        nb().file("#!/bin/sh\n", true).b,
		"8-byte file":       nb().file("12345678", false).b,
		"empty dir":         nb().dir().b,
		"symlink root":      nb().s("(", "type", "symlink", "target", "/gnu/store/x", ")").b,
		"depth 64":          nb().b,
		"255-byte name":     nb().dir(ent(strings.Repeat("n", 255), fileNode("a"))).b,
		"4095-byte target":  nb().dir(ent("l", linkNode(strings.Repeat("t", 4095)))).b,
		"byte-sorted names": nb().dir(ent("A", fileNode("")), ent("a", fileNode("")), ent("a b", fileNode("")), ent("a-b", fileNode("")), ent("é", fileNode(""))).b,
	}
	cases["depth 64"] = append(nb().b[:0:0], nb().b...)
	d := nb()
	nested(64)(d)
	cases["depth 64"] = d.b
	for name, b := range cases {
		ents, err := readAllNAR(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(ents) == 0 {
			t.Errorf("%s: no entries", name)
		}
	}
	ents, _ := readAllNAR(nb().dir(ent("bin", func(n *narB) { n.dir(ent("sh", func(n *narB) { n.file("abc", true) })) }), ent("l", linkNode("bin/sh"))).b)
	want := []NAREntry{{Path: "", Type: Directory}, {Path: "/bin", Type: Directory}, {Path: "/bin/sh", Type: Regular, Executable: true, Size: 3}, {Path: "/l", Type: Symlink, Target: "bin/sh"}}
	if len(ents) != len(want) {
		t.Fatalf("entries %+v", ents)
	}
	for i := range want {
		if ents[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, ents[i], want[i])
		}
	}
}

// TestNARRejects builds one NAR per strictness rule and requires the reader to refuse it with
// ErrMalformed and that rule named.
func TestNARRejects(t *testing.T) {
	badPad := nb().s("(", "type", "regular", "contents").u64(3).raw('a', 'b', 'c', 0, 0, 1, 0, 0).s(")").b
	badStrPad := nb().u64(1).raw('(', 0, 0, 0, 0, 0, 0, 9).b
	d65 := nb()
	nested(65)(d65)
	cases := []struct {
		name string
		b    []byte
		rule Rule
	}{
		{"bad magic", (&narB{}).s("nix-archive-2").file("", false).b, RuleMagic},
		{"long magic", (&narB{}).s("nix-archive-1-and-more").b, RuleMagic},
		{"no magic", (&narB{}).s("(", "type").b, RuleMagic},
		{"unknown tag", nb().s("(", "kind", "regular").b, RuleTag},
		{"unknown type", nb().s("(", "type", "fifo", ")").b, RuleType},
		{"long type", nb().s("(", "type", strings.Repeat("x", 100)).b, RuleType},
		{"executable after contents", nb().s("(", "type", "regular", "contents", "ab", "executable", "", ")").b, RuleTag},
		{"target tag in a file", nb().s("(", "type", "regular", "target", "x", ")").b, RuleTag},
		{"contents in a symlink", nb().s("(", "type", "symlink", "contents", "x", ")").b, RuleTag},
		{"non-empty executable", nb().s("(", "type", "regular", "executable", "1", "contents", "", ")").b, RuleExecutable},
		{"non-zero padding after contents", badPad, RulePadding},
		{"non-zero padding in a string", badStrPad, RulePadding},
		{"upper 32 bits of a length", nb().u64(1 << 32).b, RuleLength},
		{"empty name", nb().dir(ent("", fileNode(""))).b, RuleName},
		{"dot", nb().dir(ent(".", fileNode(""))).b, RuleName},
		{"dot dot", nb().dir(ent("..", fileNode(""))).b, RuleName},
		{"slash", nb().dir(ent("a/b", fileNode(""))).b, RuleName},
		{"NUL", nb().dir(ent("a\x00b", fileNode(""))).b, RuleName},
		{"256-byte name", nb().dir(ent(strings.Repeat("n", 256), fileNode(""))).b, RuleNameLength},
		{"unsorted", nb().dir(ent("b", fileNode("")), ent("a", fileNode(""))).b, RuleOrder},
		{"duplicate", nb().dir(ent("a", fileNode("")), ent("a", fileNode(""))).b, RuleOrder},
		{"byte order not locale order", nb().dir(ent("a", fileNode("")), ent("B", fileNode(""))).b, RuleOrder},
		{"empty target", nb().dir(ent("l", linkNode(""))).b, RuleTarget},
		{"NUL in target", nb().dir(ent("l", linkNode("a\x00"))).b, RuleTarget},
		{"4096-byte target", nb().dir(ent("l", linkNode(strings.Repeat("t", 4096)))).b, RuleTargetLength},
		{"depth 65", d65.b, RuleDepth},
		{"trailing bytes", append(nb().file("x", false).b, 0), RuleTrailing},
		{"trailing NAR", append(nb().file("x", false).b, nb().file("x", false).b...), RuleTrailing},
		{"entry without parens", nb().s("(", "type", "directory", "entry", "name", "a").b, RuleTag},
		{"junk in a directory", nb().s("(", "type", "directory", "file").b, RuleTag},
		{"node before name", nb().s("(", "type", "directory", "entry", "(", "node").b, RuleTag},
	}
	for _, c := range cases {
		_, err := readAllNAR(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want a FormatError wrapping ErrMalformed", c.name, err)
			continue
		}
		if fe.Rule != c.rule {
			t.Errorf("%s: rule %q (%v), want %q", c.name, fe.Rule, err, c.rule)
		}
		if !strings.Contains(err.Error(), string(c.rule)) || !strings.Contains(err.Error(), "offset") {
			t.Errorf("%s: message %q does not name the rule and offset", c.name, err)
		}
	}
}

func TestNARErrorNamesPathAndOffset(t *testing.T) {
	b := nb().dir(ent("doc", func(n *narB) { n.dir(ent("b", fileNode("")), ent("a", fileNode(""))) })).b
	_, err := readAllNAR(b)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatal(err)
	}
	if fe.Path != "/doc/a" || fe.Offset <= 0 || fe.Offset >= int64(len(b)) {
		t.Errorf("path %q offset %d: %v", fe.Path, fe.Offset, err)
	}
}

// TestNARTruncatedEverywhere cuts a real NAR at every length and requires a truncation error
// (io.ErrUnexpectedEOF) each time, never a success or another rule.
func TestNARTruncatedEverywhere(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "p4.nar"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n++ {
		_, err := readAllNAR(b[:n])
		var fe *FormatError
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &fe) || fe.Rule != RuleTruncated {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

// TestNARMutations flips every byte of a real NAR: the reader must never panic, and whenever it
// accepts, the result must be a NAR it can walk again identically.
func TestNARMutations(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.GuixVectors(t), "p3.nar"))
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range b {
		m := bytes.Clone(b)
		m[i] ^= 0xff
		if _, err := readAllNAR(m); err != nil {
			refused++
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("flip at %d: unexpected error kind %v", i, err)
			}
		}
	}
	// Flips inside file contents are legitimate NARs; everything structural must be refused.
	if refused < len(b)/3 {
		t.Errorf("only %d of %d single-byte flips refused", refused, len(b))
	}
}

func TestNARReadContents(t *testing.T) {
	content := strings.Repeat("0123456789", 100000) // 1 MB, larger than the buffer
	b := nb().dir(ent("big", fileNode(content)), ent("small", fileNode("abc"))).b
	nr := NewNARReader(bytes.NewReader(b))
	var got []string
	for {
		e, err := nr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == Regular {
			var buf bytes.Buffer
			// Small reads exercise the buffered path, io.Copy the direct one.
			p := make([]byte, 7)
			n, _ := nr.Read(p)
			buf.Write(p[:n])
			if _, err := io.Copy(&buf, nr); err != nil {
				t.Fatal(err)
			}
			got = append(got, buf.String())
		}
	}
	if len(got) != 2 || got[0] != content || got[1] != "abc" {
		t.Errorf("contents wrong: %d files", len(got))
	}
	// Skipping contents (Next without Read) gives the same entries.
	ents, err := walkNAR(NewNARReader(bytes.NewReader(b)))
	if err != nil || len(ents) != 3 || ents[1].Size != int64(len(content)) {
		t.Errorf("walk: %v %+v", err, ents)
	}
}

func TestEmbeddedNARReader(t *testing.T) {
	nar := nb().dir(ent("a", fileNode("hello")), ent("b", linkNode("a"))).b
	tail := []byte("after the NAR")
	nr := NewEmbeddedNARReader(io.MultiReader(bytes.NewReader(nar), bytes.NewReader(tail)))
	ents, err := walkNAR(nr)
	if err != nil || len(ents) != 3 {
		t.Fatalf("%v %+v", err, ents)
	}
	rest, err := io.ReadAll(nr.Rest())
	if err != nil || !bytes.Equal(rest, tail) {
		t.Errorf("Rest: %q %v", rest, err)
	}
	// The standalone reader refuses the same bytes.
	if _, err := readAllNAR(append(bytes.Clone(nar), tail...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("standalone: %v", err)
	}
}
