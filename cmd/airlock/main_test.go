package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"bytes"
	"context"
	"flag"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"io"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return out.String(), errb.String(), code
}

func TestHelpListsEveryCommand(t *testing.T) {
	out, _, code := runCLI(t, "--help")
	if code != exitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, name := range []string{"keygen", "allow", "guix", "scan", "ls", "wipe", "iso", "seal", "burn",
		"verify", "log", "devices", "run", "version", "drive"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("--help does not list %q:\n%s", name, out)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		out, errOut, code := runCLI(t, c.name, "--help")
		if code != exitOK || !strings.HasPrefix(out, "Usage: airlock "+c.name) {
			t.Errorf("airlock %s --help: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	if _, errOut, code := runCLI(t, "frobnicate"); code != exitError || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "version", "--no-such-flag"); code != exitError || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut)
	}
	if _, _, code := runCLI(t); code != exitError {
		t.Errorf("no command: exit %d, want %d", code, exitError)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "version")
	if code != exitOK || !strings.Contains(out, "go go1.") || !strings.Contains(out, "libyara ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

// TestFlagsAfterPositionals: flags may stand anywhere among the positional arguments; "--" ends
// them and "-" is a positional; a group with no flags of its own keeps its arguments in order.
func TestFlagsAfterPositionals(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		pub, pos  string
		jsonFlag  bool
		wantError bool
	}{
		{args: []string{"DISC", "--pub", "K"}, pub: "K", pos: "DISC"},
		{args: []string{"--pub", "K", "DISC"}, pub: "K", pos: "DISC"},
		{args: []string{"A", "--json", "B", "--pub=K", "-"}, pub: "K", pos: "A B -", jsonFlag: true},
		{args: []string{"A", "--", "--pub", "K"}, pos: "A --pub K"},
		{args: []string{"A", "--nope"}, wantError: true},
	} {
		fs := flag.NewFlagSet("verify", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		pub := fs.String("pub", "", "")
		js := fs.Bool("json", false, "")
		err := parseInterspersed(fs, tc.args)
		if (err != nil) != tc.wantError {
			t.Errorf("%q: error %v", tc.args, err)
			continue
		}
		if err == nil && (*pub != tc.pub || *js != tc.jsonFlag || strings.Join(fs.Args(), " ") != tc.pos) {
			t.Errorf("%q: --pub %q --json %v args %q; want %q %v %q", tc.args, *pub, *js, fs.Args(), tc.pub, tc.jsonFlag, tc.pos)
		}
	}
	group := flag.NewFlagSet("guix", flag.ContinueOnError)
	if err := parseInterspersed(group, []string{"hash", "-f", "hex", "P"}); err != nil || strings.Join(group.Args(), " ") != "hash -f hex P" {
		t.Errorf("group: %v %q", err, group.Args())
	}
}

// TestErrorsNameFlagAndFile: setup errors name the flag and the file as typed; an unknown log
// subcommand lists the known ones; --version and -V print the version.
func TestErrorsNameFlagAndFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", dir, "--pub", "/nonexist"}, exitError, "airlock verify: --pub /nonexist: no such file or directory\n"},
		{[]string{"log", "frob"}, exitError, "airlock log: unknown log subcommand \"frob\" (append, verify, show, prove, cosign, init)\n"},
	} {
		_, stderr, code := runCLI(t, tc.args...)
		if code != tc.code || stderr != tc.want {
			t.Errorf("airlock %q: exit %d, stderr %q; want %d, %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	for _, v := range []string{"--version", "-V"} {
		out, _, code := runCLI(t, v)
		if code != exitOK || !strings.HasPrefix(out, "airlock ") || !strings.Contains(out, "libyara") {
			t.Errorf("airlock %s: exit %d, %q", v, code, out)
		}
	}
}

// TestREADMEListsEveryCommand: README's command list names every command and subcommand that
// --help lists, so the two cannot drift apart.
func TestREADMEListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Command line")
	if i < 0 {
		t.Fatal("README has no Command line section")
	}
	list := readme[i:]
	if j := strings.Index(list[3:], "\n## "); j >= 0 {
		list = list[:j+3]
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	for _, c := range append(guixSubcommands(), logSubcommands()...) {
		names = append(names, c.name)
	}
	logLine := ""
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "airlock log ") {
			logLine = l
		}
	}
	for _, n := range names {
		if sub, ok := strings.CutPrefix(n, "log "); ok { // one line: airlock log append|verify|...
			if !strings.Contains(logLine, sub) {
				t.Errorf("README's airlock log line lacks %s: %q", sub, logLine)
			}
			continue
		}
		if !strings.Contains(list, "airlock "+n) {
			t.Errorf("README's command list lacks `airlock %s`", n)
		}
	}
}

// TestJSONConvention: every --json output is JSON Lines (one compact object per line, no
// top-level array), as jsonout.go documents.
func TestJSONConvention(t *testing.T) {
	for _, args := range [][]string{{"devices", "--json"}} {
		out, errOut, code := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
		checkJSONLines(t, args, out)
	}
}

// checkJSONLines fails unless out is JSON Lines of objects.
func checkJSONLines(t *testing.T, what any, out string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("%v: line %q is not a JSON object: %v", what, l, err)
		}
	}
}
