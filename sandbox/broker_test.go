package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/airlock-appliance/airlock/scanner"
)

// A root-only tree (0700 directories, 0600 files, owned by root) is scanned by a worker that
// runs as uid 65534: the broker opens for it, and it reads the content through descriptors.
func TestScanRootOnlyTree(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (a tree the worker's uid cannot read)")
	}
	dir := t.TempDir()
	files := map[string]string{"secret/eicar.com": eicar, "secret/deeper/clean.txt": "hello\n", "top.txt": "top\n"}
	for p, s := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o700)
		if err := os.WriteFile(full, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "secret", "escape"))
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return err
	})
	spool := t.TempDir()
	res, conf, err := (&Config{}).Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: testRules(t), SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	if conf.UID != DefaultID || !conf.Seccomp {
		t.Fatalf("the worker was not confined as uid %d: %v", DefaultID, conf)
	}
	got := map[string]scanner.Result{}
	for _, r := range res {
		got[r.Path] = r
	}
	for p, want := range map[string]scanner.Verdict{"secret/eicar.com": scanner.Match, "secret/deeper/clean.txt": scanner.Clean, "top.txt": scanner.Clean} {
		if r, ok := got[p]; !ok || r.Verdict != want || r.Size != int64(len(files[p])) {
			t.Errorf("%s: %+v, want %s", p, r.File, want)
		}
	}
	// The symlink is reported as one (its target as the link says), never followed out of the tree.
	if r := got["secret/escape"]; r.Type != scanner.TypeSymlink || r.Target != "/etc/passwd" {
		t.Errorf("secret/escape: %+v", r.File)
	}
	if err := Recheck(res, spool); err != nil {
		t.Fatal(err)
	}
}

// The broker answers only inside the tree, opens only regular files and directories (a FIFO
// would block it), and never follows a link out.
func TestBrokerRefuses(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "abs"))
	os.Symlink("../../../../../../etc/passwd", filepath.Join(dir, "rel"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, req := range []string{"o ../x", "o /etc/passwd", "o abs", "o rel", "o fifo", "l ../x", "r /x", "x f", "of", "o f/../../x"} {
		reply, f := brokerAnswer(root, nil, req)
		if f != nil {
			f.Close()
			t.Errorf("%q: opened", req)
		}
		if !strings.HasPrefix(string(reply), "-") {
			t.Errorf("%q: %q, want a refusal", req, reply)
		}
	}
	for req, want := range map[string]string{"o f": "+", "r abs": "+/etc/passwd", "o .": "+"} {
		reply, f := brokerAnswer(root, nil, req)
		if f != nil {
			f.Close()
		}
		if string(reply) != want || (req[0] == 'o') != (f != nil) {
			t.Errorf("%q: %q (file %v), want %q", req, reply, f != nil, want)
		}
	}
}

// The broker parses requests from a worker that may be hostile: whatever it sends, the broker
// neither panics nor hands out a descriptor of anything outside the tree and the spool.
func FuzzBrokerAnswer(f *testing.F) {
	for _, s := range []string{"o f", "l f", "r abs", "c new", "c d/new", "o ../x", "o /etc/passwd", "o fifo", "c ../x", "o", "", "c ."} {
		f.Add(s)
	}
	dir := f.TempDir()
	tree, spoolDir := filepath.Join(dir, "tree"), filepath.Join(dir, "spool")
	os.MkdirAll(tree, 0o755)
	os.MkdirAll(spoolDir, 0o700)
	os.WriteFile(filepath.Join(tree, "f"), []byte("x"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(tree, "abs"))
	syscall.Mkfifo(filepath.Join(tree, "fifo"), 0o644)
	root, err := os.OpenRoot(tree)
	if err != nil {
		f.Fatal(err)
	}
	spool, err := os.OpenRoot(spoolDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, req string) {
		reply, file := brokerAnswer(root, spool, req)
		if len(reply) == 0 || (reply[0] != '+' && reply[0] != '-') || len(reply) > maxBrokerMsg {
			t.Fatalf("%q: reply %q", req, reply)
		}
		if file == nil {
			return
		}
		defer file.Close()
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(file.Fd())))
		if err != nil {
			t.Fatal(err)
		}
		if p != tree && !strings.HasPrefix(p, tree+"/") && !strings.HasPrefix(p, spoolDir+"/") {
			t.Fatalf("%q: opened %s, outside the tree and the spool", req, p)
		}
	})
}
