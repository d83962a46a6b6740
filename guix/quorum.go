package guix

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/airlock-appliance/airlock/guix/internal/sexp"
	"github.com/airlock-appliance/airlock/internal/ctxio"
)

// ErrBuilders is wrapped by every error about a malformed builder list or quorum rule.
var ErrBuilders = errors.New("invalid builder list")

// Builder is one independent builder: a name for reports and its Guix signing key.
type Builder struct {
	Name string
	Key  *PublicKey
}

// QuorumRule sets the quorum for the store items whose name (the part after "HASH-") matches
// Pattern (path.Match syntax, e.g. "linux-libre-*").
type QuorumRule struct {
	Pattern string
	K       int
}

// Quorum is the reproducibility policy: the authorized builders and how many of them must
// vouch for an identical NAR (issue 17). It is immutable and safe for concurrent use.
type Quorum struct {
	builders []Builder
	k        int
	rules    []QuorumRule
}

// NewQuorum returns the policy "k of builders", with rules overriding k for matching store
// names (the first matching rule wins). Builder names and keys must be unique and every k
// between 1 and the number of builders.
func NewQuorum(builders []Builder, k int, rules ...QuorumRule) (*Quorum, error) {
	q := &Quorum{k: k, rules: append([]QuorumRule(nil), rules...)}
	names := map[string]bool{}
	for _, b := range builders {
		if b.Name == "" || strings.ContainsAny(b.Name, " \t\n") || b.Key == nil {
			return nil, fmt.Errorf("%w: builder %q: want a name without blanks and a key", ErrBuilders, b.Name)
		}
		if names[b.Name] {
			return nil, fmt.Errorf("%w: builder %q listed twice", ErrBuilders, b.Name)
		}
		names[b.Name] = true
		if i := q.builder(b.Key); i >= 0 {
			return nil, fmt.Errorf("%w: builders %q and %q have the same key", ErrBuilders, q.builders[i].Name, b.Name)
		}
		q.builders = append(q.builders, b)
	}
	check := func(what string, k int) error {
		if k < 1 || k > len(q.builders) {
			return fmt.Errorf("%w: %s k = %d, want 1..%d (the number of builders)", ErrBuilders, what, k, len(q.builders))
		}
		return nil
	}
	if err := check("quorum", k); err != nil {
		return nil, err
	}
	for _, r := range rules {
		if _, err := path.Match(r.Pattern, ""); err != nil || r.Pattern == "" {
			return nil, fmt.Errorf("%w: pattern %q: %v", ErrBuilders, r.Pattern, err)
		}
		if err := check("pattern "+r.Pattern, r.K); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// ParseBuilders reads a builder list:
//
//	(builders
//	  (builder (name "farm-a") (public-key (ecc (curve Ed25519) (q #…#))))
//	  …)
//
// each public key as in the builder's /etc/guix/signing-key.pub.
func ParseBuilders(b []byte) ([]Builder, error) {
	n, err := sexp.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuilders, err)
	}
	if n.Head() != "builders" {
		return nil, fmt.Errorf("%w: want (builders ...), got (%s ...)", ErrBuilders, n.Head())
	}
	var out []Builder
	for i, e := range n.List[1:] {
		name, key := e.Find("name"), e.Find("public-key")
		if e.Head() != "builder" || len(e.List) != 3 || name == nil || len(name.List) != 2 || name.Value() == nil || key == nil {
			return nil, fmt.Errorf("%w: element %d is not (builder (name \"NAME\") (public-key ...))", ErrBuilders, i)
		}
		k, err := publicKeyFromSexp(key)
		if err != nil {
			return nil, fmt.Errorf("%w: builder %q: %v", ErrBuilders, name.Value(), err)
		}
		out = append(out, Builder{Name: string(name.Value()), Key: k})
	}
	return out, nil
}

// MarshalBuilders writes a builder list as ParseBuilders reads it.
func MarshalBuilders(bs []Builder) []byte {
	n := sexp.L(sexp.S("builders"))
	for _, b := range bs {
		n.List = append(n.List, sexp.L(sexp.S("builder"), sexp.L(sexp.S("name"), sexp.S(b.Name)), b.Key.sexp()))
	}
	return sexp.Advanced(n)
}

// Builders returns the authorized builders.
func (q *Quorum) Builders() []Builder { return append([]Builder(nil), q.builders...) }

// K returns the quorum for storePath.
func (q *Quorum) K(storePath string) int {
	name := storePath
	if rest, ok := strings.CutPrefix(storePath, StoreDir+"/"); ok && len(rest) > 33 {
		name = rest[33:]
	}
	for _, r := range q.rules {
		if ok, _ := path.Match(r.Pattern, name); ok {
			return r.K
		}
	}
	return q.k
}

func (q *Quorum) builder(k *PublicKey) int {
	for i, b := range q.builders {
		if b.Key.Equal(k) {
			return i
		}
	}
	return -1
}

// vouch judges a signature over signed as guix-daemon judges an export item's
// (checkSignature), with the builders as the ACL. It returns the builder's index when the
// outcome is valid, else -1.
func (q *Quorum) vouch(sig []byte, signed [32]byte) (int, Outcome, string) {
	b := -1
	o, why := checkSignature(sig, signed, func(n *sexp.Node) bool {
		if k, err := publicKeyFromSexp(n); err == nil {
			b = q.builder(k)
		}
		return b >= 0
	})
	if o != OutcomeValid {
		if o == OutcomeUnauthorizedKey {
			why = "signing key is not one of the builders"
		}
		return -1, o, why
	}
	return b, o, why
}

// Claim is what one input says of a store item: its NAR's SHA-256 and size and its sorted
// references. Two builders agree on an item iff their claims are equal.
type Claim struct {
	NARHash    [32]byte `json:"-"`
	NARSize    int64    `json:"nar_size"`
	References []string `json:"references"`
}

func (c Claim) equal(o Claim) bool {
	return c.NARHash == o.NARHash && c.NARSize == o.NARSize && strings.Join(c.References, " ") == strings.Join(o.References, " ")
}

// String is "sha256:<nix-base32> (N bytes)", as guix challenge prints hashes.
func (c Claim) String() string {
	return fmt.Sprintf("sha256:%s (%d bytes, %d references)", EncodeBase32(c.NARHash[:]), c.NARSize, len(c.References))
}

// Vote is one input's word on one item: which file, which builder if it is authorized and the
// signature valid, the outcome of the signature and the claim.
type Vote struct {
	File    string  `json:"file"`
	Index   int     `json:"index"` // item index in an export; -1 for a narinfo
	Builder string  `json:"builder,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	Claim   Claim   `json:"claim"`
	NARHash string  `json:"nar_sha256"` // Claim.NARHash in nix-base32
	// Bytes is true for an export item: the claim's hash and size are those of the NAR bytes
	// read, which could be burned.
	Bytes bool `json:"carries_nar"`

	builder int
}

// QuorumVerdict is the verdict on one item.
type QuorumVerdict string

// Quorum verdicts.
const (
	QuorumApproved    QuorumVerdict = "approved"     // k builders agree and the bytes hash to their claim
	QuorumFixedOutput QuorumVerdict = "fixed-output" // content-addressed path: approved with no quorum
	QuorumMismatch    QuorumVerdict = "mismatch"     // two authorized builders disagree
	QuorumShort       QuorumVerdict = "no-quorum"    // fewer than k builders vouch
	QuorumNoBytes     QuorumVerdict = "no-nar"       // no input carries NAR bytes hashing to the claim
	QuorumMissingRef  QuorumVerdict = "missing-reference"
)

// Mismatch names two authorized builders that disagree on an item and what each claims.
type Mismatch struct {
	BuilderA string `json:"builder_a"`
	ClaimA   string `json:"claim_a"`
	BuilderB string `json:"builder_b"`
	ClaimB   string `json:"claim_b"`
}

// QuorumItem is the verdict on one store item over all inputs.
type QuorumItem struct {
	StorePath string        `json:"store_path"`
	K         int           `json:"k"`
	Verdict   QuorumVerdict `json:"verdict"`
	Reason    string        `json:"reason,omitempty"`
	// Vouchers are the distinct builders whose valid signature vouches for the agreed claim.
	Vouchers []string `json:"vouchers"`
	// Claim is the agreed claim (approved and fixed-output items).
	Claim    *Claim    `json:"claim,omitempty"`
	NARHash  string    `json:"nar_sha256,omitempty"`
	Mismatch *Mismatch `json:"mismatch,omitempty"`
	// Source is the export item whose NAR bytes hash to the claim: what is burned.
	Source *Vote  `json:"source,omitempty"`
	Votes  []Vote `json:"votes"`
}

// QuorumFile is how one input was read.
type QuorumFile struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // "export" or "narinfo"
	Items int    `json:"items"`
	// Problem is why the file contributes nothing (malformed narinfo, broken export stream).
	Problem string `json:"problem,omitempty"`
}

// QuorumReport is the verdict on a set of inputs.
type QuorumReport struct {
	Items []QuorumItem `json:"items"` // sorted by store path
	Files []QuorumFile `json:"files"`
	// Accept: at least one item, every item approved (or fixed-output), every file read whole.
	Accept bool `json:"accept"`
}

// QuorumJudge judges the exports and narinfos of several builders of one closure. Each export
// is read once, in one pass with constant memory (plus the claims), as VerifyExport reads it;
// narinfos are parsed whole. Report then applies the rule of issue 17 to every store item:
//
//   - a vote counts only if signed by an authorized builder with a valid signature over what
//     it claims (a narinfo's text, an export item's signed span);
//   - any two counted votes that differ on the claim (NAR SHA-256, NAR size, sorted
//     references) reject the item, naming both builders and both claims, whatever k is;
//   - otherwise the item needs votes of at least k distinct builders (a builder vouching
//     twice counts once) and an export item whose NAR bytes, as read, hash to the claim;
//   - a fixed-output item, whose store path is derived from its content (the NAR's hash for
//     a recursive "source", the file's hash for a flat one) and has no references, is
//     approved by that derivation alone, with no quorum;
//   - an approved item's references must be approved items or present.
//
// A QuorumJudge is not safe for concurrent use.
type QuorumJudge struct {
	q       *Quorum
	present map[string]bool
	items   map[string]*quorumState
	files   []QuorumFile
	// maxItems and maxRefs are MaxStreamItems and MaxStreamReferences (tests lower them).
	maxItems, maxRefs int
}

type quorumState struct {
	votes       []Vote
	fixed       bool // the path was derived from bytes read
	fixedReason string
}

// NewQuorumJudge returns a judge under q, present being the store paths the target already
// holds.
func NewQuorumJudge(q *Quorum, present []string) *QuorumJudge {
	j := &QuorumJudge{q: q, present: map[string]bool{}, items: map[string]*quorumState{},
		maxItems: MaxStreamItems, maxRefs: MaxStreamReferences}
	for _, p := range present {
		j.present[p] = true
	}
	return j
}

func (j *QuorumJudge) state(p string) *quorumState {
	s := j.items[p]
	if s == nil {
		s = &quorumState{}
		j.items[p] = s
	}
	return s
}

// AddNarinfo judges one narinfo. A malformed narinfo is recorded as the file's problem and
// contributes nothing.
func (j *QuorumJudge) AddNarinfo(name string, b []byte) {
	f := QuorumFile{Name: name, Kind: "narinfo"}
	n, err := ParseNarinfo(name, b)
	if err != nil {
		f.Problem = err.Error()
		j.files = append(j.files, f)
		return
	}
	f.Items = 1
	j.files = append(j.files, f)
	v := Vote{File: name, Index: -1, Claim: Claim{NARHash: n.NARHash, NARSize: n.NARSize, References: n.References}}
	v.builder, v.Outcome, v.Reason = j.q.vouch(n.Signature, n.SignedHash)
	j.addVote(n.StorePath, v)
}

func (j *QuorumJudge) addVote(p string, v Vote) {
	if v.builder >= 0 {
		v.Builder = j.q.builders[v.builder].Name
	}
	v.NARHash = EncodeBase32(v.Claim.NARHash[:])
	s := j.state(p)
	s.votes = append(s.votes, v)
}

// AddExport reads one export stream once and records a vote per item (see QuorumExport). The
// error is non-nil only when r cannot be read or ctx is done; the file then counts for nothing.
func (j *QuorumJudge) AddExport(ctx context.Context, name string, r io.Reader) error {
	x := j.Export(name)
	er := NewExportReader(ctxio.NewReader(ctx, r))
	for {
		it, err := er.Next()
		if err == nil {
			var fileHash *[32]byte
			if fileHash, err = rootFileHash(it.NAR()); err == nil {
				err = x.Add(it, fileHash)
			}
		}
		if err != nil {
			return x.Finish(err)
		}
	}
}

// QuorumExport feeds the items of one export stream to a QuorumJudge as they are read, so
// that a reader walking each NAR for other reasons (the scanner, for YARA) judges the quorum
// in the same read, as Judge does for an ACL.
type QuorumExport struct {
	j    *QuorumJudge
	f    QuorumFile
	refs int
	got  []pendingVote
	over error
	done bool
}

type pendingVote struct {
	path  string
	v     Vote
	fixed string
}

// Export starts the export named name (in reports).
func (j *QuorumJudge) Export(name string) *QuorumExport {
	return &QuorumExport{j: j, f: QuorumFile{Name: name, Kind: "export"}}
}

// Add reads the rest of it (its Trailer) and records its vote. rootFileSHA256 is the SHA-256
// of the NAR's contents when its root is a regular, non-executable file (nil otherwise): with
// it a flat fixed output is recognized. A non-nil error ends the stream and goes to Finish.
func (x *QuorumExport) Add(it *ExportItem, rootFileSHA256 *[32]byte) error {
	if x.over != nil {
		return x.over
	}
	info, err := it.Trailer()
	if err != nil {
		return err
	}
	x.refs += len(info.References)
	if len(x.got) >= x.j.maxItems || x.refs > x.j.maxRefs {
		x.over = &FormatError{Offset: it.Offset(), Item: it.Index(), Rule: RuleTooManyItems,
			Detail: fmt.Sprintf("more than %d items or %d references", x.j.maxItems, x.j.maxRefs), Err: ErrMalformed}
		return x.over
	}
	v := Vote{File: x.f.Name, Index: it.Index(), Bytes: true,
		Claim: Claim{NARHash: info.NARHash, NARSize: info.NARSize, References: info.References}}
	v.builder, v.Outcome, v.Reason = x.j.q.vouch(info.Signature, info.SignedHash)
	x.got = append(x.got, pendingVote{info.StorePath, v, fixedOutput(info, rootFileSHA256)})
	return nil
}

// Finish ends the stream with err, what stopped reading it (nil or io.EOF: complete). The votes
// count only for a complete stream; a broken one (truncated, malformed, trailing data, over
// the stream bounds) is the file's problem and counts for nothing. Any other error (a read
// error, a cancelled context, a caller's limit) is returned, and the file counts for nothing.
func (x *QuorumExport) Finish(err error) error {
	if x.done {
		return nil
	}
	x.done = true
	j, f := x.j, x.f
	f.Items = len(x.got)
	if x.over != nil {
		err = x.over
	}
	if err != nil && err != io.EOF {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Rule == RuleRead {
			f.Problem = "not read: " + err.Error()
			j.files = append(j.files, f)
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		f.Problem = err.Error()
		j.files = append(j.files, f)
		return nil
	}
	j.files = append(j.files, f)
	for _, p := range x.got {
		j.addVote(p.path, p.v)
		if p.fixed != "" {
			s := j.state(p.path)
			s.fixed, s.fixedReason = true, p.fixed
		}
	}
	return nil
}

// rootFileHash walks a NAR to its end and returns the SHA-256 of its contents when its root
// is a regular, non-executable file (a flat fixed output may be one), else nil.
func rootFileHash(nr *NARReader) (*[32]byte, error) {
	var sum *[32]byte
	for {
		e, err := nr.Next()
		if err == io.EOF {
			return sum, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Path == "" && e.Type == Regular && !e.Executable {
			h := sha256.New()
			if _, err := io.Copy(h, nr); err != nil {
				return nil, err
			}
			sum = new([32]byte)
			h.Sum(sum[:0])
		}
	}
}

// fixedOutput says why info's store path is derived from the bytes read, or "".
func fixedOutput(info *ItemInfo, fileHash *[32]byte) string {
	if len(info.References) != 0 {
		return ""
	}
	name, err := StorePathName(info.StorePath)
	if err != nil {
		return ""
	}
	if p, err := SourceStorePath(name, info.NARHash); err == nil && p == info.StorePath {
		return "recursive fixed output: the store path is derived from the NAR's SHA-256"
	}
	if fileHash != nil {
		if p, err := FlatStorePath(name, *fileHash); err == nil && p == info.StorePath {
			return "flat fixed output: the store path is derived from the file's SHA-256"
		}
	}
	return ""
}

// Report applies the quorum rule to every item seen so far.
func (j *QuorumJudge) Report() *QuorumReport {
	rep := &QuorumReport{Files: append([]QuorumFile(nil), j.files...)}
	paths := make([]string, 0, len(j.items))
	for p := range j.items {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rep.Items = append(rep.Items, j.judge(p, j.items[p]))
	}
	// References of approved items must be approved or present: one more pass, since an
	// export lists dependencies first but narinfos come in any order.
	ok := map[string]bool{}
	for _, it := range rep.Items {
		if it.Verdict == QuorumApproved || it.Verdict == QuorumFixedOutput {
			ok[it.StorePath] = true
		}
	}
	for i := range rep.Items {
		it := &rep.Items[i]
		if it.Claim == nil || !ok[it.StorePath] {
			continue
		}
		var missing []string
		for _, r := range it.Claim.References {
			if r != it.StorePath && !ok[r] && !j.present[r] {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			it.Verdict = QuorumMissingRef
			it.Reason = "references neither approved nor present: " + strings.Join(missing, " ")
		}
	}
	rep.Accept = len(rep.Items) > 0
	for _, it := range rep.Items {
		rep.Accept = rep.Accept && (it.Verdict == QuorumApproved || it.Verdict == QuorumFixedOutput)
	}
	for _, f := range rep.Files {
		rep.Accept = rep.Accept && f.Problem == ""
	}
	return rep
}

func (j *QuorumJudge) judge(p string, s *quorumState) QuorumItem {
	it := QuorumItem{StorePath: p, K: j.q.K(p), Votes: s.votes, Vouchers: []string{}}
	var agreed *Vote
	for i := range s.votes {
		v := &s.votes[i]
		if v.builder < 0 {
			continue
		}
		if agreed == nil {
			agreed = v
			continue
		}
		if !agreed.Claim.equal(v.Claim) {
			it.Verdict = QuorumMismatch
			it.Mismatch = &Mismatch{BuilderA: agreed.Builder, ClaimA: agreed.Claim.String(), BuilderB: v.Builder, ClaimB: v.Claim.String()}
			it.Reason = fmt.Sprintf("builders disagree: %s (%s) says %s, %s (%s) says %s",
				agreed.Builder, agreed.File, agreed.Claim, v.Builder, v.File, v.Claim)
			return it
		}
	}
	seen := map[int]bool{}
	if agreed != nil {
		for _, v := range s.votes {
			if v.builder >= 0 && !seen[v.builder] {
				seen[v.builder] = true
				it.Vouchers = append(it.Vouchers, v.Builder)
			}
		}
	}
	if s.fixed {
		// The claim is the bytes' own: take it from the first export item (all fixed-output
		// items of one path carry the same NAR, or the path would differ).
		for i := range s.votes {
			if v := &s.votes[i]; v.Bytes && (agreed == nil || agreed.Claim.equal(v.Claim)) {
				c := v.Claim
				it.Claim, it.NARHash, it.Source = &c, v.NARHash, v
				break
			}
		}
		if it.Source != nil {
			it.Verdict = QuorumFixedOutput
			it.Reason = "content-addressed, no quorum needed: " + s.fixedReason
			return it
		}
	}
	if agreed == nil || len(seen) < it.K {
		it.Verdict = QuorumShort
		it.Reason = fmt.Sprintf("%d of %d builders vouch, %d needed", len(seen), len(j.q.builders), it.K)
		return it
	}
	c := agreed.Claim
	it.Claim, it.NARHash = &c, agreed.NARHash
	for i := range s.votes {
		if v := &s.votes[i]; v.Bytes && v.Claim.equal(c) {
			it.Source = v
			break
		}
	}
	if it.Source == nil {
		it.Verdict = QuorumNoBytes
		it.Reason = "no export carries NAR bytes that hash to the agreed " + c.String()
		return it
	}
	it.Verdict = QuorumApproved
	it.Reason = fmt.Sprintf("%d of %d builders vouch (k = %d): %s", len(seen), len(j.q.builders), it.K, strings.Join(it.Vouchers, ", "))
	return it
}

// ErrNotQuorumInput is wrapped by AddFile's error for a file that is neither a narinfo nor an
// export stream.
var ErrNotQuorumInput = errors.New(`neither a narinfo ("StorePath: ...") nor an export stream (u64 0 or 1 at offset 0)`)

// AddFile reads one input, a narinfo (text starting "StorePath: ", at most MaxNarinfoLen
// bytes) or an export stream (starting with the u64 item marker 0 or 1), and adds it. The
// error is an I/O error, a cancelled ctx, or wraps ErrNotQuorumInput.
func (j *QuorumJudge) AddFile(ctx context.Context, name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	head, _ := br.Peek(11)
	switch {
	case bytes.HasPrefix(head, []byte("StorePath: ")):
		b, err := io.ReadAll(io.LimitReader(ctxio.NewReader(ctx, br), MaxNarinfoLen+1))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		j.AddNarinfo(name, b)
		return nil
	case len(head) >= 8 && binary.LittleEndian.Uint64(head) <= 1:
		return j.AddExport(ctx, name, br)
	}
	return fmt.Errorf("%s: %w", name, ErrNotQuorumInput)
}
