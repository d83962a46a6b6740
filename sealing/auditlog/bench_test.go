//go:build bench

package auditlog

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"golang.org/x/mod/sumdb/note"
)

// TestBenchLog: durable appends per second (each fsynced before it returns), and the time
// `airlock log verify` takes over a 100,000-record log ($AIRLOCK_BENCH_LOG_RECORDS) against
// sha256sum reading the same records file.
func TestBenchLog(t *testing.T) {
	testenv.Need(t, "sha256sum")
	skey, vkey, _ := note.GenerateKey(rand.Reader, "airlock.bench/log")
	signer, _ := note.NewSigner(skey)
	ctx := context.Background()

	// Durable appends, in process (a process per append would measure exec, not the log).
	dir := t.TempDir()
	l, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	nApp := benchtab.EnvInt(t, "AIRLOCK_BENCH_LOG_APPENDS", 2000)
	start := time.Now()
	for i := 0; i < nApp; i++ {
		if _, err := l.Append(ctx, map[string]any{"type": "bench", "i": i, "session": "s-1"}); err != nil {
			t.Fatal(err)
		}
	}
	appWall := time.Since(start)
	l.Close()
	perSec := float64(nApp) / appWall.Seconds()
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("log append x%d (fsync each)", nApp), Peer: "-",
		Ours: benchtab.Measure{Wall: appWall}, Note: fmt.Sprintf("%.0f durable appends/s", perSec)})

	// A big log written directly (as many appends would have), then checkpointed.
	nRec := benchtab.EnvInt(t, "AIRLOCK_BENCH_LOG_RECORDS", 100000)
	big := t.TempDir()
	f, err := os.Create(filepath.Join(big, RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < nRec; i++ {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		rec, err := MarshalRecord(map[string]any{"type": "verdict", "session": "s-" + strconv.Itoa(i/100),
			"file": fmt.Sprintf("bundle/src/pkg-%d.tar.gz", i), "sha256": hex.EncodeToString(sum[:]), "verdict": "approved", "size": i * 1000})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(append(rec, '\n'))
	}
	w.Flush()
	f.Close()
	l, err = Open(big, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	vk := filepath.Join(t.TempDir(), "log.vkey")
	os.WriteFile(vk, []byte(vkey+"\n"), 0o644)
	st, _ := os.Stat(filepath.Join(big, RecordsFile))
	var ours, peer benchtab.Measure
	for rep := 0; rep < 3; rep++ { // best of three: both sides are a few tens of milliseconds
		m, err := benchtab.Run(ctx, testenv.Airlock(t), "log", "verify", "--dir", big, "--vkey", vk)
		if err != nil {
			t.Fatal(err)
		}
		ours.Keep(m)
		if m, err = benchtab.Run(ctx, "sha256sum", filepath.Join(big, RecordsFile)); err != nil {
			t.Fatal(err)
		}
		peer.Keep(m)
	}
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("log verify %d records", nRec), Peer: "sha256sum records",
		Ours: ours, Theirs: peer, Bytes: st.Size(), Target: 2.0,
		Note: fmt.Sprintf("%v to verify %d records", ours.Wall.Round(time.Millisecond), nRec)})

	// The station's open at boot, then one durable append and a checkpoint: proportional to the
	// new records (the hash cache covers the rest), so far below re-hashing the records file.
	skeyPath := filepath.Join(t.TempDir(), "log.key")
	os.WriteFile(skeyPath, []byte(skey+"\n"), 0o600)
	var app, hash benchtab.Measure
	for rep := 0; rep < 3; rep++ {
		m, err := benchtab.Run(ctx, testenv.Airlock(t), "log", "append", "--dir", big, "--key", skeyPath, `{"type":"bench"}`)
		if err != nil {
			t.Fatal(err)
		}
		app.Keep(m)
		if m, err = benchtab.Run(ctx, "sha256sum", filepath.Join(big, RecordsFile)); err != nil {
			t.Fatal(err)
		}
		hash.Keep(m)
	}
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("log open+append+checkpoint at %d records", nRec),
		Peer: "sha256sum records", Ours: app, Theirs: hash, Target: 1.0,
		Note: fmt.Sprintf("%v (hash cache)", app.Wall.Round(time.Millisecond))})
}
