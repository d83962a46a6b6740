// Package testenv gives tests the real tools they use as oracles and the airlock binary they drive.
//
// A test that needs a peer tool (minisign, sha256sum, yara, xorriso, ...) calls Need. Outside CI a
// missing tool skips the test; in CI (CI=true) it fails it, because `make deps` installs every tool
// and a silent skip there would hide a broken setup.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped for a missing tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips (or, in CI, fails) t unless every named tool is on PATH.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed (make deps installs it)", tool)
		}
	}
}

// NeedRoot skips (or, in CI, fails) t unless it runs as root, as loop devices and BLK ioctls need.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root")
	}
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the top of the airlock module, found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var airlockBin struct {
	once sync.Once
	path string
	err  error
}

// Airlock returns the path of an airlock binary: $AIRLOCK_BIN when set (make test sets it to
// bin/airlock), otherwise one built once per test process.
func Airlock(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AIRLOCK_BIN"); p != "" {
		return p
	}
	airlockBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "airlock-bin-")
		if err != nil {
			airlockBin.err = err
			return
		}
		airlockBin.path = filepath.Join(dir, "airlock")
		cmd := exec.Command("go", "build", "-o", airlockBin.path, "./cmd/airlock")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			airlockBin.err = &buildError{out: string(out), err: err}
		}
	})
	if airlockBin.err != nil {
		t.Fatalf("build airlock: %v", airlockBin.err)
	}
	return airlockBin.path
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
