package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/appliance"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// TestLogInitImage prepares a log medium in an image file and checks it as the station and
// the high side see it: the label the station looks for (read the way appliance's boot duties
// read it, with media.ReadFS), the log folder with a first record whose signed checkpoint
// verifies with log.vkey, checked again with the stock tools (fsck.fat, mtools).
func TestLogInitImage(t *testing.T) {
	testenv.Need(t, "fsck.fat", "mcopy")
	keys := keysFor(t, "appliance")
	img := filepath.Join(t.TempDir(), "log.img")
	os.WriteFile(img, []byte("old data"), 0o644)
	sh(t, "truncate", "-s", "64M", img)
	out, errOut, code := runCLI(t, "log", "init", "--key", filepath.Join(keys, "log.key"), "--station", "airlock-1", "--allow-loop", "--yes", img)
	if code != exitOK {
		t.Fatalf("log init: exit %d %s", code, errOut)
	}
	v, err := sealing.LoadNoteVerifier(filepath.Join(keys, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := auditlog.OpenCheckpoint([]byte(out), v); err != nil || c.Size != 1 {
		t.Fatalf("printed checkpoint: %v %+v\n%s", err, c, out)
	}
	f, _ := os.Open(img)
	defer f.Close()
	st, _ := f.Stat()
	m, err := media.ReadFS(context.Background(), f, st.Size(), 512)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, vol := range m.Volumes {
		if strings.TrimSpace(vol.Label) == "AIRLOCK-LOG" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no volume labelled AIRLOCK-LOG: %+v", m.Volumes)
	}
	// fsck.fat takes no offset: check the partition from a copy.
	part := filepath.Join(t.TempDir(), "part.img")
	sh(t, "dd", "if="+img, "of="+part, "bs=1M", "skip=1", "status=none")
	if b, err := exec.Command("fsck.fat", "-n", part).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, b)
	}
	logDir := filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(logDir, 0o755)
	sh(t, "mcopy", "-s", "-i", img+"@@1M", "::"+appliance.LogSubdir, logDir)
	dir := filepath.Join(logDir, appliance.LogSubdir)
	rep, err := auditlog.VerifyDir(dir, v)
	if err != nil || rep == nil {
		t.Fatalf("log verify of the medium's folder: %v", err)
	}
	rec, _ := os.ReadFile(filepath.Join(dir, auditlog.RecordsFile))
	if !bytes.Contains(rec, []byte(`"type":"log-init"`)) || !bytes.Contains(rec, []byte(`"station":"airlock-1"`)) {
		t.Errorf("first record: %s", rec)
	}
	// The station appends to it as it finds it.
	signer, _ := sealing.LoadNoteSigner(filepath.Join(keys, "log.key"), "")
	l, err := auditlog.Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := l.Append(context.Background(), map[string]any{"type": "boot"}); err != nil || i != 1 {
		t.Errorf("station append: %d %v", i, err)
	}
	l.Close()

	// Refusals: not an image without --allow-loop, the wrong key kind, too small.
	if _, errOut, code := runCLI(t, "log", "init", "--key", filepath.Join(keys, "log.key"), "--yes", img); code != exitError || !strings.Contains(errOut, "--allow-loop") {
		t.Errorf("image without --allow-loop: %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "log", "init", "--key", filepath.Join(keys, "seal.key"), "--allow-loop", "--yes", img); code != exitError || !strings.Contains(errOut, "seal.key") {
		t.Errorf("seal key as log key: %d %s", code, errOut)
	}
	small := filepath.Join(t.TempDir(), "small.img")
	sh(t, "truncate", "-s", "8M", small)
	if _, errOut, code := runCLI(t, "log", "init", "--key", filepath.Join(keys, "log.key"), "--allow-loop", "--yes", small); code != exitError || !strings.Contains(errOut, "FAT32") {
		t.Errorf("8 MiB image: %d %s", code, errOut)
	}
}
