package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Guix is a real guix-daemon (Guix 1.5.0, Debian's package) with a scratch store of its own,
// the oracle of airlock's Guix tests. It runs in the root scripts/guix-oracle.sh builds (`make
// unit` builds it first); each Guix value has its own empty /gnu/store, /var/guix and
// /etc/guix (a private mount namespace over the shared root, see the script), so tests neither
// see nor disturb each other's items, and its daemon stops when the test ends.
//
// Every store starts with the same signing key (made once by `guix archive --generate-key` when
// the root was built) and an empty ACL.
type Guix struct {
	t      testing.TB
	script string
	root   string // the root on the host
	state  string // the scratch store's state directory on the host
}

// GuixTimeout bounds one guix command of a test whose context has no deadline of its own (a
// `guix system build -d` takes a minute or two on a loaded machine).
const GuixTimeout = 3 * time.Minute

// GuixOracle starts a guix-daemon on a fresh scratch store for t. It skips t (fails it in CI)
// when the oracle root is not built or the test does not run as root.
func GuixOracle(t testing.TB) *Guix {
	t.Helper()
	if testing.Short() {
		t.Skip("real guix-daemon: not in -short")
	}
	NeedRoot(t)
	Need(t, "unshare", "nsenter", "chroot")
	g := &Guix{t: t, script: filepath.Join(RepoRoot(), "scripts", "guix-oracle.sh")}
	out, err := exec.Command("bash", g.script, "root").Output()
	if err != nil {
		t.Fatalf("guix-oracle.sh root: %v", err)
	}
	g.root = strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(g.root, ".airlock-oracle")); err != nil {
		missing(t, "no real Guix at %s (make guix-oracle builds it): %v", g.root, err)
	}
	state, err := os.MkdirTemp("", "airlock-guix-store-")
	if err != nil {
		t.Fatal(err)
	}
	g.state = state
	t.Cleanup(func() {
		if out, err := exec.Command("bash", g.script, "stop", g.state).CombinedOutput(); err != nil {
			t.Errorf("guix-oracle.sh stop: %v\n%s", err, out)
		}
		// Store items are read-only directories: make them writable before removing them.
		exec.Command("chmod", "-R", "u+w", g.state).Run()
		os.RemoveAll(g.state)
	})
	if out, err := exec.Command("bash", g.script, "start", g.state).CombinedOutput(); err != nil {
		t.Fatalf("guix-oracle.sh start: %v\n%s", err, out)
	}
	return g
}

// Store returns the host directory holding this daemon's /gnu/store.
func (g *Guix) Store() string { return filepath.Join(g.state, "store") }

// Etc returns the host directory holding this daemon's /etc/guix (signing-key.pub, acl).
func (g *Guix) Etc() string { return filepath.Join(g.state, "etc") }

// TempDir returns a fresh directory both sides see: its host path, and the same directory as
// the guix commands in the root see it. It is removed when the test ends.
func (g *Guix) TempDir() (host, inRoot string) {
	g.t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(g.root, "tmp"), "airlock-test-")
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() {
		exec.Command("chmod", "-R", "u+w", dir).Run()
		os.RemoveAll(dir)
	})
	return dir, "/tmp/" + filepath.Base(dir)
}

// GuixError is a guix command that exited non-zero, with what it wrote to stderr.
type GuixError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *GuixError) Error() string {
	return fmt.Sprintf("guix %s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *GuixError) Unwrap() error { return e.Err }

// Run runs `guix ARGS...` (or, when args[0] is not a guix subcommand but a path, that program)
// in the root against this daemon, with stdin as its input, and returns its stdout. A non-zero
// exit is a *GuixError carrying stderr; a test decides whether that is the expected verdict.
// It is bounded by ctx's deadline, or GuixTimeout when ctx has none.
func (g *Guix) Run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	g.t.Helper()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, GuixTimeout)
		defer cancel()
	}
	argv := g.Argv(args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.Bytes(), &GuixError{Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// MustRun is Run that fails the test on error.
func (g *Guix) MustRun(stdin io.Reader, args ...string) []byte {
	g.t.Helper()
	out, err := g.Run(context.Background(), stdin, args...)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// Argv returns the command line that runs args (as Run does: a guix subcommand, or an absolute
// program path) against this daemon, for callers that run and measure the process themselves
// (benchmarks through benchtab.Run).
func (g *Guix) Argv(args ...string) []string {
	argv := []string{"bash", g.script, "run", g.state, "--"}
	if len(args) > 0 && !strings.HasPrefix(args[0], "/") {
		argv = append(argv, "guix")
	}
	return append(argv, args...)
}
