package auditlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

const crashChildEnv = "AIRLOCK_AUDITLOG_CRASH_CHILD"

// TestCrashChild is the child of TestKill9: it appends (and now and then checkpoints) in a loop
// and prints "ack INDEX TOKEN" after each Append returns, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child process of TestKill9 only")
	}
	signer, err := note.NewSigner(os.Getenv(crashChildEnv + "_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	l, err := Open(dir, signer)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	run := os.Getenv(crashChildEnv + "_RUN")
	for i := 0; ; i++ {
		token := run + "-" + strconv.Itoa(i)
		// Records of varied length, some large, so kills land inside writes.
		n := rand.IntN(200)
		if rand.IntN(60) == 0 {
			n = 64 << 10
		}
		pad := strings.Repeat("p", n)
		idx, err := l.Append(context.Background(), map[string]any{"type": "crash-test", "token": token, "pad": pad})
		if err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(3)
		}
		fmt.Fprintf(os.Stdout, "ack %d %s\n", idx, token)
		if i%5 == 4 {
			if _, err := l.Checkpoint(); err != nil {
				fmt.Fprintln(os.Stderr, "checkpoint:", err)
				os.Exit(3)
			}
		}
	}
}

// TestKill9 SIGKILLs an appending child at random moments, hundreds of times; after each kill
// the log must open (recovering a torn tail), verify, and hold every acknowledged record.
func TestKill9(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 30
	}
	dir := t.TempDir()
	skey, vkey, _ := note.GenerateKey(nil, "airlock.test/crash")
	verifier, _ := note.NewVerifier(vkey)
	signer, _ := note.NewSigner(skey)
	acked := map[int64]string{}
	recovered, survived := 0, 0
	// The run stops early after 20 s (race detector, loaded machine), but never below 20 kills.
	deadline := time.Now().Add(20 * time.Second)
	run := 0
	var tWait, tCheck time.Duration
	for ; run < kills && time.Now().Before(deadline); run++ {
		if run > 0 && run%50 == 0 {
			// A fresh log every 50 kills keeps re-reading it cheap (the race detector makes
			// JSON slow), so the run fits hundreds of kills.
			if _, err := VerifyDir(dir, verifier); err != nil && !strings.Contains(err.Error(), "no checkpoint for") {
				t.Fatalf("verify at run %d: %v", run, err)
			}
			dir, acked = t.TempDir(), map[int64]string{}
		}
		tStart := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_KEY="+skey, crashChildEnv+"_RUN="+strconv.Itoa(run))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill after a random number of acknowledgements plus a random delay, so the kill
		// lands anywhere: in a write, an fsync, a checkpoint rename, or between them.
		wantAcks := rand.IntN(6)
		got := 0
		timeout := time.After(5 * time.Second)
	wait:
		for got < wantAcks {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				record(t, acked, l)
				got++
			case <-timeout:
				break wait
			}
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			record(t, acked, l)
		}
		tKill := time.Now()
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d: child ended without being killed: %v\n%s", run, err, stderr.String())
		}

		// A log killed before its first checkpoint has records but no checkpoint yet; one
		// killed before it was created does not exist.
		if _, err := VerifyDir(dir, verifier); err != nil && !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no checkpoint for") {
			t.Fatalf("run %d: verify after kill: %v", run, err)
		}
		l, err := Open(dir, signer)
		if err != nil {
			t.Fatalf("run %d: open after kill: %v", run, err)
		}
		if l.Recovered() > 0 {
			recovered++
		}
		survived = len(acked)
		for idx, token := range acked {
			if idx >= l.Size() {
				t.Fatalf("run %d: acknowledged record %d lost (log has %d)", run, idx, l.Size())
			}
			rec, err := l.Record(idx)
			if err != nil || !strings.Contains(string(rec), `"token":"`+token+`"`) {
				t.Fatalf("run %d: record %d is %.80q, want token %s (%v)", run, idx, rec, token, err)
			}
		}
		if run%10 == 0 { // a checkpoint over recovered records now and then
			if _, err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		tWait += tKill.Sub(tStart)
		tCheck += time.Since(tKill)
	}
	t.Logf("time until kill %v, checks after %v", tWait, tCheck)
	kills = run
	if _, err := VerifyDir(dir, verifier); err != nil && !strings.Contains(err.Error(), "no checkpoint for") {
		t.Fatalf("verify at the end: %v", err)
	}
	t.Logf("%d kills: every acknowledged record survived each (%d in the last log); %d torn tails recovered", kills, survived, recovered)
	if kills < 20 {
		t.Fatalf("only %d kills in the time allowed", kills)
	}
	if survived == 0 {
		t.Fatal("no append was ever acknowledged")
	}
}

func record(t *testing.T, acked map[int64]string, line string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ack" {
		return // test framework output
	}
	idx, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("child printed %q", line)
	}
	if prev, ok := acked[idx]; ok && prev != f[2] {
		t.Fatalf("index %d acknowledged twice: %s and %s", idx, prev, f[2])
	}
	acked[idx] = f[2]
}
