package guix_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestOracleHash: `airlock guix hash` prints what the real `guix hash` prints, for files and
// generated trees (nested directories, executables, symlinks, empty files and directories,
// UTF-8 names, VCS metadata at the top and deeper), with -S none, -S nar, -r, -x and every
// output format; the flags it does not implement (-S git, other -H algorithms) are refused by
// name.
func TestOracleHash(t *testing.T) {
	g := testenv.GuixOracle(t)
	bin := testenv.Airlock(t)
	host, in := g.TempDir()
	write := func(rel, body string, mode os.FileMode) {
		p := filepath.Join(host, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		if err := os.Symlink(target, filepath.Join(host, rel)); err != nil {
			t.Fatal(err)
		}
	}
	write("file.txt", "hello guix\n", 0o644)
	write("exe", "#!/bin/sh\n", 0o755)
	link("file.txt", "link")
	// plain: a tree without VCS metadata.
	write("plain/bin/tool", "#!/bin/sh\necho tool\n", 0o755)
	write("plain/share/doc/ré sumé", "utf-8\n", 0o644)
	write("plain/share/empty", "", 0o644)
	write("plain/a/b/c/d/leaf", strings.Repeat("x", 4097), 0o644)
	if err := os.Mkdir(filepath.Join(host, "plain/emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	link("../share/doc", "plain/bin/doc")
	link("/no/such/target", "plain/dangling")
	// vcs: .git and .svn at the top, a nested .git directory and a submodule's .git file, a CVS
	// directory deeper down but not at the top (so guix keeps it), a file merely named .hg.
	write("vcs/src/main.c", "int main(void){return 0;}\n", 0o644)
	write("vcs/.git/HEAD", "ref: refs/heads/main\n", 0o644)
	write("vcs/.svn/entries", "12\n", 0o644)
	write("vcs/sub/.git", "gitdir: ../.git/modules/sub\n", 0o644)
	write("vcs/sub/x/.svn/wc.db", "db", 0o644)
	write("vcs/deep/CVS/Root", "cvs", 0o644)
	write("vcs/deep/.hg", "not a dir", 0o644)

	type hashCase struct{ args []string }
	var cases []hashCase
	for _, f := range []string{"nix-base32", "base32", "base16", "hex", "base64"} {
		cases = append(cases, hashCase{[]string{"-f", f, "file.txt"}})
	}
	cases = append(cases, hashCase{[]string{"-S", "nar", "-f", "base16", "plain"}},
		hashCase{[]string{"--serializer=nar", "--exclude-vcs", "--format=base64", "vcs"}},
		hashCase{[]string{"-r", "plain"}}, hashCase{[]string{"-r", "exe"}})
	for _, p := range []string{"file.txt", "exe", "link", "plain", "vcs", "vcs/sub", "plain/bin/tool"} {
		cases = append(cases, hashCase{[]string{"-S", "nar", p}}, hashCase{[]string{"-x", "-S", "nar", p}})
	}
	for _, p := range []string{"exe", "link", "plain/share/empty"} {
		cases = append(cases, hashCase{[]string{p}}, hashCase{[]string{"-S", "none", "-x", p}})
	}
	for _, c := range cases {
		gargs := append([]string{"hash"}, c.args...)
		gargs[len(gargs)-1] = in + "/" + c.args[len(c.args)-1]
		want, err := g.Run(context.Background(), nil, gargs...)
		if err != nil {
			t.Errorf("guix %v: %v", c.args, err)
			continue
		}
		aargs := append([]string{"guix", "hash"}, c.args...)
		aargs[len(aargs)-1] = filepath.Join(host, c.args[len(c.args)-1])
		got, err := exec.Command(bin, aargs...).CombinedOutput()
		if err != nil {
			t.Errorf("airlock guix hash %v: %v\n%s", c.args, err, got)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("hash %v: airlock %q, guix %q", c.args, got, want)
		}
	}
	// A directory without -S nar: guix refuses it, and so does airlock.
	if _, err := g.Run(context.Background(), nil, "hash", in+"/plain"); err == nil {
		t.Error("guix hash of a directory with -S none succeeded")
	}
	if out, err := exec.Command(bin, "guix", "hash", filepath.Join(host, "plain")).CombinedOutput(); err == nil {
		t.Errorf("airlock guix hash of a directory with -S none succeeded: %s", out)
	}
	// What airlock does not implement is refused, naming it.
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"-S", "git", "plain"}, `"git"`},
		{[]string{"-H", "sha512", "file.txt"}, `"sha512"`},
		{[]string{"-H", "blake2s-256", "file.txt"}, `"blake2s-256"`},
	} {
		args := append([]string{"guix", "hash"}, c.args...)
		args[len(args)-1] = filepath.Join(host, args[len(args)-1])
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.name) {
			t.Errorf("airlock guix hash %v: err=%v output %q, want a refusal naming %s", c.args, err, out, c.name)
		}
	}
}
