package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/scanner"
)

func TestMain(m *testing.M) {
	MaybeWorker(os.Args)
	os.Exit(m.Run())
}

const testRule = `rule EICAR_test_file {
  strings: $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition: $eicar
}
`

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

func testRules(t testing.TB) *scanner.Rules {
	t.Helper()
	rules, err := scanner.CompileString("test", testRule)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rules.Destroy)
	return rules
}

func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, s := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanDirInWorker(t *testing.T) {
	dir := writeTree(t, map[string]string{"a/eicar.com": eicar, "b.txt": "hello\n"})
	spool := t.TempDir()
	c := &Config{}
	res, conf, err := c.Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: testRules(t),
		SpoolDir: spool, SpoolMax: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(conf)
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		want := scanner.Clean
		if strings.Contains(r.Path, "eicar") {
			want = scanner.Match
		}
		if r.Verdict != want {
			t.Errorf("%s: %s, want %s", r.Path, r.Verdict, want)
		}
	}
	if err := Recheck(res, spool); err != nil {
		t.Fatal(err)
	}
}

// Check: a worker that only confines itself and reports. On this host (and the appliance's
// kernel) that is Landlock, seccomp and, as root, the namespaces and uid 65534.
func TestCheck(t *testing.T) {
	conf, err := (&Config{}).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(conf)
	if !conf.Sandboxed || !conf.Seccomp || conf.PID == os.Getpid() {
		t.Errorf("confinement %+v", conf)
	}
	if abi, _ := landlockABI(); abi > 0 && conf.Landlock == 0 {
		t.Errorf("the kernel has Landlock ABI %d, the worker enforced none", abi)
	}
	if os.Getuid() == 0 && (conf.UID != DefaultID || !conf.Namespaces) {
		t.Errorf("as root: worker uid %d, namespaces %v", conf.UID, conf.Namespaces)
	}
	// A worker binary that cannot start is an error, not a confinement.
	if _, err := (&Config{Executable: "/nonexistent"}).Check(context.Background()); err == nil {
		t.Error("a missing worker binary passed the check")
	}
}
