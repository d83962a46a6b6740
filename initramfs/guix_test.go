package initramfs

import (
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
