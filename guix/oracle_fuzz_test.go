package guix_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// fuzzing reports whether the test binary runs a fuzz target's fuzzing engine (-test.fuzz), not
// just its seed corpus.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// oracleCaseTimeout bounds the daemon's verdict on one input: oracle-import.scm gives up on a case
// after 30 s (a refusal), and a server that says nothing for longer is killed and restarted.
const oracleCaseTimeout = 45 * time.Second

// FuzzOracleImport: for any bytes, when airlock accepts them as an export under an ACL that
// authorizes a real guix-daemon's key, that daemon imports them (`guix archive --import` into
// a store authorizing the same key, emptied after each input). The seeds are a real 5-item
// export and its one-item parts.
//
// Under -fuzz every worker process runs this function and so makes its own stores; the seeds
// the coordinator sends them must verify under each worker's ACL, so the source store signs
// with one fixed key (derived from a constant) in every process. The daemon is asked through
// one long-running oracle-import.scm per process (importServer: names on its stdin, a verdict
// line each, bounded by oracleCaseTimeout), not a `guix repl` per input, and the engine's
// minimization is bounded by executions (boundMinimization). It runs only under
// -fuzz with AIRLOCK_GUIX_ORACLE_FUZZ=1 (each worker starts two daemons); TestOracle's
// differential covers the seeds in `make test`.
func FuzzOracleImport(f *testing.F) {
	if !fuzzing() || os.Getenv("AIRLOCK_GUIX_ORACLE_FUZZ") == "" {
		f.Skip("the daemon-as-oracle fuzz target runs under -fuzz with AIRLOCK_GUIX_ORACLE_FUZZ=1 only (TestOracle covers its seeds)")
	}
	closeFuzzFDsOnExec()
	seed := sha256.Sum256([]byte("airlock FuzzOracleImport source key"))
	key, err := guix.GenerateKey(bytes.NewReader(seed[:]))
	if err != nil {
		f.Fatal(err)
	}
	reapWorkerStores(f)
	it := makeRealItemsSigned(f, key)
	noteWorkerStores(f, it.src, it.sink)
	acl, err := guix.ParseACL(it.acl)
	if err != nil {
		f.Fatal(err)
	}
	if rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(it.export), acl, nil); err != nil || !rep.Accept {
		f.Fatalf("the seed export does not verify under the sink's ACL: %v %v", err, rep)
	}
	f.Add(it.export)
	for _, b := range it.single {
		f.Add(b)
	}
	boundMinimization(f)
	srv := newImportServer(f, it.sink)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(b), acl, nil)
		if err != nil {
			t.Fatalf("VerifyExport: %v", err)
		}
		if !rep.Accept {
			return // airlock stricter or both refuse: only the other way round is a bug
		}
		v, err := srv.judge(b)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if v != "ACCEPT" {
			t.Fatalf("airlock accepts an export that guix-daemon refuses: %s", v)
		}
	})
}

// closeFuzzFDsOnExec keeps the fuzzing engine's pipes and shared memory (descriptors 3, 4 and 5
// of a worker process, inherited without close-on-exec) out of the programs this target starts.
// A guix-daemon outlives the command that starts it; holding the worker's end of fuzz_out, it
// kept the coordinator from ever reading EOF there when the worker stopped, so the run never
// ended after -fuzztime.
func closeFuzzFDsOnExec() {
	if !isFuzzWorker() {
		return
	}
	for fd := 3; fd <= 5; fd++ {
		syscall.CloseOnExec(fd)
	}
}

// workerStoresEnv names the directory where fuzz workers note their scratch stores for the
// coordinator to remove.
const workerStoresEnv = "AIRLOCK_GUIX_ORACLE_FUZZ_STORES"

func isFuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// reapWorkerStores, in the coordinator, makes the directory workers note their stores in
// (workers inherit the coordinator's environment) and, when fuzzing is over and every worker has
// exited, stops their daemons and removes their stores. A worker cannot be trusted to do it
// itself: the engine kills a worker a second after telling it to stop, before its cleanups have
// stopped two daemons.
func reapWorkerStores(f *testing.F) {
	if isFuzzWorker() {
		return
	}
	dir := f.TempDir()
	f.Setenv(workerStoresEnv, dir)
	script := filepath.Join(testenv.RepoRoot(), "scripts", "guix-oracle.sh")
	f.Cleanup(func() {
		notes, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, n := range notes {
			b, err := os.ReadFile(n)
			if err != nil {
				continue
			}
			state := strings.TrimSpace(string(b))
			if !strings.HasPrefix(filepath.Base(state), "airlock-guix-store-") {
				continue // only what GuixOracle made
			}
			if out, err := exec.Command("bash", script, "stop", state).CombinedOutput(); err != nil {
				f.Errorf("guix-oracle.sh stop %s: %v\n%s", state, err, out)
			}
			exec.Command("chmod", "-R", "u+w", state).Run()
			os.RemoveAll(state)
		}
	})
}

// noteWorkerStores, in a worker, notes the state directories of its stores for the coordinator.
func noteWorkerStores(f *testing.F, gs ...*testenv.Guix) {
	dir := os.Getenv(workerStoresEnv)
	if !isFuzzWorker() || dir == "" {
		return
	}
	for _, g := range gs {
		state := filepath.Dir(g.Store())
		note := filepath.Join(dir, fmt.Sprintf("%d-%s", os.Getpid(), filepath.Base(state)))
		if err := os.WriteFile(note, []byte(state+"\n"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
}

// oracleMinimizeExecs bounds the engine's minimization of each new input (the engine
// minimizes every input that widens coverage, for -fuzzminimizetime, 60 s by default, without
// counting those executions, which looked like a stalled run). Minimizing an input airlock
// accepts asks the daemon at every step, so it is bounded by a number of executions instead.
const oracleMinimizeExecs = "100x"

// boundMinimization sets -test.fuzzminimizetime to oracleMinimizeExecs unless the command line
// set it. The engine reads the flag when F.Fuzz starts, so this must come before it.
func boundMinimization(f *testing.F) {
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if set {
		return
	}
	if err := flag.Set("test.fuzzminimizetime", oracleMinimizeExecs); err != nil {
		f.Fatalf("-test.fuzzminimizetime: %v", err)
	}
}

// importServer is one oracle-import.scm (guix repl) reading file names on its stdin, the sink
// store's judge for every input of one process: a guile start-up and a daemon connection once,
// not per input.
type importServer struct {
	t        testing.TB
	g        *testenv.Guix
	host, in string // the shared directory (testenv.Guix.TempDir)
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string // verdict lines; closed when the server's stdout ends
}

func newImportServer(t testing.TB, g *testenv.Guix) *importServer {
	t.Helper()
	s := &importServer{t: t, g: g}
	s.host, s.in = g.TempDir()
	scm, err := os.ReadFile("testdata/oracle-import.scm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.host, "import.scm"), scm, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *importServer) start() error {
	argv := s.g.Argv("repl", "--", s.in+"/import.scm", "-")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop kills the whole chain
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	s.cmd, s.stdin, s.lines = cmd, in, lines
	return nil
}

// stop ends the server: EOF on its stdin, then its process group after a grace period.
func (s *importServer) stop() {
	if s.cmd == nil {
		return
	}
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

var errNoVerdict = errors.New("no verdict from guix-daemon")

// judge imports b into the sink store (then empties it again) and returns "ACCEPT" or
// "REFUSE<TAB>why". A server that gives no verdict within oracleCaseTimeout is killed, and
// the next input starts a new one.
func (s *importServer) judge(b []byte) (string, error) {
	file := filepath.Join(s.host, "input.export")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return "", err
	}
	if s.cmd == nil {
		if err := s.start(); err != nil {
			return "", fmt.Errorf("starting oracle-import.scm: %w", err)
		}
	}
	if _, err := fmt.Fprintf(s.stdin, "%s/input.export\n", s.in); err != nil {
		s.stop()
		return "", fmt.Errorf("%w: %v", errNoVerdict, err)
	}
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.stop()
			return "", fmt.Errorf("%w: oracle-import.scm exited", errNoVerdict)
		}
		_, v, _ := strings.Cut(line, "\t")
		return v, nil
	case <-time.After(oracleCaseTimeout):
		s.stop()
		return "", fmt.Errorf("%w within %v", errNoVerdict, oracleCaseTimeout)
	}
}
