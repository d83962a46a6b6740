package sealing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"github.com/airlock-appliance/airlock/sealing/internal/sums"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Audit files on a disc, beside the manifest (DESIGN.md, "Disc layout").
//
// All proofs are auditlog.FormatProof text (one base64 hash per line).
const (
	CheckpointPath   = AirlockDir + "/checkpoint"           // signed checkpoint after the seal record
	RecordPath       = AirlockDir + "/record.json"          // the seal record, canonical JSON, as hashed
	InclusionPath    = AirlockDir + "/proofs/inclusion"     // record LogIndex in the checkpoint's tree
	PrevConsistency  = AirlockDir + "/proofs/consistency"   // from the previous disc's tree size ...
	PrevSizePath     = AirlockDir + "/proofs/previous-size" // ... which this holds, decimal + "\n"
	consistencyPrefx = AirlockDir + "/proofs/consistency-"  // + older tree size: further proofs
)

// ConsistencyPath is the disc path of an additional proof that the tree of size oldSize is a
// prefix of the disc's checkpoint (for verifiers that missed discs).
func ConsistencyPath(oldSize int64) string {
	return consistencyPrefx + strconv.FormatInt(oldSize, 10)
}

// Failure kinds of Verify. Each error Verify returns wraps one of these (errors.Is) in a
// *VerifyError naming the file and, for the manifest, the line.
var (
	ErrMissingManifest   = errors.New("manifest missing")
	ErrManifestMalformed = errors.New("malformed manifest")
	ErrHashMismatch      = errors.New("SHA-256 does not match the manifest (file altered)")
	ErrMissingFile       = errors.New("listed in the manifest but missing")
	ErrExtraFile         = errors.New("not listed in the manifest (extra file)")
	ErrNotRegular        = errors.New("not a regular file")
	ErrCheckpoint        = errors.New("bad audit checkpoint")
	ErrInclusion         = errors.New("seal record not proven in the audit log")
	ErrNoCheckpoint      = errors.New("no audit checkpoint to compare with the saved state")
	ErrOtherLog          = errors.New("checkpoint is from another audit log than the saved state")
	ErrRollback          = errors.New("rollback: checkpoint older than the saved state")
	ErrFork              = errors.New("fork: checkpoint inconsistent with the saved state")
	ErrNoConsistency     = errors.New("no consistency proof from the saved checkpoint")
)

// MaxManifestSize bounds the SHA256SUMS read from a disc.
const MaxManifestSize = 64 << 20

// VerifyError is one failure of Verify.
type VerifyError struct {
	File   string // path in the verified tree
	Line   int    // manifest line, or 0
	Err    error  // the failure kind (a sentinel above, or of signature checks)
	Detail string
}

func (e *VerifyError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyOptions are Verify's inputs besides the tree.
type VerifyOptions struct {
	// Trusted are the seal public keys accepted.
	Trusted []*PublicKey
	// LogKey, if set, must have signed the disc's checkpoint. Without it the checkpoint is
	// authenticated only by the seal (the manifest covers it).
	LogKey note.Verifier
	// Previous is the last accepted checkpoint (see LoadState); if set, the disc must carry a
	// checkpoint that extends it.
	Previous *auditlog.Checkpoint
	// Workers hashing in parallel; 0 means one per CPU.
	Workers int
	// MaxErrors bounds how many file failures are reported (default 100).
	MaxErrors int
}

// Verified is what a successful Verify found.
type Verified struct {
	Info          SealInfo
	KeyID         uint64
	Files         int
	Bytes         int64
	Checkpoint    *auditlog.Checkpoint // nil if the tree has none
	CheckpointMsg []byte               // the signed note, to save as state
}

// Verify checks a sealed tree (a disc, an image or a directory, as an fs.FS): the manifest's
// signature by a trusted key and its trusted comment, the manifest's form, that the tree holds
// exactly the listed files (besides the manifest and signature) and that every hash matches,
// then the audit files: the checkpoint, the inclusion proof of the seal record, and, against
// opts.Previous, consistency (no rollback, no fork).
//
// All file failures are reported (up to MaxErrors), joined; each is a *VerifyError.
func Verify(ctx context.Context, fsys fs.FS, opts VerifyOptions) (*Verified, error) {
	sig, err := readFS(fsys, SignatureName, MaxSignatureSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &VerifyError{File: SignatureName, Err: ErrMissingSignature}
	}
	if err != nil {
		return nil, &VerifyError{File: SignatureName, Err: ErrMalformedSignature, Detail: err.Error()}
	}
	manifest, err := readFS(fsys, ManifestName, MaxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &VerifyError{File: ManifestName, Err: ErrMissingManifest}
	}
	if err != nil {
		return nil, &VerifyError{File: ManifestName, Err: ErrManifestMalformed, Detail: err.Error()}
	}
	s, err := VerifyDetached(manifest, sig, opts.Trusted...)
	if err != nil {
		file := SignatureName
		if errors.Is(err, ErrBadSignature) {
			file = ManifestName + " (with " + SignatureName + ")"
		}
		return nil, &VerifyError{File: file, Err: unwrapSentinel(err), Detail: detailOf(err)}
	}
	info, err := ParseTrustedComment(s.TrustedComment)
	if err != nil {
		return nil, &VerifyError{File: SignatureName, Err: ErrBadTrustedComment, Detail: err.Error()}
	}
	entries, err := sums.Parse(manifest)
	if err != nil {
		var le *sums.LineError
		if errors.As(err, &le) {
			return nil, &VerifyError{File: ManifestName, Line: le.Line, Err: ErrManifestMalformed, Detail: le.Msg}
		}
		return nil, &VerifyError{File: ManifestName, Err: ErrManifestMalformed, Detail: err.Error()}
	}
	res := &Verified{Info: info, KeyID: s.KeyID, Files: len(entries)}
	max := opts.MaxErrors
	if max <= 0 {
		max = 100
	}
	var errs []error
	fail := func(e *VerifyError) {
		if len(errs) < max {
			errs = append(errs, e)
		}
	}

	// The tree must hold exactly the listed files.
	listed := make(map[string]int, len(entries))
	for i, e := range entries {
		listed[e.Name] = i
	}
	present := map[string]bool{}
	var jobs []File
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fail(&VerifyError{File: p, Err: err})
			return nil
		}
		if d.IsDir() || p == ManifestName || p == SignatureName {
			return nil
		}
		if !d.Type().IsRegular() {
			fail(&VerifyError{File: p, Err: ErrNotRegular, Detail: d.Type().String()})
			return nil
		}
		i, ok := listed[p]
		if !ok {
			fail(&VerifyError{File: p, Err: ErrExtraFile})
			return nil
		}
		present[p] = true
		fi, err := d.Info()
		if err != nil {
			fail(&VerifyError{File: p, Err: err})
			return nil
		}
		jobs = append(jobs, File{Path: p, Size: fi.Size(), Sum: entries[i].Sum})
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if !present[e.Name] {
			fail(&VerifyError{File: e.Name, Err: ErrMissingFile, Detail: fmt.Sprintf("%s line %d", ManifestName, i+1)})
		}
	}
	want := make(map[string][32]byte, len(jobs))
	for _, j := range jobs {
		want[j.Path] = j.Sum
	}
	err = parallel(ctx, jobs, opts.Workers, func(f *File) error {
		r, err := fsys.Open(f.Path)
		if err != nil {
			return &VerifyError{File: f.Path, Err: err}
		}
		defer r.Close()
		h := sha256.New()
		n, err := copyCtx(ctx, h, r)
		if err != nil {
			return &VerifyError{File: f.Path, Err: err}
		}
		f.Size = n
		copy(f.Sum[:], h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].Path < jobs[b].Path })
	for _, j := range jobs {
		res.Bytes += j.Size
		if w := want[j.Path]; j.Sum != w {
			fail(&VerifyError{File: j.Path, Err: ErrHashMismatch, Detail: fmt.Sprintf("is %s, %s line %d says %s",
				hex.EncodeToString(j.Sum[:]), ManifestName, listed[j.Path]+1, hex.EncodeToString(w[:]))})
		}
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	// Every byte is now as sealed: the audit files are authentic.
	if err := verifyAudit(fsys, opts, res); err != nil {
		return res, err
	}
	return res, nil
}

func verifyAudit(fsys fs.FS, opts VerifyOptions, res *Verified) error {
	msg, err := readFS(fsys, CheckpointPath, auditlog.MaxCheckpointSize)
	if errors.Is(err, fs.ErrNotExist) {
		if opts.Previous != nil {
			return &VerifyError{File: CheckpointPath, Err: ErrNoCheckpoint}
		}
		return nil
	}
	if err != nil {
		return &VerifyError{File: CheckpointPath, Err: ErrCheckpoint, Detail: err.Error()}
	}
	var c auditlog.Checkpoint
	if opts.LogKey != nil {
		c, _, err = auditlog.OpenCheckpoint(msg, opts.LogKey)
	} else {
		c, err = auditlog.ParseSignedCheckpoint(msg)
	}
	if err != nil {
		return &VerifyError{File: CheckpointPath, Err: ErrCheckpoint, Detail: err.Error()}
	}
	res.Checkpoint, res.CheckpointMsg = &c, msg

	if idx := res.Info.LogIndex; idx >= 0 {
		rec, err := readFS(fsys, RecordPath, auditlog.MaxRecordSize)
		if err != nil {
			return &VerifyError{File: RecordPath, Err: ErrInclusion, Detail: err.Error()}
		}
		pb, err := readFS(fsys, InclusionPath, 16<<10)
		if err != nil {
			return &VerifyError{File: InclusionPath, Err: ErrInclusion, Detail: err.Error()}
		}
		p, err := auditlog.ParseProof(pb)
		if err != nil {
			return &VerifyError{File: InclusionPath, Err: ErrInclusion, Detail: err.Error()}
		}
		if idx >= c.Size {
			return &VerifyError{File: InclusionPath, Err: ErrInclusion, Detail: fmt.Sprintf("log index %d beyond checkpoint size %d", idx, c.Size)}
		}
		if err := tlog.CheckRecord(p, c.Size, c.Hash, idx, tlog.RecordHash(rec)); err != nil {
			return &VerifyError{File: InclusionPath, Err: ErrInclusion, Detail: fmt.Sprintf("record %d in tree of %d: %v", idx, c.Size, err)}
		}
	}

	prev := opts.Previous
	if prev == nil {
		return nil
	}
	switch {
	case prev.Origin != c.Origin:
		return &VerifyError{File: CheckpointPath, Err: ErrOtherLog, Detail: fmt.Sprintf("disc %q, state %q", c.Origin, prev.Origin)}
	case c.Size < prev.Size:
		return &VerifyError{File: CheckpointPath, Err: ErrRollback, Detail: fmt.Sprintf("disc tree size %d, last accepted %d", c.Size, prev.Size)}
	case prev.Size == 0:
		return nil // every tree extends the empty one
	case c.Size == prev.Size:
		if c.Hash != prev.Hash {
			return &VerifyError{File: CheckpointPath, Err: ErrFork, Detail: fmt.Sprintf("same size %d, different root hash", c.Size)}
		}
		return nil
	}
	path := ConsistencyPath(prev.Size)
	if b, err := readFS(fsys, PrevSizePath, 32); err == nil && strings.TrimSuffix(string(b), "\n") == strconv.FormatInt(prev.Size, 10) {
		path = PrevConsistency
	}
	pb, err := readFS(fsys, path, 16<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return &VerifyError{File: path, Err: ErrNoConsistency, Detail: fmt.Sprintf("from tree size %d to %d (%s names no such size either)", prev.Size, c.Size, PrevSizePath)}
	}
	if err != nil {
		return &VerifyError{File: path, Err: ErrNoConsistency, Detail: err.Error()}
	}
	p, err := auditlog.ParseProof(pb)
	if err != nil {
		return &VerifyError{File: path, Err: ErrFork, Detail: err.Error()}
	}
	if err := tlog.CheckTree(p, c.Size, c.Hash, prev.Size, prev.Hash); err != nil {
		return &VerifyError{File: path, Err: ErrFork, Detail: fmt.Sprintf("tree %d does not extend the saved tree %d: %v", c.Size, prev.Size, err)}
	}
	return nil
}

// unwrapSentinel returns the signature-check sentinel inside err.
func unwrapSentinel(err error) error {
	for _, s := range []error{ErrMalformedSignature, ErrWrongKey, ErrBadSignature} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

func detailOf(err error) string {
	s := unwrapSentinel(err)
	d := strings.TrimPrefix(err.Error(), s.Error())
	return strings.TrimPrefix(d, ": ")
}

// readFS reads a whole file of fsys, refusing more than max bytes and non-regular files.
func readFS(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", name, ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// StateFile is the file in a --state directory holding the last accepted checkpoint.
const StateFile = "checkpoint"

// LoadState returns the last accepted checkpoint saved in dir, or nil if there is none yet.
func LoadState(dir string) (*auditlog.Checkpoint, error) {
	b, err := readlimit.File(filepath.Join(dir, StateFile), auditlog.MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := auditlog.ParseSignedCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return &c, nil
}

// SaveState records msg (a signed checkpoint that verified) as the last accepted one, atomically.
func SaveState(dir string, msg []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := filepath.Join(dir, StateFile)
	tmp := p + ".tmp"
	if err := writeFileSync(tmp, msg); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// StateError is a failure to load or save the high side's state (not a verdict on the disc):
// callers name the state directory, as `airlock verify --state DIR` does.
type StateError struct {
	Dir string
	Op  string // "load" or "save"
	Err error
}

func (e *StateError) Error() string { return fmt.Sprintf("%s state %s: %v", e.Op, e.Dir, e.Err) }

// Unwrap returns the cause.
func (e *StateError) Unwrap() error { return e.Err }

// VerifyTracked is Verify with the high side's memory of the log: the last accepted checkpoint
// in stateDir becomes opts.Previous (so a rolled-back or forked log fails), and the checkpoint of
// a disc that verifies becomes the last accepted one. stateDir "" keeps no state. The station's
// check mode and `airlock verify --state` both use it; a state that cannot be read or written
// is a *StateError, never a verdict.
func VerifyTracked(ctx context.Context, fsys fs.FS, opts VerifyOptions, stateDir string) (*Verified, error) {
	if stateDir == "" {
		return Verify(ctx, fsys, opts)
	}
	prev, err := LoadState(stateDir)
	if err != nil {
		return nil, &StateError{Dir: stateDir, Op: "load", Err: err}
	}
	opts.Previous = prev
	v, err := Verify(ctx, fsys, opts)
	if err != nil {
		return v, err
	}
	if v.CheckpointMsg != nil {
		if err := SaveState(stateDir, v.CheckpointMsg); err != nil {
			return v, &StateError{Dir: stateDir, Op: "save", Err: err}
		}
	}
	return v, nil
}

// Kind is a short stable code for the failure kind, for --json output and scripts.
func (e *VerifyError) Kind() string {
	for _, k := range []struct {
		err  error
		code string
	}{
		{ErrMissingSignature, "missing-signature"}, {ErrMalformedSignature, "malformed-signature"},
		{ErrWrongKey, "wrong-key"}, {ErrBadSignature, "bad-signature"},
		{ErrBadTrustedComment, "bad-trusted-comment"}, {ErrMissingManifest, "missing-manifest"},
		{ErrManifestMalformed, "malformed-manifest"}, {ErrHashMismatch, "hash-mismatch"},
		{ErrMissingFile, "missing-file"}, {ErrExtraFile, "extra-file"}, {ErrNotRegular, "not-regular"},
		{ErrCheckpoint, "bad-checkpoint"}, {ErrInclusion, "inclusion"}, {ErrNoCheckpoint, "no-checkpoint"},
		{ErrOtherLog, "other-log"}, {ErrRollback, "rollback"}, {ErrFork, "fork"},
		{ErrNoConsistency, "no-consistency-proof"},
	} {
		if errors.Is(e.Err, k.err) {
			return k.code
		}
	}
	return "error"
}
