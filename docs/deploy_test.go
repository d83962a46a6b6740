package docs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// block is one fenced code block of a Markdown file.
type block struct {
	line   int    // of the opening fence
	lang   string // first word of the info string
	skip   string // "ID: reason" from skip=..., when the block is not run
	exit   int    // expected exit status (exit=N), 0 by default
	script string
}

// parseBlocks returns the fenced blocks of md. An info string is "LANG [skip=ID: reason]
// [exit=N]"; skip= takes the rest of the line.
func parseBlocks(md string) ([]block, error) {
	var out []block
	var cur *block
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				cur.script += l + "\n"
			}
			continue
		}
		if cur != nil {
			out = append(out, *cur)
			cur = nil
			continue
		}
		info := strings.TrimSpace(strings.TrimPrefix(l, "```"))
		b := block{line: n}
		b.lang, info, _ = strings.Cut(info, " ")
		for info != "" {
			info = strings.TrimSpace(info)
			switch {
			case strings.HasPrefix(info, "skip="):
				b.skip, info = strings.TrimPrefix(info, "skip="), ""
				if id, reason, ok := strings.Cut(b.skip, ": "); !ok || id == "" || strings.TrimSpace(reason) == "" {
					return nil, fmt.Errorf("line %d: skip= needs \"ID: reason\", got %q", n, b.skip)
				}
			case strings.HasPrefix(info, "exit="):
				v, rest, _ := strings.Cut(strings.TrimPrefix(info, "exit="), " ")
				code, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("line %d: exit=%q", n, v)
				}
				b.exit, info = code, rest
			default:
				return nil, fmt.Errorf("line %d: unknown fence attribute %q", n, info)
			}
		}
		cur = &b
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: unclosed code block", cur.line)
	}
	return out, sc.Err()
}

// standIns replace skipped blocks whose result later blocks need, with what the test can do
// instead: each says what it stands in for.
func standIns(repo string) map[string]string {
	return map[string]string{
		// The low side's /etc/guix/signing-key.pub: a test vector's signer key.
		"lowside-key": "cp " + filepath.Join(repo, "guix", "testdata", "vectors", "keys", "signer1", "signing-key.pub") + " lowside.pub\n",
	}
}

// TestDeployDoc runs every sh block of DEPLOY.md in order, in one empty folder, with the
// airlock under test first on PATH. A block must exit with its expected status; a skipped block
// is logged with its reason (and replaced by its stand-in, if it has one).
func TestDeployDoc(t *testing.T) {
	testenv.Need(t, "bash", "minisign", "mcopy", "bsdtar", "sha256sum", "truncate")
	md, err := os.ReadFile("DEPLOY.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks(string(md))
	if err != nil {
		t.Fatalf("DEPLOY.md: %v", err)
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Airlock(t), filepath.Join(bin, "airlock")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	stand := standIns(testenv.RepoRoot())
	ran, skipped := 0, 0
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		script := b.script
		if b.skip != "" {
			id, reason, _ := strings.Cut(b.skip, ": ")
			skipped++
			s, ok := stand[id]
			if !ok {
				t.Logf("DEPLOY.md:%d: skipped (%s): %s", b.line, id, reason)
				continue
			}
			t.Logf("DEPLOY.md:%d: skipped (%s): %s; stand-in: %s", b.line, id, reason, strings.TrimSpace(s))
			script = s
		}
		start := time.Now()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("DEPLOY.md:%d: %v", b.line, err)
		}
		if code != b.exit {
			t.Fatalf("DEPLOY.md:%d: exit %d, want %d\n%s\noutput:\n%s", b.line, code, b.exit, script, out)
		}
		ran++
		t.Logf("DEPLOY.md:%d: ok (%s)", b.line, time.Since(start).Round(time.Millisecond))
	}
	if ran < 10 {
		t.Errorf("only %d blocks ran", ran)
	}
	t.Logf("%d blocks ran, %d skipped", ran, skipped)
}

// TestParseBlocks: the fence attributes are read as documented, and a skip without a reason is
// refused.
func TestParseBlocks(t *testing.T) {
	bs, err := parseBlocks("x\n```sh\necho a\n```\n```sh skip=hw: needs a disk\nrm -rf /\n```\n```sh exit=2\nfalse\n```\n```text\ncard\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 4 || bs[0].script != "echo a\n" || bs[1].skip != "hw: needs a disk" || bs[2].exit != 2 || bs[3].lang != "text" {
		t.Errorf("%+v", bs)
	}
	for _, bad := range []string{"```sh skip=hw\nx\n```\n", "```sh skip=: why\nx\n```\n", "```sh exit=x\n```\n", "```sh\nx\n", "```sh frob\n```\n"} {
		if _, err := parseBlocks(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
