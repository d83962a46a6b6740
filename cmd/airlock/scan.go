package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
	"github.com/airlock-appliance/airlock/sealing"
)

var scanCommand = command{
	name:    "scan",
	usage:   "[--rules FILE.yar]... [--compiled RULES.yarc] [--json] [--allowlist F --approver-pub P] [--acl ACL] [--image] [--no-sandbox] [--worker-deadline D] [--worker-memory SIZE] PATH|DEVICE|IMAGE...",
	summary: "YARA-scan files, recursing into archives, NARs and Guix exports",
}

func init() { scanCommand.run = runScan }

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runScan(ctx context.Context, e *env, args []string) int {
	fl := newFlags(e, scanCommand)
	var rules stringList
	fl.Var(&rules, "rules", "YARA source file (repeatable; default: the built-in rule set directory $AIRLOCK_RULES)")
	compiled := fl.String("compiled", "", "precompiled rules (yarac output) instead of --rules")
	asJSON := fl.Bool("json", false, "print the JSON report (one line) instead of the summary")
	allowPath := fl.String("allowlist", "", "approver-signed allowlist (needs --approver-pub)")
	approverPub := fl.String("approver-pub", "", "approver's minisign public key")
	aclPath := fl.String("acl", "", "Guix ACL: judge every item of every Guix export")
	image := fl.Bool("image", false, "treat regular-file arguments as disk images (read in userspace, not mounted)")
	workers := fl.Int("workers", 0, "files scanned in parallel (default: number of cores)")
	wf := addWorkerFlags(fl)
	limits := scanner.DefaultLimits()
	fl.IntVar(&limits.MaxDepth, "max-depth", limits.MaxDepth, "archive nesting depth limit")
	fl.Int64Var(&limits.MaxRatio, "max-ratio", limits.MaxRatio, "decompression ratio limit (N:1)")
	fl.Int64Var(&limits.MaxExpanded, "max-expanded", limits.MaxExpanded, "decompressed bytes limit per top-level file")
	fl.IntVar(&limits.MaxEntries, "max-entries", limits.MaxEntries, "inner file count limit per top-level file")
	fl.Int64Var(&limits.MaxEntrySize, "max-entry-size", limits.MaxEntrySize, "size limit of one inner file")
	if ok, code := parse(e, fl, args); !ok {
		return code
	}
	if fl.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock scan: no PATH, DEVICE or IMAGE given")
		fl.Usage()
		return exitError
	}
	if (*allowPath == "") != (*approverPub == "") {
		fmt.Fprintln(e.stderr, "airlock scan: --allowlist and --approver-pub go together")
		return exitError
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The scanner bounds what it holds; this keeps the garbage collector near that bound.
		debug.SetMemoryLimit(64 << 20)
	}
	rs, err := loadRules(rules, *compiled)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock scan: %v\n", err)
		return exitError
	}
	defer rs.Destroy()
	opt := scanner.Options{Limits: limits, Workers: *workers}
	decide := false
	var acl *guix.ACL
	var allow scanner.Allowlist
	if *allowPath != "" {
		allow, err = loadAllowlist(*allowPath, *approverPub)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock scan: %v\n", err)
			return exitError
		}
		decide = true
	}
	if *aclPath != "" {
		acl, err = loadGuixPolicy(*aclPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock scan: %v\n", err)
			return exitError
		}
		decide = true
	}
	sb, err := wf.config(e.stderr, "scan")
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock scan: %v\n", err)
		return exitError
	}
	var results []scanner.Result
	for _, arg := range fl.Args() {
		rs, err := scanArg(ctx, sb, &sandbox.ScanRequest{Rules: rs, Options: opt}, arg, *image, decide, acl)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock scan: %s: %v\n", arg, err)
			return exitError
		}
		results = append(results, rs...)
	}
	var decisions []scanner.Decision
	if decide {
		decisions = scanner.Decide(results, allow)
	}
	rep := scanner.NewReport(results, decisions)
	out := e.stdout
	if *asJSON {
		err = compactJSONLine(out, rep.WriteJSON)
	} else {
		err = rep.WriteText(out)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock scan: write report: %v\n", err)
		return exitError
	}
	ok := true
	for i := range results {
		if results[i].Worst() != scanner.Clean {
			ok = false
			if !*asJSON {
				continue
			}
			for _, p := range results[i].Problems() { // JSON went to stdout; name the problems on stderr too
				fmt.Fprintln(e.stderr, p)
			}
		}
	}
	for _, d := range decisions {
		ok = ok && d.Approved
	}
	if !ok {
		return exitVerdict
	}
	return exitOK
}

// loadRules compiles --rules files (or loads --compiled); with neither, every .yar file of
// $AIRLOCK_RULES.
func loadRules(files []string, compiled string) (*scanner.Rules, error) {
	if compiled != "" {
		if len(files) > 0 {
			return nil, errors.New("--compiled and --rules exclude each other")
		}
		return scanner.LoadCompiled(compiled)
	}
	if len(files) == 0 {
		dir := os.Getenv("AIRLOCK_RULES")
		if dir == "" {
			return nil, errors.New("no rules: give --rules FILE.yar (e.g. scanner/rules/*.yar) or set AIRLOCK_RULES to a directory of .yar files")
		}
		m, err := filepath.Glob(filepath.Join(dir, "*.yar"))
		if err != nil || len(m) == 0 {
			return nil, fmt.Errorf("AIRLOCK_RULES=%s: no .yar files", dir)
		}
		files = m
	}
	return scanner.CompileFiles(files...)
}

// scanArg scans one argument in a scan worker: a directory (every file under it, read with the
// worker's uid, 65534 when run as root), a regular file, or a block device or (with --image) an
// image file read without mounting (both handed to the worker open). When a decision
// is asked for, the worker spools what it read and this process re-hashes the spool and verifies
// the Guix exports in it itself (package sandbox: the worker can only reject). Result paths start
// with the argument as given.
func scanArg(ctx context.Context, sb *sandbox.Config, req *sandbox.ScanRequest, arg string, image, decide bool, acl *guix.ACL) ([]scanner.Result, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	prefix := arg
	r := *req
	r.Source.Path = arg
	switch {
	case fi.Mode()&fs.ModeDevice != 0 || (image && fi.Mode().IsRegular()):
		r.Source.Kind = sandbox.Medium
	case fi.IsDir():
		r.Source.Kind = sandbox.Dir
	case fi.Mode().IsRegular():
		r.Source.Kind, prefix = sandbox.File, filepath.Dir(arg)
	default:
		return nil, fmt.Errorf("not a file, directory or block device (%s)", fi.Mode().Type())
	}
	if decide {
		if r.SpoolDir, err = os.MkdirTemp("", "airlock-scan-spool-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(r.SpoolDir)
	}
	results, _, err := sb.Scan(ctx, &r)
	if err != nil {
		return nil, err
	}
	if decide {
		if err := sandbox.Recheck(results, r.SpoolDir); err != nil {
			return nil, err
		}
		if acl != nil {
			if err := sandbox.VerifyExports(ctx, results, r.SpoolDir, acl, nil); err != nil {
				return nil, err
			}
		}
	}
	for i := range results {
		results[i].Rename(joinPath(prefix, results[i].Path))
	}
	return results, nil
}

func joinPath(prefix, p string) string {
	if prefix == "." && p != "." {
		return p
	}
	if p == "." {
		return prefix
	}
	return strings.TrimSuffix(prefix, "/") + "/" + p
}

// loadAllowlist verifies the approver-signed allowlist (path and path.minisig) against the
// approver's public key.
func loadAllowlist(path, pub string) (scanner.Allowlist, error) {
	key, err := sealing.LoadPublicKey(pub)
	if err != nil {
		return nil, err
	}
	a, err := sealing.LoadAllowlist(path, key)
	if err != nil {
		return nil, err
	}
	return allowlist{a}, nil
}

// allowlist adapts sealing's allowlist to the scanner's one-method view of it.
type allowlist struct{ a *sealing.Allowlist }

func (l allowlist) Allowed(sum [32]byte, size int64) bool {
	_, ok := l.a.Lookup(sum, size)
	return ok
}

// loadGuixPolicy reads the Guix ACL (as /etc/guix/acl holds it).
func loadGuixPolicy(path string) (*guix.ACL, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	acl, err := guix.ParseACL(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return acl, nil
}
