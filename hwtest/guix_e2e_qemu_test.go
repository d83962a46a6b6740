//go:build qemu

package hwtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestQEMUGuixMission is the whole mission with a real Guix on both sides of the gap (issue 15):
//
//   - low side: a guix-daemon (testenv.GuixOracle, a scratch store) makes real store items offline
//     (`guix download file://` of the source tarball, a directory tree and text items with
//     references added by `guix repl`) and exports their closure (`guix archive --export -r`);
//     the export and the allowlisted source tarball go on a FAT stick image;
//   - the appliance: the image as built, with an initramfs overlay replacing /etc/airlock/acl by
//     one that authorizes that daemon's key (written by `airlock guix acl add`) and the policy by
//     the demo policy plus resign_guix; the stick is hot-plugged, the job approved, sealed and
//     burned onto the target disk;
//   - high side, in the Guix root: the static airlock verifies the disc image with the seal key;
//     a fresh scratch store authorizes the appliance's Guix key alone and imports the export read
//     from the disc (extracted with stock xorriso), `guix gc --verify=contents` passes, and every
//     item has the NAR hash it had on the low side; the low side's original export is refused
//     there, so only what airlock re-signed gets in.
//
// About 30 s on a quiet machine (boot to READY under TCG is most of it), 3.5 min at load 11.
func TestQEMUGuixMission(t *testing.T) {
	testenv.Need(t, "xorriso", "mcopy")
	ctx := context.Background()
	low := testenv.GuixOracle(t)
	items := makeMissionItems(t, low)
	export := low.MustRun(nil, "archive", "--export", "-r", items.top)
	t.Logf("low side: %d-byte export of %d items (top %s)", len(export), len(items.paths), items.top)

	// The image's policy with the daemon's key as its Guix ACL, and re-signing on.
	overlay := missionOverlay(t, filepath.Join(low.Etc(), "signing-key.pub"))
	const exportName = "mission-1.0.export"
	stick := stickImage(t, 32<<20, map[string][]byte{
		exportName:        export,
		"quux-3.1.tar.xz": readVector(t, "quux-3.1.tar.xz"),
	})
	s := bootStationOverlay(t, overlay)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	end, lines := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no",
		"insert-disc": ""})
	if !passRE.MatchString(end) {
		t.Fatalf("import ended with %q; lines:\n%s", end, strings.Join(lines, "\n"))
	}
	t.Logf("appliance: %s after %.1f s (READY at %.1f s)", end, s.Since().Seconds(), s.ready.Seconds())
	s.Close()

	// High side: a fresh store in the Guix root that has never seen the low side's key.
	high := testenv.GuixOracle(t)
	host, in := high.TempDir()
	disc := filepath.Join(host, "disc.iso")
	copyFile(t, s.target, disc)
	seal := filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "keys", "seal.pub")
	copyFile(t, seal, filepath.Join(host, "seal.pub"))
	static := staticAirlock(t)
	copyFile(t, static, filepath.Join(host, "airlock"))
	if err := os.Chmod(filepath.Join(host, "airlock"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := high.Run(ctx, nil, in+"/airlock", "verify", "--pub", in+"/seal.pub", in+"/disc.iso")
	if err != nil {
		t.Fatalf("high side: airlock verify of the burned disc: %v\n%s", err, out)
	}
	t.Logf("high side: airlock verify:\n%s", out)

	x := filepath.Join(host, "disc")
	run(t, "xorriso", "-osirrox", "on", "-indev", disc, "-extract", "/", x)
	fromDisc := filepath.Join(x, "bundle", exportName)
	burned, err := os.ReadFile(fromDisc)
	if err != nil {
		t.Fatalf("the disc lacks the approved export: %v", err)
	}
	if _, err := os.Stat(filepath.Join(x, "bundle", "quux-3.1.tar.xz")); err != nil {
		t.Errorf("the disc lacks the approved tarball: %v", err)
	}

	// The low side's signatures mean nothing here: only the appliance's key is authorized.
	if _, err := high.Run(ctx, bytes.NewReader(export), "archive", "--import"); err == nil ||
		!strings.Contains(err.Error(), "unauthorized public key") {
		t.Fatalf("high side on the low side's own export: %v, want unauthorized public key", err)
	}
	authorize := filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "keys", "guix-signing-key.pub")
	if bytes.Equal(burned, export) {
		// The station burned the export as the low side signed it: the policy's resign_guix was
		// not honoured. That is this test's failure; the rest of the high side still runs, with
		// the low side's key authorized instead, so that what else works is seen.
		t.Errorf("the disc carries the low side's export unchanged: the station does not re-sign with the appliance's Guix key although the policy sets resign_guix")
		authorize = filepath.Join(low.Etc(), "signing-key.pub")
	}
	key, err := os.ReadFile(authorize)
	if err != nil {
		t.Fatal(err)
	}
	high.MustRun(bytes.NewReader(key), "archive", "--authorize")
	// guix reads the file from the disc itself (the extracted tree is inside the root).
	if out, err := high.Run(ctx, nil, "/bin/sh", "-c", `exec guix archive --import < "$0"`,
		in+"/disc/bundle/"+exportName); err != nil {
		t.Fatalf("high side: guix archive --import of the export from the disc: %v\n%s", err, out)
	}
	if _, err := high.Run(ctx, nil, "gc", "--verify=contents"); err != nil {
		t.Fatalf("high side: guix gc --verify=contents after the import: %v", err)
	}
	for name, p := range items.paths {
		want := low.MustRun(nil, "hash", "-S", "nar", p)
		got, err := high.Run(ctx, nil, "hash", "-S", "nar", p)
		if err != nil {
			t.Errorf("%s: not in the high store after the import: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: NAR hash %s on the high side, %s on the low side", name, got, want)
		}
	}
	refs := strings.Fields(string(high.MustRun(nil, "gc", "--references", items.top)))
	if len(refs) != 3 {
		t.Errorf("high side: %s references %q, want the tree, a and b", items.top, refs)
	}
	t.Logf("high side: %d items imported from the disc, guix gc --verify=contents passes", len(items.paths))
}

// missionItems is the low side's closure: the source tarball as `guix download` adds it, a tree
// and two text items, the top referencing three of them and b referencing a and the source.
type missionItems struct {
	top   string
	paths map[string]string // name -> store path
}

const missionItemsScm = `(use-modules (guix store) (ice-9 rdelim))
(define src (read-line (open-input-file "%[1]s/src-path")))
(with-store s
  (let* ((tree (add-to-store s "mission-tree" #t "sha256" "%[1]s/tree"))
         (a (add-text-to-store s "mission-a.txt" "alpha\n"))
         (b (add-text-to-store s "mission-b.txt" (string-append "built from " src " with " a "\n") (list a src)))
         (top (add-text-to-store s "mission-1.0" (string-append tree " " a " " b "\n") (list tree a b))))
    (for-each (lambda (n p) (format #t "~a ~a~%%" n p))
              '("src" "tree" "a" "b" "top") (list src tree a b top))))
`

func makeMissionItems(t *testing.T, g *testenv.Guix) *missionItems {
	t.Helper()
	host, in := g.TempDir()
	copyFile(t, filepath.Join(testenv.GuixVectors(t), "quux-3.1.tar.xz"), filepath.Join(host, "quux-3.1.tar.xz"))
	out := g.MustRun(nil, "download", "file://"+in+"/quux-3.1.tar.xz")
	src := strings.SplitN(string(out), "\n", 2)[0]
	if !strings.HasPrefix(src, "/gnu/store/") {
		t.Fatalf("guix download printed %q", out)
	}
	for name, body := range map[string]string{
		"src-path":           src + "\n",
		"tree/bin/mission":   "#!/bin/sh\necho mission\n",
		"tree/lib/libm.so.1": strings.Repeat("\x7fELF\x02\x01\x01\x00", 512),
		"tree/share/README":  "the mission's tree\n",
	} {
		p := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(host, "tree/bin/mission"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../share/README", filepath.Join(host, "tree/bin/README")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "make.scm"), []byte(fmt.Sprintf(missionItemsScm, in)), 0o644); err != nil {
		t.Fatal(err)
	}
	it := &missionItems{paths: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(g.MustRun(nil, "repl", "--", in+"/make.scm"))), "\n") {
		name, p, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(p, "/gnu/store/") {
			t.Fatalf("guix repl printed %q", line)
		}
		it.paths[name] = p
	}
	it.top = it.paths["top"]
	if it.top == "" || len(it.paths) != 5 {
		t.Fatalf("guix repl made %v", it.paths)
	}
	return it
}

// missionOverlay returns the initramfs overlay for the mission: /etc/airlock/acl authorizing the
// Guix public key in pubFile (as `airlock guix acl add` writes it), and the image's own policy
// with resign_guix turned on, so that the high side authorizes the appliance's key alone.
func missionOverlay(t *testing.T, pubFile string) []vm.File {
	t.Helper()
	acl := filepath.Join(t.TempDir(), "acl")
	if out, err := exec.Command(testenv.Airlock(t), "guix", "acl", "--acl", acl, "add", pubFile).CombinedOutput(); err != nil {
		t.Fatalf("airlock guix acl add: %v\n%s", err, out)
	}
	aclBytes, err := os.ReadFile(acl)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "policy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "[import]\n"
	if !bytes.Contains(pol, []byte(anchor)) || bytes.Contains(pol, []byte("resign_guix")) {
		t.Fatalf("initramfs/etc/policy.toml: no %q section to add resign_guix to, or it has one already", anchor)
	}
	pol = bytes.Replace(pol, []byte(anchor), []byte(anchor+"resign_guix   = true             # TestQEMUGuixMission\n"), 1)
	return []vm.File{
		{Path: "etc/airlock/acl", Mode: 0o644, Data: string(aclBytes)},
		{Path: "etc/airlock/policy.toml", Mode: 0o644, Data: string(pol)},
	}
}

// staticAirlock returns the static airlock the image carries ($AIRLOCK_STATIC_BIN, make's
// bin/airlock-static): it runs inside the Guix root, which has no yara library.
func staticAirlock(t *testing.T) string {
	t.Helper()
	p := os.Getenv("AIRLOCK_STATIC_BIN")
	if p == "" {
		p = filepath.Join(testenv.RepoRoot(), "bin", "airlock-static")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("static airlock: %v (make build-static, which make image runs, builds it)", err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
