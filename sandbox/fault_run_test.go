package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/scanner"
)

// Every way a worker can fail gives an error naming the cause and what it was reading, and no
// results.
func TestWorkerFailures(t *testing.T) {
	dir := writeTree(t, map[string]string{"EFI/x.zip": "PK"})
	cases := []struct {
		fault, want string
		cfg         Config
	}{
		{fault: "crash", want: "scan worker killed by SIGSEGV while reading EFI/x.zip"},
		{fault: "hang", want: "scan worker timed out (killed after the 3s deadline, sandbox.deadline) while reading EFI/x.zip", cfg: Config{Timeout: 3 * time.Second}},
		{fault: "garbage", want: "scan worker broke the protocol"},
		{fault: "early", want: "scan worker exited before finishing its report while reading EFI/x.zip"},
		{fault: "oom", want: "scan worker exited with status 2 (runtime: out of memory", cfg: Config{Memory: 1 << 30}},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			if tc.fault == "oom" && raceEnabled {
				t.Skip("the race detector's runtime does not start under a small RLIMIT_AS")
			}
			c := tc.cfg
			c.fault = tc.fault
			start := time.Now()
			res, _, err := c.Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: testRules(t), SpoolDir: t.TempDir()})
			if err == nil || res != nil {
				t.Fatalf("results %v, err %v; want a failure", res, err)
			}
			var we *WorkerError
			if !errors.As(err, &we) || !errors.Is(err, ErrWorker) {
				t.Fatalf("error %T %v is not a *WorkerError", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q\nwant prefix %q\nstderr: %s", err, tc.want, we.Stderr)
			}
			if tc.fault == "hang" && (!errors.Is(err, ErrDeadline) || !errors.Is(err, context.DeadlineExceeded)) {
				t.Errorf("a timeout %v is not ErrDeadline", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// The probe tries, inside the real sandbox, what an exploit would; every attempt must fail
// but writing into the spool. The same probe unconfined (same uid, same namespaces) shows the
// targets are reachable without the sandbox, so what stops it is the sandbox.
func TestProbe(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the probe's control needs root (files the worker uid may read without the sandbox)")
	}
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	keys := filepath.Join(base, "keys")
	os.Mkdir(keys, 0o755)
	out := filepath.Join(base, "out")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	for _, f := range []string{"seal.key", "log.key", "policy.toml"} {
		os.WriteFile(filepath.Join(keys, f), []byte("secret"), 0o644)
	}
	targets := probeTargets{
		Read:  []string{filepath.Join(keys, "seal.key"), filepath.Join(keys, "log.key"), filepath.Join(keys, "policy.toml"), "/etc/passwd"},
		Write: []string{filepath.Join(out, "escaped"), "/tmp/airlock-probe-escaped"},
		Spool: "probe-ok",
	}
	defer os.Remove("/tmp/airlock-probe-escaped")
	arg, _ := json.Marshal(targets)
	src := writeTree(t, map[string]string{"f": "x"})
	probe := func(fault string, noLandlock bool) map[string]bool {
		spool := t.TempDir()
		c := &Config{fault: fault + ":" + string(arg)}
		st, conf, err := c.run(context.Background(), &workerConfig{Mode: modeScan, NoLandlock: noLandlock}, Source{Path: src, Kind: Dir}, testRules(t), spool, nil)
		if err == nil && noLandlock && conf.Landlock != 0 {
			t.Fatalf("Landlock ABI %d enforced in the no-Landlock run", conf.Landlock)
		}
		if err != nil {
			t.Fatalf("%s: %v", fault, err)
		}
		got := map[string]bool{}
		for _, e := range st.Entries {
			got[strings.TrimPrefix(e.Path, "probe/")] = e.Size == 1
		}
		return got
	}
	free := probe("unconfined-probe", false)
	for _, k := range []string{"read0", "read1", "read2", "read3", "write0", "spool-write"} {
		if !free[k] {
			t.Errorf("control: %s failed without the sandbox; the probe would prove nothing", k)
		}
	}
	os.Remove(filepath.Join(out, "escaped"))
	// Confined, and again as on a kernel without Landlock: seccomp alone (openat only with
	// O_CREAT|O_EXCL) and the broker (no directory descriptor to climb out of) must hold.
	for _, noLL := range []bool{false, true} {
		probeAsserts(t, probe("probe", noLL), noLL, out)
	}
}

func probeAsserts(t *testing.T, got map[string]bool, noLandlock bool, out string) {
	t.Helper()
	if len(got) < 16 {
		t.Fatalf("probe reported %d attempts: %v", len(got), got)
	}
	for what, ok := range got {
		if what == "spool-write" {
			if !ok {
				t.Error("writing into the spool failed inside the sandbox")
			}
			continue
		}
		if what == "create-excl" && noLandlock {
			// The one gap without Landlock: a new file where uid 65534 may write.
			t.Logf("without Landlock, creating a new file outside the spool: %v", ok)
			os.Remove(filepath.Join(out, "escaped.new"))
			continue
		}
		if ok {
			t.Errorf("inside the sandbox (no Landlock: %v), %s succeeded", noLandlock, what)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "escaped")); err == nil {
		t.Error("a file was written outside the spool")
	}
}

// A lying worker can hide a match, never get an unallowlisted, mis-hashed, planted or unsigned
// file approved: the parent re-hashes, re-looks-up and re-verifies.
func TestLyingWorker(t *testing.T) {
	vec := testenv.GuixVectors(t)
	unauth, err := os.ReadFile(filepath.Join(vec, "unauthorized.export"))
	if err != nil {
		t.Fatal(err)
	}
	aclBytes, _ := os.ReadFile(filepath.Join(vec, "one-acl"))
	acl, err := guix.ParseACL(aclBytes)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []byte("the approved tarball\n")
	allowSum := sha256.Sum256(allowed)
	allow := setAllow{allowSum: int64(len(allowed))}
	dir := writeTree(t, map[string]string{"eicar.com": eicar, "unknown.bin": "nobody approved me", "unauthorized.export": string(unauth), "ok.tar": string(allowed)})

	run := func(fault string) ([]scanner.Result, string, error) {
		spool := t.TempDir()
		c := &Config{fault: fault}
		res, _, err := c.Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: testRules(t), SpoolDir: spool})
		if err != nil {
			t.Fatalf("%s: %v", fault, err)
		}
		return res, spool, Recheck(res, spool)
	}
	res, spool, err := run("lie-clean")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Worst() != scanner.Clean {
			t.Fatalf("the lie did not take: %s %s", r.Path, r.Verdict)
		}
		if strings.HasSuffix(r.Path, ".export") {
			// The parent verifies the export itself, over the spooled bytes.
			f, err := os.Open(filepath.Join(spool, r.Path))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := guix.VerifyExport(context.Background(), f, acl, nil)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if rep.Accept {
				t.Errorf("%s: the unsigned export verified", r.Path)
			}
		}
	}
	approved := map[string]bool{}
	for _, d := range scanner.Decide(res, allow) {
		approved[d.Path] = d.Approved
	}
	want := map[string]bool{"ok.tar": true, "eicar.com": false, "unknown.bin": false, "unauthorized.export": false}
	for p, w := range want {
		if p == "eicar.com" {
			continue // a lying worker can hide a YARA match: the accepted limit of the design
		}
		if approved[p] != w {
			t.Errorf("%s: approved %v, want %v", p, approved[p], w)
		}
	}

	// Claiming the allowlisted hash for every file: the parent's own hash refutes it.
	_, _, err = run("lie-hash:" + hex.EncodeToString(allowSum[:]) + "/" + itoa(len(allowed)))
	if !errors.Is(err, ErrRecheck) {
		t.Errorf("a worker claiming the allowlisted hash: %v, want ErrRecheck", err)
	}
	// A file in the spool it does not report would be burned unjudged: refused.
	_, _, err = run("lie-extra")
	if !errors.Is(err, ErrRecheck) || !strings.Contains(err.Error(), "planted") {
		t.Errorf("a planted spool file: %v, want ErrRecheck", err)
	}
}

type setAllow map[[32]byte]int64

func (s setAllow) Allowed(sum [32]byte, size int64) bool { n, ok := s[sum]; return ok && n == size }
