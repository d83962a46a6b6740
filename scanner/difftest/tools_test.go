package difftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// Bounds on one extraction: a hostile case must not make the harness itself hang or fill the disk.
const (
	toolTimeout   = 10 * time.Second
	toolFileCap   = 64 << 20 // per output file (RLIMIT_FSIZE); a bigger member is cut there
	toolMaxFiles  = 2000     // members read back per extraction
	toolReadTotal = 256 << 20
)

// extractor is one stock tool as the high side would run it on a file.
type extractor struct {
	name string
	bin  string
	// args returns the command line for extracting archive into the empty directory out.
	args func(archive, out string) []string
	// stdin: the archive is the tool's standard input (a pipe, as `cat f | tool` gives it), so
	// streaming readers cannot seek to a zip's central directory.
	stdin bool
	// stdout: the tool writes the one decompressed stream to its standard output, kept as
	// out/<name>.out.
	stdout bool
}

// extractors are every stock tool the harness consults. Each reads its format by content where
// it can; they fail fast on what they do not handle.
var extractors = []extractor{
	{name: "gnutar", bin: "tar", args: func(a, o string) []string {
		return []string{"tar", "-x", "--no-same-owner", "--no-same-permissions", "-F", "false", "-f", a, "-C", o}
	}},
	// tar -i reads on past end-of-archive markers (zero blocks), as one does with concatenated tars.
	{name: "gnutar-i", bin: "tar", args: func(a, o string) []string {
		return []string{"tar", "-x", "-i", "--no-same-owner", "--no-same-permissions", "-F", "false", "-f", a, "-C", o}
	}},
	{name: "bsdtar", bin: "bsdtar", args: func(a, o string) []string {
		return []string{"bsdtar", "-x", "--no-same-owner", "-f", a, "-C", o}
	}},
	{name: "bsdtar-stream", bin: "bsdtar", stdin: true, args: func(a, o string) []string {
		return []string{"bsdtar", "-x", "--no-same-owner", "-f", "-", "-C", o}
	}},
	{name: "unzip", bin: "unzip", args: func(a, o string) []string {
		return []string{"unzip", "-o", "-P", "x", a, "-d", o}
	}},
	{name: "7z", bin: "7z", args: func(a, o string) []string {
		return []string{"7z", "x", "-y", "-px", "-bd", "-o" + o, a}
	}},
	{name: "cpio", bin: "cpio", stdin: true, args: func(a, o string) []string {
		return []string{"cpio", "-i", "-d", "--no-absolute-filenames", "--quiet", "-D", o}
	}},
	{name: "ar", bin: "ar", args: func(a, o string) []string { return []string{"ar", "x", "--output=" + o, a} }},
	{name: "dpkg-deb", bin: "dpkg-deb", args: func(a, o string) []string { return []string{"dpkg-deb", "-x", a, o} }},
	{name: "gzip", bin: "gzip", stdout: true, args: func(a, o string) []string { return []string{"gzip", "-d", "-c", a} }},
	{name: "bzip2", bin: "bzip2", stdout: true, args: func(a, o string) []string { return []string{"bzip2", "-d", "-c", a} }},
	{name: "xz", bin: "xz", stdout: true, args: func(a, o string) []string { return []string{"xz", "-d", "-c", a} }},
	{name: "lzma", bin: "xz", stdout: true, args: func(a, o string) []string { return []string{"xz", "--format=lzma", "-d", "-c", a} }},
	{name: "zstd", bin: "zstd", stdout: true, args: func(a, o string) []string { return []string{"zstd", "-d", "-c", "-q", a} }},
}

// needTools skips (locally) or fails (CI=true) unless every extractor and prlimit are installed.
func needTools(t testing.TB) {
	t.Helper()
	bins := []string{"prlimit"}
	for _, e := range extractors {
		bins = append(bins, e.bin)
	}
	testenv.Need(t, bins...)
}

// member is one regular file a tool left on disk.
type member struct {
	name string // relative to the extraction directory, slash-separated
	size int64
	sum  string // hex SHA-256
	data []byte // kept when small enough to follow down or to look for EICAR
}

// extraction is what one tool left on disk from one file.
type extraction struct {
	tool    string
	err     error // the tool's exit status: reported, never trusted
	members []member
}

// keepBytes is how large a member may be for the harness to keep its bytes (to look inside),
// keepTotal how many bytes it keeps of one extraction.
const (
	keepBytes = 4 << 20
	keepTotal = 64 << 20
)

// extract runs e on the file archive in a fresh directory under dir and reads back every
// regular file it produced, partial output included.
func extract(ctx context.Context, e extractor, archive, dir string) extraction {
	out, err := os.MkdirTemp(dir, e.name+"-")
	if err != nil {
		return extraction{tool: e.name, err: err}
	}
	defer os.RemoveAll(out)
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	argv := append([]string{"prlimit", "--fsize=" + strconv.Itoa(toolFileCap), "--"}, e.args(archive, out)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = out // ar and anything that ignores -C write here
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	if e.stdin {
		f, err := os.Open(archive)
		if err != nil {
			return extraction{tool: e.name, err: err}
		}
		defer f.Close()
		cmd.Stdin = struct{ io.Reader }{f} // not an *os.File: exec copies it through a pipe
	}
	if e.stdout {
		f, err := os.Create(filepath.Join(out, e.name+".out"))
		if err != nil {
			return extraction{tool: e.name, err: err}
		}
		defer f.Close()
		cmd.Stdout = f
	}
	cmd.WaitDelay = time.Second
	// A session of its own: no controlling terminal, so GNU tar's "Prepare volume #2" and any
	// other prompt on /dev/tty fails instead of waiting for the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	ex := extraction{tool: e.name}
	start := time.Now()
	ex.err = cmd.Run()
	if d := time.Since(start); d > toolTimeout/2 && os.Getenv("AIRLOCK_DIFFTEST_SLOW") != "" {
		fmt.Fprintf(os.Stderr, "difftest: %s took %v on %s\n", e.name, d, archive)
	}
	ex.members = readTree(out)
	return ex
}

// readTree lists the non-empty regular files under root with their hashes. Symbolic links,
// devices and FIFOs are not opened: a FIFO would block, and a link's target is another member
// or outside the directory. Modes are not trusted either: tools restore 000.
func readTree(root string) []member {
	var ms []member
	var total, kept int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			os.Chmod(p, 0o700)
			return nil
		}
		if !d.Type().IsRegular() || len(ms) >= toolMaxFiles || total > toolReadTotal {
			return nil
		}
		os.Chmod(p, 0o600)
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		h := sha256.New()
		var keep strings.Builder
		n, _ := io.Copy(io.MultiWriter(h, &capWriter{w: &keep, left: keepBytes + 1}), io.LimitReader(f, toolFileCap))
		total += n
		if n == 0 {
			return nil // nothing to carry malware; tools make empty files for what they cannot read
		}
		rel, _ := filepath.Rel(root, p)
		m := member{name: filepath.ToSlash(rel), size: n, sum: hex.EncodeToString(h.Sum(nil))}
		if n <= keepBytes && kept+n <= keepTotal {
			m.data = []byte(keep.String())
			kept += n
		}
		ms = append(ms, m)
		return nil
	})
	return ms
}

// capWriter keeps at most left bytes and drops the rest without failing the copy.
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.left > 0 {
		k := min(int64(len(p)), c.left)
		c.w.Write(p[:k])
		c.left -= k
	}
	return len(p), nil
}

// exitStatus renders a tool's exit status for reports.
func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ee):
		return "exit " + strconv.Itoa(ee.ExitCode())
	default:
		return err.Error()
	}
}
