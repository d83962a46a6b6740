//go:build qemu

package hwtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/initramfs"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// imageBudget is the limit on the compressed initramfs.
const imageBudget = 24 << 20

// TestQEMUImageContents opens the built initramfs and checks what `make image` promises: the
// static airlock started as the uinit with the policy, xorriso with every shared library it
// needs, each module of initramfs/modules.txt with its dependencies in modules.dep, the policy and
// keys, the u-root commands and no network command or driver, within the size budget.
func TestQEMUImageContents(t *testing.T) {
	_, path := bootImage(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("qemu: image %s: %d bytes (%.1f MiB compressed)\n", path, st.Size(), float64(st.Size())/(1<<20))
	if st.Size() > imageBudget {
		t.Errorf("image is %d bytes, over the %d budget", st.Size(), imageBudget)
	}
	img, err := initramfs.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	get := func(p string) initramfs.Entry {
		t.Helper()
		e, ok := img.Entries[p]
		if !ok {
			t.Fatalf("image has no %s", p)
		}
		return e
	}

	// airlock: static (the image has libraries only for xorriso), the uinit, with the policy.
	airlock := get("bin/airlock")
	f, err := elf.NewFile(bytes.NewReader(airlock.Data))
	if err != nil {
		t.Fatalf("bin/airlock: %v", err)
	}
	if interp := f.Section(".interp"); interp != nil {
		t.Errorf("bin/airlock is dynamically linked")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("bin/airlock needs %v", libs)
	}
	if e := get("bin/uinit"); e.Link != "airlock" {
		t.Errorf("bin/uinit -> %q, want airlock", e.Link)
	}
	if e := get("etc/uinit.flags"); !strings.Contains(string(e.Data), "run") || !strings.Contains(string(e.Data), "/etc/airlock/policy.toml") {
		t.Errorf("etc/uinit.flags = %q", e.Data)
	}
	if e := get("init"); e.Link != "bbin/init" {
		t.Errorf("init -> %q", e.Link)
	}
	for _, p := range []string{"etc/airlock/policy.toml", "etc/airlock/keys/seal.key", "etc/airlock/keys/seal.pub",
		"etc/airlock/keys/log.key", "etc/airlock/acl", "etc/airlock/approver.pub", "etc/airlock/rules/eicar.yar"} {
		get(p)
	}

	// xorriso and every library it needs, resolved the way ld.so would in the image.
	xo := get("usr/bin/xorriso")
	xf, err := elf.NewFile(bytes.NewReader(xo.Data))
	if err != nil {
		t.Fatalf("usr/bin/xorriso: %v", err)
	}
	libs, err := xf.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		found := false
		for _, dir := range []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib"} {
			if _, ok := img.Entries[dir+"/"+lib]; ok {
				found = true
			}
		}
		if !found {
			t.Errorf("xorriso needs %s, not in the image", lib)
		}
	}

	// Modules: every listed module present with its dependencies; no network driver.
	want, err := initramfs.ModuleList(filepath.Join(testenv.RepoRoot(), "initramfs", "modules.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var depPath string
	for p := range img.Entries {
		if strings.HasPrefix(p, "lib/modules/") && strings.HasSuffix(p, "/modules.dep") {
			depPath = p
		}
	}
	if depPath == "" {
		t.Fatal("image has no modules.dep")
	}
	modDir := filepath.Dir(depPath)
	deps, err := initramfs.ModulesDep(get(depPath).Data)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for mod := range deps {
		byName[initramfs.ModuleName(mod)] = mod
		if strings.Contains(mod, "/net/") {
			t.Errorf("network module %s in the image", mod)
		}
		get(modDir + "/" + mod)
		for _, d := range deps[mod] {
			get(modDir + "/" + d)
		}
	}
	for _, m := range want {
		if _, ok := byName[initramfs.ModuleName(m)]; !ok {
			t.Errorf("module %s of modules.txt is not in modules.dep", m)
		}
	}
	if e := get("etc/airlock/modules"); !strings.HasPrefix(string(e.Data), want[0]+"\n") {
		t.Errorf("etc/airlock/modules does not list modules.txt in order: %q", e.Data)
	}

	// u-root commands: the listed ones, none of the network ones.
	cmds, err := initramfs.ModuleList(filepath.Join(testenv.RepoRoot(), "initramfs", "commands.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if e := get("bbin/" + c); e.Link != "bb" {
			t.Errorf("bbin/%s -> %q, want bb", c, e.Link)
		}
	}
	for _, c := range []string{"ip", "dhclient", "wget", "netcat", "sshd", "scp", "ping", "ntpdate"} {
		if _, ok := img.Entries["bbin/"+c]; ok {
			t.Errorf("network command %s in the image", c)
		}
	}
}
