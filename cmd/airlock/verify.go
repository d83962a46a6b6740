package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/sealing"
)

var verifyCommand = command{
	name:    "verify",
	usage:   "[--pub SEAL_PUB] [--state DIR] DISC|IMAGE|DIR",
	summary: "check a burned disc: seal signature, every hash, audit consistency",
}

func init() { verifyCommand.run = runVerify }

// pubFlags collects a repeatable string flag.
type pubFlags []string

func (m *pubFlags) String() string     { return strings.Join(*m, ",") }
func (m *pubFlags) Set(s string) error { *m = append(*m, s); return nil }

func runVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, verifyCommand)
	var pubs pubFlags
	fs.Var(&pubs, "pub", "trusted seal public key (seal.pub); repeatable; default $AIRLOCK_SEAL_PUB")
	state := fs.String("state", "", "directory keeping the last accepted audit checkpoint: the disc's must extend it")
	vkey := fs.String("log-vkey", "", "audit log verifier key (log.vkey): also require the log's signature on the checkpoint")
	asJSON := fs.Bool("json", false, "print the verdict as one JSON line")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock verify: one DISC, IMAGE or DIR is required")
		fs.Usage()
		return exitError
	}
	target := fs.Arg(0)
	if len(pubs) == 0 && os.Getenv("AIRLOCK_SEAL_PUB") != "" {
		pubs = append(pubs, os.Getenv("AIRLOCK_SEAL_PUB"))
	}
	opfail := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		if *asJSON {
			writeVerifyJSON(e.stdout, verifyReport{Target: target, Error: msg})
		}
		fmt.Fprintf(e.stderr, "airlock verify: %s\n", msg)
		return exitError
	}
	if len(pubs) == 0 {
		return opfail("no trusted key: give --pub SEAL_PUB (or set AIRLOCK_SEAL_PUB)")
	}
	var opts sealing.VerifyOptions
	for _, p := range pubs {
		k, err := sealing.LoadPublicKey(p)
		if err != nil {
			return opfail("%s", flagFileError("pub", p, err))
		}
		opts.Trusted = append(opts.Trusted, k)
	}
	if *vkey != "" {
		v, err := sealing.LoadNoteVerifier(*vkey)
		if err != nil {
			return opfail("%s", flagFileError("log-vkey", *vkey, err))
		}
		opts.LogKey = v
	}
	fsys, closer, err := openSealedTree(ctx, target)
	if errors.Is(err, burner.ErrBadImage) {
		return printVerifyVerdict(e, *asJSON, target, nil, fmt.Errorf("%s: not a readable ISO9660 image: %w", target, err))
	}
	if errors.Is(err, burner.ErrNotWritten) {
		return printVerifyVerdict(e, *asJSON, target, nil, err)
	}
	if err != nil {
		return opfail("%v", err)
	}
	defer closer.Close()
	res, err := sealing.VerifyTracked(ctx, fsys, opts, *state)
	if se := (*sealing.StateError)(nil); errors.As(err, &se) {
		if se.Op == "load" {
			return opfail("%s", flagFileError("state", *state, se.Err))
		}
		return opfail("state: %v", se.Err)
	}
	return printVerifyVerdict(e, *asJSON, target, res, err)
}

// openSealedTree picks the file system of a target: a directory as is; an image file or an
// optical (block) device only once burner.CheckDisc has found it to be byte for byte what
// airlock's writer produces from the files it holds.
func openSealedTree(ctx context.Context, target string) (iofs.FS, io.Closer, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		return os.DirFS(target), io.NopCloser(nil), nil
	}
	c, closer, err := burner.CheckDisc(ctx, target)
	if err != nil {
		return nil, nil, err
	}
	return c.FS, closer, nil
}

type verifyFailure struct {
	Kind   string `json:"kind"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Detail string `json:"message"`
}

type verifyReport struct {
	Target     string          `json:"target"`
	Valid      bool            `json:"valid"`
	Files      int             `json:"files,omitempty"`
	Bytes      int64           `json:"bytes,omitempty"`
	Session    string          `json:"session,omitempty"`
	Station    string          `json:"station,omitempty"`
	Time       string          `json:"time,omitempty"`
	PolicyHash string          `json:"policy_sha256,omitempty"`
	LogIndex   *int64          `json:"log_index,omitempty"`
	TreeSize   *int64          `json:"checkpoint_size,omitempty"`
	Failures   []verifyFailure `json:"failures,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// printVerifyVerdict prints the result of a verification and returns the exit status.
func printVerifyVerdict(e *env, asJSON bool, target string, res *sealing.Verified, err error) int {
	r := verifyReport{Target: target, Valid: err == nil}
	if res != nil {
		r.Files, r.Bytes = res.Files, res.Bytes
		r.Session, r.Station, r.PolicyHash = res.Info.Session, res.Info.Station, res.Info.PolicyHash
		if !res.Info.Time.IsZero() {
			r.Time = res.Info.Time.Format("2006-01-02T15:04:05Z")
		}
		if res.Info.LogIndex >= 0 {
			r.LogIndex = &res.Info.LogIndex
		}
		if res.Checkpoint != nil {
			r.TreeSize = &res.Checkpoint.Size
		}
	}
	if err != nil {
		for _, one := range splitVerifyErrors(err) {
			var ve *sealing.VerifyError
			var de *burner.ImageDiffError
			if errors.As(one, &ve) {
				r.Failures = append(r.Failures, verifyFailure{Kind: ve.Kind(), File: ve.File, Line: ve.Line, Detail: ve.Error()})
			} else if errors.As(one, &de) {
				r.Failures = append(r.Failures, verifyFailure{Kind: "not-airlock-image", Detail: de.Error()})
			} else if errors.Is(one, burner.ErrBadImage) {
				r.Failures = append(r.Failures, verifyFailure{Kind: "bad-image", Detail: one.Error()})
			} else {
				r.Failures = append(r.Failures, verifyFailure{Kind: "error", Detail: one.Error()})
			}
		}
	}
	if asJSON {
		writeVerifyJSON(e.stdout, r)
	}
	if err != nil {
		for _, f := range r.Failures {
			fmt.Fprintf(e.stderr, "airlock verify: %s: INVALID: %s\n", target, f.Detail)
		}
		return exitVerdict
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "%s: VALID: %d sealed files (approved and AIRLOCK/ evidence), %d bytes, signed by key %X", target, r.Files, r.Bytes, res.KeyID)
		if r.Session != "" {
			fmt.Fprintf(e.stdout, ", session %s", r.Session)
		}
		if r.LogIndex != nil {
			fmt.Fprintf(e.stdout, ", audit log index %d", *r.LogIndex)
		}
		if r.TreeSize != nil {
			fmt.Fprintf(e.stdout, ", checkpoint %s size %d", res.Checkpoint.Origin, *r.TreeSize)
		}
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

func splitVerifyErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func writeVerifyJSON(w io.Writer, v any) {
	_ = writeJSONLine(w, v)
}
