package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
)

// guixQuorumCommand is `airlock guix quorum` (issue 17), dispatched from guixSubcommands.
var guixQuorumCommand = command{
	name:    "guix quorum",
	usage:   "--builders BUILDERS --k N [--rule PATTERN=K]... [--present FILE] [--json] [--key GUIX_SECRET_KEY --out FILE] EXPORT|NARINFO...",
	summary: "approve store items only when k builders vouch for an identical NAR (exit 0 iff every item reaches quorum)",
}

func init() { guixQuorumCommand.run = runGuixQuorum }

// splitFlags parses args into fs, allowing flags after positional arguments (everything after
// "--" is positional), and returns the positional arguments.
func splitFlags(e *env, fs *flag.FlagSet, args []string) (pos []string, ok bool, code int) {
	for {
		dash := len(args) > 0 && args[0] == "--"
		if ok, code := parse(e, fs, args); !ok {
			return nil, false, code
		}
		rest := fs.Args()
		n := len(args) - len(rest)
		if dash || n > 0 && args[n-1] == "--" {
			return append(pos, rest...), true, 0
		}
		if len(rest) == 0 {
			return pos, true, 0
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runGuixQuorum(ctx context.Context, e *env, args []string) int {
	c := guixQuorumCommand
	fs := newFlags(e, c)
	buildersPath := fs.String("builders", "", "builder list: (builders (builder (name \"NAME\") (public-key ...)) ...)")
	k := fs.Int("k", 0, "how many distinct builders must vouch for an identical NAR")
	presentPath := fs.String("present", "", "file listing store paths already on the high side, one per line")
	asJSON := fs.Bool("json", false, "print the report as one JSON line")
	keyPath := fs.String("key", "", "with --out: the appliance's Guix secret key, to re-sign the approved items")
	outPath := fs.String("out", "", "when every item is approved, write them (from one export carrying them all) re-signed with --key to FILE")
	var rules []guix.QuorumRule
	fs.Func("rule", "PATTERN=K: store names matching PATTERN (path.Match, e.g. linux-libre-*) need K builders", func(s string) error {
		pat, n, ok := strings.Cut(s, "=")
		kk, err := strconv.Atoi(n)
		if !ok || err != nil {
			return fmt.Errorf("want PATTERN=K, got %q", s)
		}
		rules = append(rules, guix.QuorumRule{Pattern: pat, K: kk})
		return nil
	})
	inputs, ok, code := splitFlags(e, fs, args)
	if !ok {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "airlock guix quorum: "+format+"\n", args...)
		return exitError
	}
	if *buildersPath == "" || *k == 0 || len(inputs) == 0 {
		fmt.Fprintln(e.stderr, "airlock guix quorum: need --builders BUILDERS, --k N and at least one EXPORT or NARINFO")
		fs.Usage()
		return exitError
	}
	if (*keyPath == "") != (*outPath == "") {
		return fail("--key and --out go together")
	}
	var key *guix.PrivateKey
	if *keyPath != "" {
		kb, err := os.ReadFile(*keyPath)
		if err != nil {
			return fail("%v", err)
		}
		if key, err = guix.ParsePrivateKey(kb); err != nil {
			return fail("%s: %v", *keyPath, err)
		}
	}
	bb, err := os.ReadFile(*buildersPath)
	if err != nil {
		return fail("%v", err)
	}
	builders, err := guix.ParseBuilders(bb)
	if err != nil {
		return fail("%s: %v", *buildersPath, err)
	}
	q, err := guix.NewQuorum(builders, *k, rules...)
	if err != nil {
		return fail("%s: %v", *buildersPath, err)
	}
	var present []string
	if *presentPath != "" {
		if present, err = guix.LoadStorePaths(*presentPath); err != nil {
			return fail("%v", err)
		}
	}
	j := guix.NewQuorumJudge(q, present)
	for _, name := range inputs {
		if err := addQuorumInput(ctx, j, name); err != nil {
			return fail("%v", err)
		}
	}
	rep := j.Report()
	if *asJSON {
		if err := writeJSONLine(e.stdout, rep); err != nil {
			return fail("%v", err)
		}
	} else {
		writeQuorumText(e.stdout, rep)
	}
	if !rep.Accept {
		return exitVerdict
	}
	if key != nil {
		if err := writeApproved(ctx, rep, key, *outPath); err != nil {
			return fail("%v", err)
		}
	}
	return exitOK
}

// writeApproved writes the approved items, re-signed, from the first export carrying them all;
// the output is removed on failure.
func writeApproved(ctx context.Context, rep *guix.QuorumReport, key *guix.PrivateKey, out string) error {
	src := rep.Carrier()
	if src == "" {
		return errors.New("no single export carries the NAR bytes of every approved item")
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	err = guix.WriteApproved(ctx, f, rep, src, in, key)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

// addQuorumInput adds one input file, a narinfo or an export stream (QuorumJudge.AddFile).
func addQuorumInput(ctx context.Context, j *guix.QuorumJudge, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return j.AddFile(ctx, name, f)
}

// writeQuorumText prints one line per item (verdict, k, vouchers, reason), the mismatches in
// the style of guix challenge, and the problems of the inputs.
func writeQuorumText(w io.Writer, rep *guix.QuorumReport) {
	for _, f := range rep.Files {
		if f.Problem != "" {
			fmt.Fprintf(w, "%s: counts for nothing: %s\n", f.Name, f.Problem)
		}
	}
	for _, it := range rep.Items {
		fmt.Fprintf(w, "%s: %s (k=%d, vouched by %d: %s): %s\n", it.StorePath, it.Verdict, it.K, len(it.Vouchers),
			strings.Join(it.Vouchers, ", "), it.Reason)
		if m := it.Mismatch; m != nil {
			fmt.Fprintf(w, "  %s: %s\n  %s: %s\n", m.BuilderA, m.ClaimA, m.BuilderB, m.ClaimB)
		}
		if it.Source != nil && it.Claim != nil {
			fmt.Fprintf(w, "  NAR sha256:%s from %s item %d\n", it.NARHash, it.Source.File, it.Source.Index)
		}
	}
	verdict := "ACCEPT"
	if !rep.Accept {
		verdict = "REJECT"
	}
	fmt.Fprintf(w, "%d items, %d inputs: %s\n", len(rep.Items), len(rep.Files), verdict)
}
