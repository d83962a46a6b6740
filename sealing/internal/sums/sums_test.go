package sums

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

var oddNames = []string{"a b", "back\\slash", "nl\nx", "cr\rx", "ü.txt", "dir/sub file", "\\\\lead"}

// TestMatchesGNU compares Format with what GNU sha256sum writes for the same files, and Parse
// with what it reads.
func TestMatchesGNU(t *testing.T) {
	testenv.Need(t, "sha256sum")
	dir := t.TempDir()
	var es []Entry
	for i, n := range oddNames {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte(strings.Repeat("x", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		es = append(es, Entry{Name: n, Sum: sha256.Sum256(data)})
	}
	ours, err := Format(es)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(ours)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != len(es) {
		t.Fatalf("parsed %d entries", len(parsed))
	}
	var gnu []byte
	for _, e := range parsed { // sorted order
		cmd := exec.Command("sha256sum", "--", e.Name)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		gnu = append(gnu, out...)
	}
	if !bytes.Equal(gnu, ours) {
		t.Fatalf("sha256sum wrote\n%q\nwe wrote\n%q", gnu, ours)
	}
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), ours, 0o644)
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
}

func TestParseRejects(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for name, in := range map[string]string{
		"no newline":    h + "  a",
		"unsorted":      h + "  b\n" + h + "  a\n",
		"duplicate":     h + "  a\n" + h + "  a\n",
		"upper hex":     strings.ToUpper(h) + "  a\n",
		"one space":     h + " a\n",
		"bad escape":    "\\" + h + "  a\\x\n",
		"raw backslash": h + "  a\\b\n",
		"empty line":    h + "  a\n\n",
		"empty":         "",
		"crlf":          h + "  a\r\n",
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var le *LineError
	if _, err := Parse([]byte(h + "  a\n" + h + "  c\nxx  b\n")); !errors.As(err, &le) || le.Line != 3 {
		t.Errorf("line number: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := Format([]Entry{{Name: "a b"}, {Name: "nl\nx"}, {Name: "ü"}})
	f.Add(b)
	f.Add([]byte(strings.Repeat("0", 64) + " *x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Parse(b)
		if err != nil {
			return
		}
		out, err := Format(es)
		if err != nil {
			t.Fatalf("Format of parsed entries: %v", err)
		}
		es2, err := Parse(out)
		if err != nil || len(es2) != len(es) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
