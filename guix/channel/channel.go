// Package channel authenticates a Guix channel offline, from a git bundle or a git directory,
// with the rules of Guix 1.5's guix/git-authenticate.scm (line numbers below are of that file
// at tag v1.5.0; "openpgp.scm" is guix/openpgp.scm, "git.scm" guix/git.scm), plus the
// forward-only rule airlock adds: the target must be the introduction or a descendant of it,
// and of the last commit airlock authenticated for the channel.
package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/guix/channel/internal/git"
	"github.com/airlock-appliance/airlock/guix/channel/internal/openpgp"
)

// OID is a git object name.
type OID = git.OID

// ParseOID parses a 40-digit hex object name.
func ParseOID(s string) (OID, error) { return git.ParseOID(s) }

// Limits bounds the work spent parsing one bundle or repository.
type Limits = git.Limits

// Policy says what to authenticate: a channel's pinned introduction and where it stands.
type Policy struct {
	Introduction OID      // the introduction commit
	Signer       [20]byte // the introduction signer's fingerprint (primary or subkey)
	Keyring      string   // the keyring branch, "keyring" when empty (git-authenticate.scm:384)
	End          string   // target ref or commit; empty: HEAD, else the only non-keyring ref
	// LastAuthenticated, when set, is the last commit airlock authenticated for the channel:
	// the target must be it or its descendant (rollback and fork refused), and commits it
	// reaches are not checked again (as Guix's authentic-commits, git-authenticate.scm:413-425).
	LastAuthenticated *OID
	// HistoricalAuthorizations are the keys authorized for commits whose parents lack
	// .guix-authorizations, and for root commits (git-authenticate.scm:402-404). Guix's
	// default, without --historical-authorizations, is none.
	HistoricalAuthorizations [][20]byte
	// AllowPrerequisites accepts a bundle with prerequisites (the high side holds them).
	// Objects the rules need that only the prerequisites hold still refuse.
	AllowPrerequisites bool
	// Strict adds a rule Guix does not have (off by default, as Guix's real history is signed
	// by a subkey expired since 2020): a commit signed by a revoked key, or by a key expired
	// at the signature's creation time or at Now, is refused (RuleStrict).
	Strict bool
	Now    time.Time // the clock Strict compares expiry with; zero: time.Now()
	Limits Limits
}

// Rule names why a channel was refused.
type Rule string

// Refusal rules.
const (
	RuleUnsigned       Rule = "unsigned"               // git-authenticate.scm:109-113
	RuleDigest         Rule = "disallowed-digest"      // git-authenticate.scm:115-124 (SHA-1 where authorizations exist, MD5)
	RuleSignature      Rule = "invalid-signature"      // unparsable, non-binary, or bad (git-authenticate.scm:131-140)
	RuleMissingKey     Rule = "missing-key"            // git-authenticate.scm:141-147
	RuleUnauthorized   Rule = "unauthorized-key"       // git-authenticate.scm:233-245
	RuleRemoval        Rule = "removes-authorizations" // git-authenticate.scm:177-187
	RuleAuthorizations Rule = "malformed-authorizations"
	RuleIntroSigner    Rule = "introduction-signer"      // git-authenticate.scm:368-380
	RuleNotDescendant  Rule = "not-descendant"           // git-authenticate.scm:438-447
	RuleAncestor       Rule = "ancestor-of-introduction" // airlock: Guix accepts this (git-authenticate.scm:427-431)
	RuleRollback       Rule = "rollback"                 // airlock: not a descendant of the last authenticated commit
	RuleStrict         Rule = "strict-key-validity"      // airlock's optional Policy.Strict
	RulePathName       Rule = "path-name"                // git fsck's tree checks
	RuleKeyring        Rule = "keyring"                  // a .key file Guix cannot read (openpgp.scm:980-1016)
)

// RefusedError is a channel refused under a rule; Commit is the first offending commit in
// the order Guix authenticates them (git.scm:745-765, reversed depth-first order).
type RefusedError struct {
	Commit OID
	Rule   Rule
	Msg    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("commit %s refused (%s): %s", e.Commit, e.Rule, e.Msg)
}

// ErrInput: the bundle or repository is unreadable or malformed (not a refusal by a rule).
var ErrInput = errors.New("channel input")

// Result describes an authenticated channel.
type Result struct {
	Target        OID
	Tree          OID
	TargetSigner  [20]byte // the key (primary or subkey) that signed the target
	Keyring       OID      // the keyring branch's commit
	KeyringTree   OID
	Authenticated int            // commits checked (the introduction excluded, as Guix)
	Signers       map[string]int // formatted fingerprint -> commits signed
}

// Source is an opened bundle or repository.
type Source struct {
	name  string
	store git.Store
	refs  []git.Ref
	close func() error
}

// Close releases the source's files.
func (s *Source) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}

// OpenBundle parses and indexes the bundle in r[0:size] (name labels errors and blob names).
// Prerequisites refuse unless p.AllowPrerequisites.
func OpenBundle(name string, r io.ReaderAt, size int64, p Policy) (*Source, error) {
	h, err := git.ParseBundleHeader(io.NewSectionReader(r, 0, size), p.Limits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrInput, err)
	}
	if len(h.Prerequisites) > 0 && !p.AllowPrerequisites {
		return nil, fmt.Errorf("%s: bundle needs %d prerequisite commits (%s...) the policy does not hold: %w", name, len(h.Prerequisites), h.Prerequisites[0], ErrInput)
	}
	b, err := git.OpenBundle(name, r, size, p.Limits, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return &Source{name: name, store: b, refs: b.Header.Refs}, nil
}

// OpenRepository opens a git directory (bare or not, loose or packed objects).
func OpenRepository(dir string, p Policy) (*Source, error) {
	r, err := git.OpenRepo(dir, p.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	refs, err := r.Refs()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w: %w", dir, ErrInput, err)
	}
	return &Source{name: dir, store: r, refs: refs, close: r.Close}, nil
}

// Refs lists the source's refs.
func (s *Source) Refs() []git.Ref { return s.refs }

// resolve finds a commit by ref name or hex name, peeling annotated tags.
func (s *Source) resolve(name string) (OID, error) {
	o, ok := git.ResolveRef(s.refs, name)
	if !ok {
		var err error
		if o, err = git.ParseOID(name); err != nil {
			return o, fmt.Errorf("%s: no ref %q: %w", s.name, name, ErrInput)
		}
	}
	for i := 0; i < 8; i++ {
		t, d, err := s.store.Object(o)
		if err != nil {
			return o, fmt.Errorf("%s: %s: %w: %w", s.name, name, ErrInput, err)
		}
		if t == git.TypeCommit {
			return o, nil
		}
		if t != git.TypeTag {
			return o, fmt.Errorf("%s: %s is a %s: %w", s.name, name, t, ErrInput)
		}
		hexName, ok := bytes.CutPrefix(d, []byte("object "))
		if !ok || len(hexName) < 40 {
			return o, fmt.Errorf("%s: tag %s: %w", s.name, o, ErrInput)
		}
		if o, err = git.ParseOID(string(hexName[:40])); err != nil {
			return o, fmt.Errorf("%s: tag: %w: %w", s.name, ErrInput, err)
		}
	}
	return o, fmt.Errorf("%s: %s: tags nest too deep: %w", s.name, name, ErrInput)
}

func (s *Source) endRef(p Policy, keyring string) (string, error) {
	if p.End != "" {
		return p.End, nil
	}
	if _, ok := git.ResolveRef(s.refs, "HEAD"); ok {
		return "HEAD", nil
	}
	var cands []string
	for _, r := range s.refs {
		if r.Name != keyring && r.Name != "refs/heads/"+keyring && !strings.HasSuffix(r.Name, "/"+keyring) {
			cands = append(cands, r.Name)
		}
	}
	if len(cands) != 1 {
		return "", fmt.Errorf("%s: %d candidate targets %v: give the end ref: %w", s.name, len(cands), cands, ErrInput)
	}
	return cands[0], nil
}

// Authenticate applies the rules to the source. A refusal is a *RefusedError; any other error
// wraps ErrInput (or the context's error).
func (s *Source) Authenticate(ctx context.Context, p Policy) (*Result, error) {
	keyringRef := p.Keyring
	if keyringRef == "" {
		keyringRef = "keyring"
	}
	endName, err := s.endRef(p, keyringRef)
	if err != nil {
		return nil, err
	}
	end, err := s.resolve(endName)
	if err != nil {
		return nil, err
	}
	a := &auth{src: s, p: p, commits: map[OID]*git.Commit{}, authz: map[OID]authzResult{}, hasFile: map[OID]hasFileResult{}}
	res := &Result{Target: end, Signers: map[string]int{}}
	// load-keyring-from-reference (git-authenticate.scm:268-281; load-keyring-from-blob, 249-266).
	// branch-lookup with BRANCH-ALL (git-authenticate.scm:271): a local branch, else a
	// remote-tracking one; no tags, no other refs.
	kref, ok := git.ResolveRef(s.refs, "refs/heads/"+keyringRef)
	if !ok {
		if kref, ok = git.ResolveRef(s.refs, "refs/remotes/"+keyringRef); !ok {
			return nil, fmt.Errorf("%s: no keyring branch %q: %w", s.name, keyringRef, ErrInput)
		}
	}
	kc, err := s.resolve(kref.String())
	if err != nil {
		return nil, err
	}
	res.Keyring = kc
	if a.keyring, res.KeyringTree, err = a.loadKeyring(kc); err != nil {
		return nil, err
	}
	// verify-introductory-commit (git-authenticate.scm:368-380): the default disallowed
	// digests ('(sha1), git-authenticate.scm:98) apply to the introduction. Guix checks it
	// only on first use and only when there are commits to check; airlock always does.
	key, rerr := a.signingKey(p.Introduction, true)
	if rerr != nil {
		return nil, rerr
	}
	if key.Fingerprint != p.Signer {
		return nil, &RefusedError{Commit: p.Introduction, Rule: RuleIntroSigner,
			Msg: fmt.Sprintf("initial commit is signed by '%s' instead of '%s'", openpgp.FormatFingerprint(key.Fingerprint[:]), openpgp.FormatFingerprint(p.Signer[:]))}
	}
	// Forward only: the target must descend from (or be) the introduction.
	desc, err := a.descendant(ctx, end, p.Introduction)
	if err != nil {
		return nil, err
	}
	if !desc {
		anc, err := a.descendant(ctx, p.Introduction, end)
		if err != nil {
			return nil, err
		}
		if anc {
			return nil, &RefusedError{Commit: end, Rule: RuleAncestor, Msg: "target is an ancestor of the introduction (Guix accepts this; airlock does not)"}
		}
		return nil, &RefusedError{Commit: end, Rule: RuleNotDescendant, Msg: fmt.Sprintf("commit %s is not a descendant of introductory commit %s", end, p.Introduction)}
	}
	excluded := []OID{p.Introduction}
	if p.LastAuthenticated != nil {
		last := *p.LastAuthenticated
		ok, err := a.descendant(ctx, end, last)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &RefusedError{Commit: end, Rule: RuleRollback, Msg: fmt.Sprintf("target does not descend from %s, the last commit authenticated for this channel", last)}
		}
		excluded = append(excluded, last)
	}
	list, err := a.difference(ctx, end, excluded)
	if err != nil {
		return nil, err
	}
	// authenticate-commits (git-authenticate.scm:283-304).
	for i, c := range list {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		k, err := a.authenticateCommit(c)
		if err != nil {
			return nil, err
		}
		res.Signers[openpgp.FormatFingerprint(k.Fingerprint[:])]++
		if c == end {
			res.TargetSigner = k.Fingerprint
		}
	}
	res.Authenticated = len(list)
	if end == p.Introduction {
		res.TargetSigner = key.Fingerprint
	} else if len(list) == 0 { // the target is the last authenticated commit
		k, rerr := a.signingKey(end, false)
		if rerr == nil {
			res.TargetSigner = k.Fingerprint
		}
	}
	tc, err := a.commit(end)
	if err != nil {
		return nil, err
	}
	res.Tree = tc.Tree
	return res, nil
}

type authzResult struct {
	keys [][]byte
	err  error
}

type hasFileResult struct {
	entry *git.TreeEntry
	err   error
}

type auth struct {
	src     *Source
	p       Policy
	keyring *openpgp.Keyring
	commits map[OID]*git.Commit
	authz   map[OID]authzResult
	hasFile map[OID]hasFileResult
}

func (a *auth) commit(o OID) (*git.Commit, error) {
	if c, ok := a.commits[o]; ok {
		return c, nil
	}
	c, err := git.ReadCommit(a.src.store, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", a.src.name, ErrInput, err)
	}
	c.Signed = nil // re-read when verifying: keeps memory per commit small
	c.Signature = ""
	a.commits[o] = c
	return c, nil
}

// difference is commit-difference (git.scm:745-765): the closure of end minus the closures
// of excluded, in Guix's order.
func (a *auth) difference(ctx context.Context, end OID, excluded []OID) ([]OID, error) {
	visited := map[OID]bool{}
	stack := append([]OID(nil), excluded...)
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[o] {
			continue
		}
		visited[o] = true
		c, err := a.commit(o)
		if err != nil {
			return nil, err
		}
		stack = append(stack, c.Parents...)
	}
	var result []OID
	stack = []OID{end}
	for n := 0; len(stack) > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[o] {
			continue
		}
		visited[o] = true
		result = append(result, o)
		c, err := a.commit(o)
		if err != nil {
			return nil, err
		}
		// (append (commit-parents head) tail): the first parent is visited next.
		for i := len(c.Parents) - 1; i >= 0; i-- {
			stack = append(stack, c.Parents[i])
		}
	}
	for i, j := 0, len(result)-1; i < j; i, j = i+1, j-1 {
		result[i], result[j] = result[j], result[i]
	}
	return result, nil
}

// descendant reports whether n is old or reaches old through parents.
func (a *auth) descendant(ctx context.Context, n, old OID) (bool, error) {
	seen := map[OID]bool{}
	stack := []OID{n}
	for k := 0; len(stack) > 0; k++ {
		if k%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if o == old {
			return true, nil
		}
		if seen[o] {
			continue
		}
		seen[o] = true
		c, err := a.commit(o)
		if err != nil {
			return false, err
		}
		stack = append(stack, c.Parents...)
	}
	return false, nil
}

// authFile finds .guix-authorizations at the root of commit o's tree (tree-entry-bypath).
func (a *auth) authFile(o OID) (*git.TreeEntry, error) {
	if r, ok := a.hasFile[o]; ok {
		return r.entry, r.err
	}
	var r hasFileResult
	c, err := a.commit(o)
	if err == nil {
		var entries []git.TreeEntry
		entries, err = git.ReadTree(a.src.store, c.Tree)
		if err != nil {
			err = fmt.Errorf("%s: %w: %w", a.src.name, ErrInput, err)
		}
		for i := range entries {
			if entries[i].Name == ".guix-authorizations" {
				e := entries[i]
				r.entry = &e
			}
		}
	}
	r.err = err
	a.hasFile[o] = r
	return r.entry, r.err
}

// signingKey is commit-signing-key (git-authenticate.scm:97-148). recent selects
// disallowing SHA-1 (git-authenticate.scm:220-231); MD5 is always refused.
func (a *auth) signingKey(o OID, recent bool) (*openpgp.Key, error) {
	c, err := git.ReadCommit(a.src.store, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", a.src.name, ErrInput, err)
	}
	if c.Signature == "" {
		return nil, &RefusedError{Commit: o, Rule: RuleUnsigned, Msg: "commit lacks a signature"}
	}
	sig, err := openpgp.ParseArmoredSignature(c.Signature)
	if err != nil {
		return nil, &RefusedError{Commit: o, Rule: RuleSignature, Msg: err.Error()}
	}
	if sig.HashAlg == openpgp.HashMD5 || (recent && sig.HashAlg == openpgp.HashSHA1) {
		return nil, &RefusedError{Commit: o, Rule: RuleDigest, Msg: fmt.Sprintf("commit has a %s signature, which is not permitted", openpgp.HashName(sig.HashAlg))}
	}
	k, err := openpgp.Verify(sig, a.keyring, c.Signed)
	switch {
	case errors.Is(err, openpgp.ErrMissingKey):
		return nil, &RefusedError{Commit: o, Rule: RuleMissingKey, Msg: "could not authenticate commit: " + err.Error()}
	case err != nil:
		return nil, &RefusedError{Commit: o, Rule: RuleSignature, Msg: "signature verification failed: " + err.Error()}
	}
	if a.p.Strict {
		now := a.p.Now
		if now.IsZero() {
			now = time.Now()
		}
		if err := openpgp.StrictCheck(sig, k, now.Unix()); err != nil {
			return nil, &RefusedError{Commit: o, Rule: RuleStrict, Msg: err.Error()}
		}
	}
	return k, nil
}

// authorizationsOf is commit-authorizations (git-authenticate.scm:189-204) for parent o.
func (a *auth) authorizationsOf(o OID) ([][]byte, error) {
	if r, ok := a.authz[o]; ok {
		return r.keys, r.err
	}
	var r authzResult
	e, err := a.authFile(o)
	switch {
	case err != nil:
		r.err = err
	case e != nil:
		t, data, err := a.src.store.Object(e.OID)
		switch {
		case err != nil:
			r.err = fmt.Errorf("%s: .guix-authorizations of %s: %w: %w", a.src.name, o, ErrInput, err)
		case t != git.TypeBlob:
			r.err = &RefusedError{Commit: o, Rule: RuleAuthorizations, Msg: ".guix-authorizations is a " + t.String()}
		default:
			keys, err := ReadAuthorizations(data)
			if err != nil {
				r.err = &RefusedError{Commit: o, Rule: RuleAuthorizations, Msg: err.Error()}
			}
			r.keys = keys
		}
	default:
		// assert-parents-lack-authorizations (git-authenticate.scm:177-187).
		c, err := a.commit(o)
		if err != nil {
			r.err = err
			break
		}
		for _, pp := range c.Parents {
			pe, err := a.authFile(pp)
			if err != nil {
				r.err = err
				break
			}
			if pe != nil {
				r.err = &RefusedError{Commit: o, Rule: RuleRemoval, Msg: "commit attempts to remove '.guix-authorizations' file"}
				break
			}
		}
		if r.err == nil {
			r.keys = a.historical()
		}
	}
	a.authz[o] = r
	return r.keys, r.err
}

func (a *auth) historical() [][]byte {
	out := make([][]byte, len(a.p.HistoricalAuthorizations))
	for i := range a.p.HistoricalAuthorizations {
		out[i] = a.p.HistoricalAuthorizations[i][:]
	}
	return out
}

// authenticateCommit is authenticate-commit (git-authenticate.scm:212-247), plus airlock's
// refusal of the removing commit itself (Guix refuses only its children,
// git-authenticate.scm:177-187, so a target that removes the file would pass there).
func (a *auth) authenticateCommit(o OID) (*openpgp.Key, error) {
	e, err := a.authFile(o)
	if err != nil {
		return nil, err
	}
	k, err := a.signingKey(o, e != nil)
	if err != nil {
		return nil, err
	}
	c, err := a.commit(o)
	if err != nil {
		return nil, err
	}
	// commit-authorized-keys (git-authenticate.scm:163-210; the intersection, 206-210).
	var authorized [][]byte
	if len(c.Parents) == 0 {
		authorized = a.historical()
	} else {
		for i, pp := range c.Parents {
			keys, err := a.authorizationsOf(pp)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				authorized = keys
				continue
			}
			var inter [][]byte
			for _, x := range authorized {
				for _, y := range keys {
					if bytes.Equal(x, y) {
						inter = append(inter, x)
						break
					}
				}
			}
			authorized = inter
		}
	}
	ok := false
	for _, f := range authorized {
		if bytes.Equal(f, k.Fingerprint[:]) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, &RefusedError{Commit: o, Rule: RuleUnauthorized, Msg: "commit not signed by an authorized key: " + openpgp.FormatFingerprint(k.Fingerprint[:])}
	}
	if e == nil {
		for _, pp := range c.Parents {
			pe, err := a.authFile(pp)
			if err != nil {
				return nil, err
			}
			if pe != nil {
				return nil, &RefusedError{Commit: o, Rule: RuleRemoval, Msg: "commit removes the '.guix-authorizations' file of its parent " + pp.String()}
			}
		}
	}
	return k, nil
}

// loadKeyring reads every path ending in ".key" in the keyring commit's tree, in tree order
// (load-keyring-from-reference, git-authenticate.scm:268-281, and load-keyring-from-blob, 249-266; guile-git's tree-list walks
// the tree recursively).
func (a *auth) loadKeyring(kc OID) (*openpgp.Keyring, OID, error) {
	c, err := a.commit(kc)
	if err != nil {
		return nil, OID{}, err
	}
	kr := openpgp.NewKeyring()
	type keyFile struct {
		name string
		oid  OID
	}
	var files []keyFile
	var walk func(tree OID, prefix string, depth int) error
	walk = func(tree OID, prefix string, depth int) error {
		if depth > 64 {
			return fmt.Errorf("keyring tree deeper than 64: %w", ErrInput)
		}
		entries, err := git.ReadTree(a.src.store, tree)
		if err != nil {
			return fmt.Errorf("%s: keyring: %w: %w", a.src.name, ErrInput, err)
		}
		for _, e := range entries {
			name := prefix + e.Name
			if strings.HasSuffix(name, ".key") {
				files = append(files, keyFile{name, e.OID})
			}
			if e.Mode == git.ModeTree {
				if err := walk(e.OID, name+"/", depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(c.Tree, "", 0); err != nil {
		return nil, OID{}, err
	}
	// tree-list is (tree-fold cons '() tree): the pre-order walk reversed, and the fold
	// inserts in that order, so where two files hold the same key the first in tree order wins.
	for i := len(files) - 1; i >= 0; i-- {
		name := files[i].name
		t, data, err := a.src.store.Object(files[i].oid)
		if err != nil {
			return nil, OID{}, fmt.Errorf("%s: keyring %s: %w: %w", a.src.name, name, ErrInput, err)
		}
		if t != git.TypeBlob {
			return nil, OID{}, fmt.Errorf("%s: keyring %s is a %s: %w", a.src.name, name, t, ErrInput)
		}
		if err := kr.Add(data); err != nil {
			return nil, OID{}, &RefusedError{Commit: kc, Rule: RuleKeyring, Msg: fmt.Sprintf("keyring file %s: %v", name, err)}
		}
	}
	return kr, c.Tree, nil
}
