//go:build qemu || bench

package hwtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// TestQEMULogMediumFromLogInit boots the station with a log disk prepared by `airlock log
// init` (MBR + FAT32 partition labelled AIRLOCK-LOG, airlock-log/ with a first record): the
// boot duties find it through its partition, the station appends to that log, and the folder
// on the disk verifies with the image's log.vkey, its first record still the log-init one.
func TestQEMULogMediumFromLogInit(t *testing.T) {
	testenv.Need(t, "mcopy")
	keys := filepath.Join(testenv.RepoRoot(), "initramfs", "etc", "keys")
	dir := t.TempDir()
	logDisk, target := filepath.Join(dir, "log.img"), filepath.Join(dir, "target.img")
	mkfile(t, logDisk, 64<<20)
	mkfile(t, target, 64<<20)
	if out, err := exec.Command(testenv.Airlock(t), "log", "init", "--key", filepath.Join(keys, "log.key"),
		"--station", "airlock-demo", "--allow-loop", "--yes", logDisk).CombinedOutput(); err != nil {
		t.Fatalf("airlock log init: %v\n%s", err, out)
	}
	s := &station{target: target, logDisk: logDisk}
	s.VM = startVM(t, vm.Config{MemoryMiB: 2048, Append: []string{"quiet"}, Disks: []vm.Disk{
		{ID: "target", Path: target, Serial: "AIRLOCK-TARGET"},
		{ID: "auditlog", Path: logDisk, Serial: "AIRLOCK-LOG"},
	}})
	if _, err := s.Expect(context.Background(), readyTimeout, `^airlock: state READY$`); err != nil {
		t.Fatal(err)
	}
	stick := stickImage(t, 32<<20, map[string][]byte{"eicar.com": []byte(eicar)})
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if end, _ := s.job(t, answers{"operator": "qemu-test", "mode": "import", "sanitize-after-import": "no"}); !failRE.MatchString(end) {
		t.Fatalf("EICAR import ended with %q", end)
	}
	s.Close()
	out := t.TempDir()
	run(t, "mcopy", "-s", "-i", logDisk+"@@1M", "::airlock-log", out)
	ldir := filepath.Join(out, "airlock-log")
	v, err := sealing.LoadNoteVerifier(filepath.Join(keys, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.VerifyDir(ldir, v); err != nil {
		t.Fatalf("the log on the disk: %v", err)
	}
	recs, _ := os.ReadFile(filepath.Join(ldir, auditlog.RecordsFile))
	lines := bytes.Split(bytes.TrimSpace(recs), []byte("\n"))
	if len(lines) < 3 || !bytes.Contains(lines[0], []byte(`"type":"log-init"`)) || !bytes.Contains(recs, []byte(`"eicar.com"`)) {
		t.Errorf("records on the log disk (%d):\n%s", len(lines), recs)
	}
}
