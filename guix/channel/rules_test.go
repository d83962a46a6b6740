package channel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix/channel/internal/git"
)

func TestReadAuthorizations(t *testing.T) {
	good := map[string]string{
		"(authorizations (version 0) ((\"AB CD\" (name \"x\")) (\"ef01\")))":                           "abcd ef01",
		";; comment\n(authorizations\n (version 0) ; here\n ((\"ABCD\" #;(ignored) (name \"x\"))))":    "abcd",
		"#| block #| nested |# |#(authorizations [version 0] ((\"AB\\nCD\")) (extra stuff)) trailing)": "abcd",
		"(authorizations (version 00) ())":                                                             "",
	}
	for in, want := range good {
		keys, err := ReadAuthorizations([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var got []string
		for _, k := range keys {
			got = append(got, hex.EncodeToString(k))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
	for _, in := range []string{
		"", "(authorizations (version 1) ())", "(authorizations (version 0))", "(authorisations (version 0) ())",
		"(authorizations (version 0) ((\"xyz\")))", "(authorizations (version 0) ((abcd)))", "(authorizations (version 0) (\"ab\"",
		"(authorizations (version 0.0) ())", strings.Repeat("(", 100),
	} {
		if _, err := ReadAuthorizations([]byte(in)); !errors.Is(err, ErrAuthorizations) {
			t.Errorf("%q accepted or wrong error: %v", in, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, n := range []string{".git", ".GIT", ".Git.", ".git ", "git~1", "GIT~1", ".g\u200cit", ".git::$INDEX_ALLOCATION", "..", ".", "", "a/b", "x\\..\\y", ".git\\hooks"} {
		if checkName(git.TreeEntry{Name: n, Mode: git.ModeBlob}) == nil {
			t.Errorf("%q accepted", n)
		}
	}
	if checkName(git.TreeEntry{Name: ".gitmodules", Mode: git.ModeSymlink}) == nil {
		t.Error(".gitmodules symlink accepted")
	}
	for _, n := range []string{".gitignore", "git", ".github", "gnu", ".guix-authorizations", "git~5"} {
		if err := checkName(git.TreeEntry{Name: n, Mode: git.ModeBlob}); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
}

func TestBundleHeaderRefusals(t *testing.T) {
	ref := "0123456789012345678901234567890123456789 refs/heads/main\n\n"
	for in, frag := range map[string]string{
		"# v3 git bundle\n@object-format=sha256\n" + ref: "object-format",
		"# v3 git bundle\n@filter=blob:none\n" + ref:     "filter",
		"# v3 git bundle\n@frobnicate\n" + ref:           "unknown capability",
		"# v2 git bundle\n@object-format=sha1\n" + ref:   "capability",
		"# v4 git bundle\n" + ref:                        "not a git bundle",
		"# v2 git bundle\n\n":                            "no refs",
		"# v2 git bundle\n" + ref[:20]:                   "truncated",
	} {
		_, err := git.ParseBundleHeader(strings.NewReader(in), git.Limits{})
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("%q: %v, want %q", in, err, frag)
		}
	}
	h, err := git.ParseBundleHeader(strings.NewReader("# v3 git bundle\n@object-format=sha1\n-0123456789012345678901234567890123456789 c\n"+ref), git.Limits{})
	if err != nil || len(h.Prerequisites) != 1 || h.Refs[0].Name != "refs/heads/main" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := OpenBundle("x", bytes.NewReader([]byte("# v3 git bundle\n-0123456789012345678901234567890123456789\n"+ref)), 200, Policy{}); err == nil || !strings.Contains(err.Error(), "prerequisite") {
		t.Errorf("prerequisite: %v", err)
	}
}
