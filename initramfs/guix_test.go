package initramfs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestGuixSystemDeclaration reads guix-system.scm with guile-3.0 (no Guix here: Guix's reader
// extensions are stubbed, nothing needing a Guix module is evaluated) and checks its shape: the
// airlock package, the initrd procedure, the module list (evaluated, and equal to
// initramfs/modules.txt) and an operating-system with linux-libre, the airlock initrd, no
// services and nothing network-related.
func TestGuixSystemDeclaration(t *testing.T) {
	testenv.Need(t, "guile-3.0")
	root := testenv.RepoRoot()
	out, err := exec.Command("guile-3.0", "--no-auto-compile",
		filepath.Join(root, "initramfs", "testdata", "check-guix-system.scm"),
		filepath.Join(root, "guix-system.scm")).CombinedOutput()
	if err != nil {
		t.Fatalf("guile-3.0 cannot read guix-system.scm: %v\n%s", err, out)
	}
	forms := map[string]string{} // name or head -> head
	fields := map[string]string{}
	var modules, symbols []string
	var last string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "form":
			last = f[2]
			if len(f) == 4 {
				forms[f[3]] = f[2]
			} else {
				forms[f[2]] = f[2]
			}
		case len(f) == 2 && f[0] == "module":
			modules = append(modules, f[1])
		case len(f) >= 3 && f[0] == "field":
			fields[f[1]] = strings.Join(f[2:], " ")
		case len(f) == 2 && f[0] == "symbol":
			symbols = append(symbols, f[1])
		default:
			t.Fatalf("unexpected checker output %q", line)
		}
	}
	for name, head := range map[string]string{
		"use-modules": "use-modules", "airlock": "define", "airlock-initrd": "define*",
		"%airlock-linux-modules": "define", "%airlock-etc": "define",
	} {
		if forms[name] != head {
			t.Errorf("guix-system.scm: no top-level (%s %s ...)", head, name)
		}
	}
	if last != "operating-system" {
		t.Errorf("guix-system.scm: last form is %q, want operating-system", last)
	}
	for name, want := range map[string]string{
		"kernel": "linux-libre", "initrd": "airlock-initrd", "services": "(quote ())",
		"firmware": "(quote ())",
	} {
		if fields[name] != want {
			t.Errorf("operating-system field %s = %q, want %q", name, fields[name], want)
		}
	}
	if !strings.Contains(fields["kernel-arguments"], `"--" "run" "--boot" "--config" "/etc/airlock/policy.toml"`) {
		t.Errorf("kernel-arguments %s do not start the station", fields["kernel-arguments"])
	}
	for _, s := range symbols {
		l := strings.ToLower(s)
		for _, bad := range []string{"network", "dhcp", "ssh", "wpa", "nftables", "iptables"} {
			if strings.Contains(l, bad) {
				t.Errorf("operating-system mentions %s", s)
			}
		}
	}
	want, err := ModuleList(filepath.Join(root, "initramfs", "modules.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(modules, want) {
		t.Errorf("%%airlock-linux-modules = %v\ninitramfs/modules.txt  = %v", modules, want)
	}
}

// TestGuixSystemBuildDerivations: the real Guix (1.5.0, testenv.GuixOracle) accepts
// guix-system.scm: `guix system build -d` computes the system's derivation and `guix system
// image -t iso9660 -d` the ISO's, from a copy of this checkout's tracked files (the declaration
// takes the airlock package's source from "."). Only derivations: building them needs the
// sources of linux-libre, Go, yara, xorriso, ... which are not reachable offline.
func TestGuixSystemBuildDerivations(t *testing.T) {
	g := testenv.GuixOracle(t)
	testenv.Need(t, "git")
	host, in := g.TempDir()
	root := testenv.RepoRoot()
	files, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): guix-system.scm's local-file needs the tracked tree", err)
	}
	cp := exec.Command("cpio", "-pdm0", "--quiet", host)
	cp.Dir, cp.Stdin = root, strings.NewReader(string(files))
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copying the checkout: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"system", "build", "-d", "guix-system.scm"}, "-system.drv"},
		{[]string{"system", "image", "-t", "iso9660", "-d", "guix-system.scm"}, "-image.iso.drv"},
	} {
		out, err := g.Run(context.Background(), nil, append([]string{"/bin/sh", "-c", `cd "$0" && exec guix "$@"`, in}, c.args...)...)
		if err != nil {
			t.Fatalf("guix %s: %v", strings.Join(c.args, " "), err)
		}
		drv := strings.TrimSpace(string(out))
		if !strings.HasPrefix(drv, "/gnu/store/") || !strings.HasSuffix(drv, c.want) {
			t.Fatalf("guix %s printed %q, want a /gnu/store/...%s", strings.Join(c.args, " "), out, c.want)
		}
		if _, err := os.Stat(filepath.Join(g.Store(), strings.TrimPrefix(drv, "/gnu/store/"))); err != nil {
			t.Errorf("guix %s: %s not in the store: %v", strings.Join(c.args, " "), drv, err)
		}
	}
}
