//go:build qemu

package hwtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestQEMUSandboxProbe runs the sandbox probe on the appliance's own kernel, inside the booted
// image: a static probe binary (sandbox/internal/probecmd, built here with the airlock_probe tag
// and added to this test's copy of the initramfs only; the production image's airlock has no
// probe mode) starts workers as the station does and tries what an exploit would: read the
// appliance's policy and keys and /etc/passwd, write outside the spool, create sockets, exec,
// ptrace, mount, unshare, clone a user namespace, fork, setuid 0, keep a capability, allocate
// past the address-space limit. Each must fail; writing into the spool must work; an unconfined
// control run shows that the file targets are reachable without the sandbox.
func TestQEMUSandboxProbe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "airlock-probe")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "airlock_probe,yara_static,netgo,osusergo",
		"-ldflags", `-extldflags "-static -lz -llzma -lbz2"`, "-o", bin, "./sandbox/internal/probecmd")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	overlay := append(probeUinit("/bin/airlock-probe"), vm.File{Path: "bin/airlock-probe", Mode: 0o755, Data: string(data)})
	m := startVM(t, vm.Config{Append: []string{"quiet"}, Overlay: overlay})
	ctx := context.Background()
	if _, err := m.Expect(ctx, bootTimeout, "^"+probeReady+"$"); err != nil {
		t.Fatal(err)
	}
	end, err := m.ExpectAny(ctx, 5*time.Minute, regexp.MustCompile(`^probe: (done|error .*)$`))
	if err != nil {
		t.Fatal(err)
	}
	if end[0] != "probe: done" {
		t.Fatalf("the probe failed: %s", end[0])
	}
	var lines []string
	for _, l := range strings.Split(m.Transcript(), "\n") {
		if i := strings.Index(l, "probe: "); i >= 0 {
			lines = append(lines, l[i:])
		}
	}
	targets := map[string]string{}
	got := map[string]map[string]bool{"control": {}, "confined": {}}
	var conf, alloc string
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[1] == "target":
			targets[f[2]] = f[3]
		case len(f) == 4 && (f[1] == "control" || f[1] == "confined"):
			got[f[1]][f[2]] = f[3] == "ok"
		case len(f) > 2 && f[1] == "confinement":
			conf = l
		case len(f) > 2 && f[1] == "allocate":
			alloc = l
		}
	}
	t.Logf("%s\n%s", conf, alloc)
	if !regexp.MustCompile(`uid 65534: Landlock ABI [1-9][0-9]*, seccomp true, no capabilities, user\+net\+ipc\+mount namespaces$`).MatchString(conf) {
		t.Errorf("the probe's worker was not fully confined: %q", conf)
	}
	// The control: the worker's uid reaches these without the sandbox (the appliance's secret
	// keys are 0600 root and the image has no /etc/passwd, so the policy, the 0644 stand-ins
	// and the open directories show it).
	for _, k := range []string{"read0", "read1", "read2", "read3", "write0", "write2", "spool-write"} {
		if !got["control"][k] {
			t.Errorf("control: %s (%s) failed without the sandbox; the probe would prove nothing there", k, targets[k])
		}
	}
	want := []string{"socket-inet", "socket-unix", "exec-sh", "execve", "ptrace", "mount", "unshare", "clone-newuser",
		"fork", "setuid0", "capabilities", "create-excl", "spool-write"}
	for k := range targets {
		want = append(want, k)
	}
	if len(targets) < 12 {
		t.Errorf("only %d file targets: %v", len(targets), targets)
	}
	for _, k := range want {
		ok, seen := got["confined"][k]
		switch {
		case !seen:
			t.Errorf("the confined probe did not report %s", k)
		case k == "spool-write" && !ok:
			t.Error("writing into the spool failed inside the sandbox")
		case k != "spool-write" && ok:
			t.Errorf("inside the sandbox on the appliance's kernel, %s %s succeeded", k, targets[k])
		}
	}
	if !strings.Contains(alloc, "out of memory") && !strings.Contains(alloc, "killed by") {
		t.Errorf("allocating past the limit: %q, want the worker dead", alloc)
	}
}
