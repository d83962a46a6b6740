//go:build qemu

package burner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

// TestQEMUDriveStatus boots the Debian kernel in QEMU with an IDE CD-ROM drive holding one of
// our images and a probe as /init (testdata/qemuprobe). It checks, on a real kernel sr driver:
// native status over CDROM_DRIVE_STATUS and MMC (SG_IO), OpenISO and the kernel's isofs reading
// the disc (deep, long and UTF-8 names, empty file), and read-back through OpenRead; then the
// same drive with no disc. QEMU cannot emulate writable media, so burning is not covered here.
func TestQEMUDriveStatus(t *testing.T) {
	testenv.Need(t, "qemu-system-x86_64")
	kernel, modDir := debianKernel(t)
	dir := t.TempDir()
	probe := filepath.Join(dir, "init")
	build := exec.Command("go", "build", "-o", probe, "./testdata/qemuprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	writeInitrd(t, initrd, probe, modDir, []string{"sr_mod", "ata_piix", "isofs"})

	files := []File{
		{Path: "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt", Size: 5, Open: constOpener("deep\n")},
		{Path: strings.Repeat("L", 200) + ".txt", Size: 3, Open: constOpener("hi\n")},
		{Path: "Ünïcödé 漢字.txt", Size: 2, Open: constOpener("u\n")},
		{Path: "empty", Size: 0, Open: constOpener("")},
	}
	// The odd names of TestNamesReadBack, which the kernel's isofs must show byte for byte too.
	for i, n := range oddNames {
		body := "odd " + itoa(int64(i)) + "\n"
		files = append(files, File{Path: "odd/" + n, Size: int64(len(body)), Open: constOpener(body)})
	}
	l, err := NewLayout(files, Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	l.WriteTo(&img)
	disc := filepath.Join(dir, "disc.iso")
	if err := os.WriteFile(disc, img.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(img.Bytes())
	var want []string
	for p, h := range treeListing(files) {
		if h != "dir" {
			want = append(want, h+" "+p)
		}
	}
	sort.Strings(want)

	out := runProbe(t, kernel, initrd, "-cdrom", disc)
	if s := probeLines(out, "status "); len(s) != 1 || s[0] != `state="not writable" media="CD-ROM" source="mmc" err=<nil>` {
		t.Errorf("status of a pressed-data CD: %q", s)
	}
	if s := probeLines(out, "volsize "); len(s) != 1 || !strings.HasPrefix(s[0], itoa(l.Size())+" ") {
		t.Errorf("volume size: %q, want %d", s, l.Size())
	}
	if s := probeLines(out, "readback "); len(s) != 1 || s[0] != itoa(l.Size())+" "+hex.EncodeToString(sum[:])+" <nil>" {
		t.Errorf("read-back: %q", s)
	}
	for _, who := range []string{"ours", "kernel"} {
		got := probeLines(out, "file "+who+" ")
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s read the disc as\n%s\nwant\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if e := probeLines(out, "error "); len(e) > 0 {
		t.Errorf("probe errors: %q", e)
	}

	out = runProbe(t, kernel, initrd, "-drive", "if=ide,index=1,media=cdrom")
	if s := probeLines(out, "status "); len(s) != 1 || s[0] != `state="no disc" media="" source="mmc" err=<nil>` {
		t.Errorf("status of an empty drive: %q", s)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// debianKernel finds an installed kernel whose modules are on this machine.
func debianKernel(t *testing.T) (kernel, modDir string) {
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(ks)))
	for _, k := range ks {
		ver := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		md := filepath.Join("/lib/modules", ver)
		if _, err := os.Stat(filepath.Join(md, "modules.dep")); err == nil {
			return k, md
		}
	}
	if testenv.InCI() {
		t.Fatal("no /boot/vmlinuz-* with modules (linux-image-amd64)")
	}
	t.Skip("no /boot/vmlinuz-* with modules (linux-image-amd64)")
	return "", ""
}

// writeInitrd writes a newc archive: the probe as /init and the named modules with their
// dependencies (from modules.dep, dependencies first, decompressed) under /mods.
func writeInitrd(t *testing.T, out, probe, modDir string, want []string) {
	dep, err := os.ReadFile(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string][]string{} // module path -> dependency paths
	byName := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(dep))
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		name := strings.SplitN(filepath.Base(mod), ".", 2)[0]
		byName[strings.ReplaceAll(name, "-", "_")] = mod
	}
	var order []string
	seen := map[string]bool{}
	var add func(m string)
	add = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		ds := deps[m]
		for i := len(ds) - 1; i >= 0; i-- { // modules.dep lists the deepest dependency last
			add(ds[i])
		}
		order = append(order, m)
	}
	for _, n := range want {
		m, ok := byName[n]
		if !ok {
			t.Fatalf("module %s not in %s/modules.dep", n, modDir)
		}
		add(m)
	}
	probeData, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	recs := []cpio.Record{cpio.StaticFile("init", string(probeData), 0o755)}
	var names []string
	for _, m := range order {
		data, err := os.ReadFile(filepath.Join(modDir, m))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(m, ".xz") {
			r, err := xz.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		}
		name := strings.SplitN(filepath.Base(m), ".", 2)[0] + ".ko"
		names = append(names, name)
		recs = append(recs, cpio.StaticFile("mods/"+name, string(data), 0o644))
	}
	recs = append(recs, cpio.StaticFile("mods/order", strings.Join(names, "\n")+"\n", 0o644))
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runProbe(t *testing.T, kernel, initrd string, drive ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := append([]string{"-M", "pc", "-m", "512", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet"}, drive...)
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("qemu: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("PROBE ")) {
		t.Fatalf("probe printed nothing:\n%s", out)
	}
	return string(out)
}

// probeLines returns the rest of every "PROBE <prefix>" console line.
func probeLines(out, prefix string) []string {
	var r []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if i := strings.Index(line, "PROBE "+prefix); i >= 0 {
			r = append(r, line[i+len("PROBE "+prefix):])
		}
	}
	return r
}
