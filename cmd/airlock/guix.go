package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/ctxio"
)

var guixCommand = command{
	name:    "guix",
	usage:   "verify --acl ACL EXPORT... | quorum --builders B --k N INPUT... | sign --key KEY IN | ls EXPORT|NAR | hash [-S nar] PATH",
	summary: "verify, re-sign, list and hash Guix exports and NARs",
}

func init() { guixCommand.run = runGuix }

// guixSubcommands lists the subcommands of airlock guix (a function: their run functions
// refer back to the list).
func guixSubcommands() []command {
	return []command{
		{
			name:    "guix verify",
			usage:   "--acl ACL [--present FILE] [--json] EXPORT...",
			summary: "judge every item of each export as guix-daemon would (exit 0 iff every file is accepted)",
			run:     runGuixVerify,
		},
		guixQuorumCommand,
		{
			name:    "guix sign",
			usage:   "--key GUIX_SECRET_KEY [--out FILE] IN.export",
			summary: "re-sign every item of an export with KEY (to stdout unless --out)",
			run:     runGuixSign,
		},
		{
			name:    "guix ls",
			usage:   "EXPORT|NAR",
			summary: "list the items of an export or the entries of a NAR, with nix-base32 SHA-256 hashes",
			run:     runGuixLs,
		},
		{
			name:    "guix hash",
			usage:   "[-S none|nar] [-x] [-f nix-base32|base32|base16|base64] PATH...",
			summary: "print the hash `guix hash` prints for PATH",
			run:     runGuixHash,
		},
		guixAuthenticateCommand,
		{
			name:    "guix acl",
			usage:   "--acl ACL add KEY.pub... | remove KEY.pub... | list",
			summary: "authorize (as guix archive --authorize), remove or list the Guix keys of an ACL file",
			run:     runGuixACL,
		},
	}
}

func runGuix(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, guixCommand)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: airlock guix SUBCOMMAND [flags] [args]\n\n%s\n\nSubcommands:\n", guixCommand.summary)
		for _, c := range guixSubcommands() {
			fmt.Fprintf(w, "  airlock %s %s\n      %s\n", c.name, c.usage, c.summary)
		}
	}
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.SetOutput(e.stderr)
		fmt.Fprintln(e.stderr, "airlock guix: missing subcommand")
		fs.Usage()
		return exitError
	}
	for _, c := range guixSubcommands() {
		if c.name == "guix "+fs.Arg(0) {
			return c.run(ctx, e, fs.Args()[1:])
		}
	}
	fmt.Fprintf(e.stderr, "airlock guix: unknown subcommand %q (airlock guix --help lists them)\n", fs.Arg(0))
	return exitError
}

func guixSub(name string) command {
	for _, c := range guixSubcommands() {
		if c.name == "guix "+name {
			return c
		}
	}
	panic("no guix subcommand " + name)
}

// readPresent reads a list of store paths, one per line ('#' comments and blank lines ignored).
type jsonItem struct {
	Index     int      `json:"index"`
	StorePath string   `json:"store_path,omitempty"`
	Outcome   string   `json:"outcome"`
	Reason    string   `json:"reason,omitempty"`
	Missing   []string `json:"missing_references,omitempty"`
	NARSize   int64    `json:"nar_size,omitempty"`
	NARHash   string   `json:"nar_sha256,omitempty"`
}

type jsonReport struct {
	File      string     `json:"file"`
	Items     []jsonItem `json:"items"`
	Stream    string     `json:"stream"`
	StreamErr string     `json:"stream_error,omitempty"`
	Overall   string     `json:"overall"`
	Error     string     `json:"error,omitempty"`
}

func runGuixVerify(ctx context.Context, e *env, args []string) int {
	c := guixSub("verify")
	fs := newFlags(e, c)
	aclPath := fs.String("acl", "", "Guix ACL file (as /etc/guix/acl): keys authorized to sign")
	presentPath := fs.String("present", "", "file listing store paths already on the high side, one per line")
	asJSON := fs.Bool("json", false, "print JSON Lines: one report per EXPORT")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *aclPath == "" || fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock guix verify: need --acl ACL and at least one EXPORT")
		fs.Usage()
		return exitError
	}
	aclBytes, err := os.ReadFile(*aclPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix verify: %v\n", err)
		return exitError
	}
	acl, err := guix.ParseACL(aclBytes)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix verify: %s: %v\n", *aclPath, err)
		return exitError
	}
	var present []string
	if *presentPath != "" {
		if present, err = guix.LoadStorePaths(*presentPath); err != nil {
			fmt.Fprintf(e.stderr, "airlock guix verify: %v\n", err)
			return exitError
		}
	}
	code := exitOK
	var reports []jsonReport
	for _, name := range fs.Args() {
		jr := jsonReport{File: name, Items: []jsonItem{}}
		rep, err := verifyFile(ctx, name, acl, present)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
			jr.Error, jr.Overall = err.Error(), "ERROR"
			reports = append(reports, jr)
			code = exitError
			continue
		}
		for _, it := range rep.Items {
			ji := jsonItem{Index: it.Index, StorePath: it.StorePath, Outcome: string(it.Outcome), Reason: it.Reason, Missing: it.Missing}
			if it.Info != nil {
				ji.NARSize, ji.NARHash = it.Info.NARSize, guix.EncodeBase32(it.Info.NARHash[:])
			}
			jr.Items = append(jr.Items, ji)
			if !*asJSON {
				path := it.StorePath
				if path == "" {
					path = fmt.Sprintf("item %d", it.Index)
				}
				line := fmt.Sprintf("%s: %s: %s", name, path, it.Outcome)
				if it.Reason != "" && it.Outcome != guix.OutcomeValid {
					line += " (" + it.Reason + ")"
				}
				fmt.Fprintln(e.stdout, line)
			}
		}
		jr.Stream, jr.Overall = string(rep.Stream), "ACCEPT"
		if rep.StreamErr != nil {
			jr.StreamErr = rep.StreamErr.Error()
		}
		if !rep.Accept {
			jr.Overall = "REJECT"
			if code == exitOK {
				code = exitVerdict
			}
		}
		if !*asJSON {
			if rep.Stream != guix.StreamComplete {
				fmt.Fprintf(e.stdout, "%s: stream %s: %v\n", name, rep.Stream, rep.StreamErr)
			}
			if len(rep.Items) == 0 && rep.Stream == guix.StreamComplete {
				fmt.Fprintf(e.stdout, "%s: no items\n", name)
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", name, jr.Overall)
			if !rep.Accept {
				why := "stream " + string(rep.Stream)
				if ff := rep.FirstFailure(); ff != nil {
					why = fmt.Sprintf("item %d %s", ff.Index, ff.Outcome)
				} else if len(rep.Items) == 0 {
					why = "no items"
				}
				fmt.Fprintf(e.stderr, "%s: rejected: %s\n", name, why)
			}
		}
		reports = append(reports, jr)
	}
	if *asJSON {
		if err := writeJSONLines(e.stdout, reports); err != nil {
			fmt.Fprintf(e.stderr, "airlock guix verify: %v\n", err)
			return exitError
		}
	}
	return code
}

func verifyFile(ctx context.Context, name string, acl *guix.ACL, present []string) (*guix.ExportReport, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return guix.VerifyExport(ctx, f, acl, present)
}

func runGuixSign(ctx context.Context, e *env, args []string) int {
	c := guixSub("sign")
	fs := newFlags(e, c)
	keyPath := fs.String("key", "", "Guix secret key file (signing-key.sec format)")
	outPath := fs.String("out", "", "write the signed export here instead of stdout (removed on failure)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *keyPath == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock guix sign: need --key KEY and exactly one IN.export")
		fs.Usage()
		return exitError
	}
	kb, err := os.ReadFile(*keyPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix sign: %v\n", err)
		return exitError
	}
	key, err := guix.ParsePrivateKey(kb)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix sign: %s: %v\n", *keyPath, err)
		return exitError
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix sign: %v\n", err)
		return exitError
	}
	defer in.Close()
	var out io.Writer = e.stdout
	var outFile *os.File
	if *outPath != "" {
		if outFile, err = os.Create(*outPath); err != nil {
			fmt.Fprintf(e.stderr, "airlock guix sign: %v\n", err)
			return exitError
		}
		out = outFile
	}
	err = guix.ResignExport(ctx, out, in, key)
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*outPath)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix sign: %s: %v\n", fs.Arg(0), err)
		var fe *guix.FormatError
		if errors.As(err, &fe) && fe.Rule != guix.RuleRead {
			return exitVerdict
		}
		return exitError
	}
	return exitOK
}

func runGuixLs(ctx context.Context, e *env, args []string) int {
	c := guixSub("ls")
	fs := newFlags(e, c)
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock guix ls: need exactly one EXPORT or NAR")
		fs.Usage()
		return exitError
	}
	name := fs.Arg(0)
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix ls: %v\n", err)
		return exitError
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(8)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock guix ls: %s: too short to be an export or a NAR\n", name)
		return exitVerdict
	}
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	switch binary.LittleEndian.Uint64(head) {
	case 13: // len("nix-archive-1")
		err = lsNAR(w, guix.NewNARReader(br))
	case 0, 1:
		err = lsExport(w, guix.NewExportReader(ctxio.NewReader(ctx, br)))
	default:
		err = fmt.Errorf("neither an export stream (u64 0 or 1) nor a NAR (\"nix-archive-1\") at offset 0")
	}
	if err != nil {
		w.Flush()
		fmt.Fprintf(e.stderr, "airlock guix ls: %s: %v\n", name, err)
		var fe *guix.FormatError
		if errors.As(err, &fe) && fe.Rule == guix.RuleRead {
			return exitError
		}
		return exitVerdict
	}
	return exitOK
}

// lsNAR prints one line per entry: type and mode, size, nix-base32 SHA-256 of regular files,
// path (and symlink target).
func lsNAR(w io.Writer, nr *guix.NARReader) error {
	h := sha256.New()
	for {
		ent, err := nr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		path := ent.Path
		if path == "" {
			path = "/"
		}
		switch ent.Type {
		case guix.Regular:
			h.Reset()
			if _, err := io.Copy(h, nr); err != nil {
				return err
			}
			mode := "-r--r--r--"
			if ent.Executable {
				mode = "-r-xr-xr-x"
			}
			fmt.Fprintf(w, "%s %12d sha256:%s %s\n", mode, ent.Size, guix.EncodeBase32(h.Sum(nil)), path)
		case guix.Directory:
			fmt.Fprintf(w, "dr-xr-xr-x %12d %59s %s\n", 0, "-", path)
		case guix.Symlink:
			fmt.Fprintf(w, "lrwxrwxrwx %12d %59s %s -> %s\n", 0, "-", path, ent.Target)
		}
	}
}

// lsExport prints one line per item: store path, NAR size, NAR hash, signature state,
// references and deriver.
func lsExport(w io.Writer, er *guix.ExportReader) error {
	for {
		it, err := er.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		info, err := it.Trailer()
		if err != nil {
			return err
		}
		signed := "unsigned"
		if info.Signature != nil {
			signed = "signed"
		}
		fmt.Fprintf(w, "%s\tnar %d bytes sha256:%s\t%s\n", info.StorePath, info.NARSize, guix.EncodeBase32(info.NARHash[:]), signed)
		for _, r := range info.References {
			fmt.Fprintf(w, "\treference %s\n", r)
		}
		if info.Deriver != "" {
			fmt.Fprintf(w, "\tderiver %s\n", info.Deriver)
		}
	}
}

func runGuixHash(ctx context.Context, e *env, args []string) int {
	c := guixSub("hash")
	fs := newFlags(e, c)
	ser := fs.String("S", "none", "serializer: none (the file's bytes) or nar (the NAR of PATH, for directories)")
	recursive := fs.Bool("r", false, "same as -S nar (deprecated in Guix)")
	format := fs.String("f", "nix-base32", "output format: nix-base32, base16 (hex, hexadecimal), base64")
	algo := fs.String("H", "sha256", "hash algorithm (only sha256)")
	excludeVCS := fs.Bool("x", false, "exclude version control metadata (.bzr .git .hg .svn CVS) found at the top of PATH, as guix hash -x")
	// guix hash's long names for the same flags.
	fs.StringVar(ser, "serializer", "none", "same as -S")
	fs.BoolVar(recursive, "recursive", false, "same as -r")
	fs.StringVar(format, "format", "nix-base32", "same as -f")
	fs.StringVar(algo, "hash", "sha256", "same as -H")
	fs.BoolVar(excludeVCS, "exclude-vcs", false, "same as -x")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock guix hash: need a PATH (or - for stdin)")
		fs.Usage()
		return exitError
	}
	if *algo != "sha256" {
		fmt.Fprintf(e.stderr, "airlock guix hash: unsupported hash algorithm %q (only sha256)\n", *algo)
		return exitError
	}
	if *recursive {
		*ser = "nar"
	}
	var encode func([]byte) string
	switch *format {
	case "nix-base32":
		encode = guix.EncodeBase32
	case "base16", "hex", "hexadecimal":
		encode = hex.EncodeToString
	case "base64":
		encode = base64.StdEncoding.EncodeToString
	case "base32": // RFC 4648, lower case, unpadded (guix/base32.scm)
		encode = func(b []byte) string {
			return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
		}
	default:
		fmt.Fprintf(e.stderr, "airlock guix hash: unsupported format %q (nix-base32, base32, base16, base64)\n", *format)
		return exitError
	}
	if *ser != "none" && *ser != "nar" {
		fmt.Fprintf(e.stderr, "airlock guix hash: unsupported serializer %q (none or nar; not git)\n", *ser)
		return exitError
	}
	// As guix hash, one line per PATH.
	for _, path := range fs.Args() {
		sum, err := hashPath(ctx, e, path, *ser == "nar", *excludeVCS)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock guix hash: %v\n", err)
			return exitError
		}
		fmt.Fprintln(e.stdout, encode(sum))
	}
	return exitOK
}

// hashPath returns SHA-256 of the file's bytes (or of stdin for "-"), or of the NAR of path.
func hashPath(ctx context.Context, e *env, path string, nar, excludeVCS bool) ([]byte, error) {
	h := sha256.New()
	if nar {
		if excludeVCS {
			dir, err := withoutVCS(path)
			if dir != "" {
				defer os.RemoveAll(dir)
			}
			if err != nil {
				return nil, err
			}
			if dir != "" {
				path = filepath.Join(dir, "tree")
			}
		}
		if err := guix.DumpPath(h, path); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	var r io.Reader = e.stdin
	if path != "-" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory (use -S nar)", path)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	if _, err := io.Copy(h, ctxio.NewReader(ctx, r)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// vcsDirs are the version control directories `guix hash -x` leaves out (guix/hash.scm).
var vcsDirs = []string{".bzr", ".git", ".hg", ".svn", "CVS"}

// withoutVCS copies the tree at path, less what `guix hash -x` excludes, into a new temporary
// directory's "tree" (returning that directory), or returns "" when nothing would be excluded.
// As guix does: the kinds of VCS are those whose directory (or .git file) is at the top of path;
// then, at any depth, directories with those names are left out, and regular files named .git
// when .git is one of them.
func withoutVCS(path string) (string, error) {
	var kinds []string
	for _, v := range vcsDirs {
		if _, err := os.Stat(filepath.Join(path, v)); err == nil {
			kinds = append(kinds, v)
		}
	}
	if fi, err := os.Lstat(path); err != nil || !fi.IsDir() || len(kinds) == 0 {
		return "", nil
	}
	excluded := func(name string, fi os.FileInfo) bool {
		for _, k := range kinds {
			if name == k && (fi.IsDir() || (k == ".git" && fi.Mode().IsRegular())) {
				return true
			}
		}
		return false
	}
	tmp, err := os.MkdirTemp("", "airlock-hash-")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(tmp, "tree")
	err = filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		if rel != "." && excluded(fi.Name(), fi) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		out := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.Mkdir(out, 0o755)
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		case fi.Mode().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, in); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		default:
			return fmt.Errorf("%s: unsupported file type %v", p, fi.Mode().Type())
		}
	})
	return tmp, err
}
