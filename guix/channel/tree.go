package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-appliance/airlock/guix/channel/internal/git"
)

// Blob is one entry of a scanned tree. Symlinks carry their target as Data; submodules
// (gitlinks) carry no data and Missing is false.
type Blob struct {
	Name    string // "BUNDLE!path" for the target tree, "BUNDLE!KEYRING:path" for the keyring
	Mode    uint32
	OID     OID
	Data    []byte
	Missing bool // absent from the source (a partial clone): unscannable
}

// IsSymlink and IsSubmodule name the recorded special entries.
func (b *Blob) IsSymlink() bool   { return b.Mode == git.ModeSymlink }
func (b *Blob) IsSubmodule() bool { return b.Mode == git.ModeGitlink }

// hfsIgnorable are the code points HFS+ ignores in names (git's utf8.c, is_hfs_dotgit).
var hfsIgnorable = []rune{0x200c, 0x200d, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x206a, 0x206b, 0x206c, 0x206d, 0x206e, 0x206f, 0xfeff}

func isHFSIgnorable(r rune) bool {
	for _, x := range hfsIgnorable {
		if r == x {
			return true
		}
	}
	return false
}

// dotGitLike reports whether name would be taken for want (".git", ".gitmodules", ...) on
// some file system: case-folded, HFS+ ignorables removed, NTFS trailing dots and spaces and
// alternate data streams stripped, or an NTFS 8.3 short name (git's path.c is_ntfs_dotgit,
// utf8.c is_hfs_dotgit).
func dotGitLike(name, want, short string) bool {
	var sb strings.Builder
	for _, r := range name {
		if !isHFSIgnorable(r) {
			sb.WriteRune(r)
		}
	}
	n := strings.ToLower(sb.String())
	if i := strings.IndexByte(n, ':'); i >= 0 {
		n = n[:i]
	}
	n = strings.TrimRight(n, ". ")
	if n == want {
		return true
	}
	return short != "" && n == short
}

// checkName applies git fsck's name checks (fsck.c fsck_tree: hasDot, hasDotdot, hasDotgit,
// fullPathname, emptyName, and the .gitmodules-symlink check).
func checkName(e git.TreeEntry) error {
	n := e.Name
	switch {
	case n == "":
		return fmt.Errorf("empty name")
	case strings.ContainsAny(n, "/\x00"):
		return fmt.Errorf("name %q contains '/' or NUL", n)
	case n == "." || n == "..":
		return fmt.Errorf("name %q", n)
	case strings.Contains(n, "\\"):
		// On NTFS a backslash separates: "a\..\.git" and ".git\x" are the tricks fsck refuses.
		for _, part := range strings.Split(n, "\\") {
			if part == ".." || part == "." || dotGitLike(part, ".git", "git~1") {
				return fmt.Errorf("name %q hides %q behind a backslash", n, part)
			}
		}
	}
	if dotGitLike(n, ".git", "git~1") {
		return fmt.Errorf("name %q is .git on some file system", n)
	}
	if e.Mode == git.ModeSymlink {
		for _, w := range []string{".gitmodules", ".gitattributes", ".gitignore", ".mailmap"} {
			if dotGitLike(n, w, "") {
				return fmt.Errorf("%q is a symlink", n)
			}
		}
	}
	switch e.Mode {
	case git.ModeTree, git.ModeBlob, git.ModeExec, git.ModeSymlink, git.ModeGitlink, 0o100664:
	default:
		return fmt.Errorf("%q has mode %o", n, e.Mode)
	}
	return nil
}

// treeLess is git's tree order: names compare as if trees ended with '/'.
func treeLess(a, b git.TreeEntry) bool {
	an, bn := a.Name, b.Name
	if a.Mode == git.ModeTree {
		an += "/"
	}
	if b.Mode == git.ModeTree {
		bn += "/"
	}
	return an < bn
}

// maxTreeDepth and maxTreeEntries bound a walk over a hostile tree.
const (
	maxTreeDepth   = 256
	maxTreeEntries = 4 << 20
)

// WalkTree calls fn for every non-tree entry under the tree of commit c (the target or the
// keyring), checking every name as git fsck does: a bad name is a *RefusedError (RulePathName).
// prefix is prepended to paths ("BUNDLE!" or "BUNDLE!keyring:").
func (s *Source) WalkTree(c OID, prefix string, fn func(*Blob) error) error {
	cm, err := git.ReadCommit(s.store, c)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", s.name, ErrInput, err)
	}
	count := 0
	var walk func(tree OID, path string, depth int) error
	walk = func(tree OID, path string, depth int) error {
		if depth > maxTreeDepth {
			return &RefusedError{Commit: c, Rule: RulePathName, Msg: fmt.Sprintf("tree deeper than %d at %q", maxTreeDepth, path)}
		}
		entries, err := git.ReadTree(s.store, tree)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", s.name, ErrInput, err)
		}
		for i, e := range entries {
			if count++; count > maxTreeEntries {
				return fmt.Errorf("%s: more than %d tree entries: %w", s.name, maxTreeEntries, ErrInput)
			}
			if err := checkName(e); err != nil {
				return &RefusedError{Commit: c, Rule: RulePathName, Msg: path + ": " + err.Error()}
			}
			if i > 0 && !treeLess(entries[i-1], e) {
				return &RefusedError{Commit: c, Rule: RulePathName, Msg: fmt.Sprintf("%s: %q and %q are duplicated or out of order", path, entries[i-1].Name, e.Name)}
			}
			p := path + e.Name
			if e.Mode == git.ModeTree {
				if err := walk(e.OID, p+"/", depth+1); err != nil {
					return err
				}
				continue
			}
			b := &Blob{Name: prefix + p, Mode: e.Mode, OID: e.OID}
			if e.Mode != git.ModeGitlink {
				t, data, err := s.store.Object(e.OID)
				switch {
				case err == nil && t != git.TypeBlob:
					return fmt.Errorf("%s: %s is a %s: %w", s.name, p, t, ErrInput)
				case err == nil:
					b.Data = data
				default:
					b.Missing = true
				}
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(cm.Tree, "", 0)
}

// Blobs walks the target tree ("BUNDLE!path") and then the keyring tree
// ("BUNDLE!KEYRING:path") of an authenticated result, for the scanner.
func (s *Source) Blobs(r *Result, bundleName, keyring string, fn func(*Blob) error) error {
	if keyring == "" {
		keyring = "keyring"
	}
	if err := s.WalkTree(r.Target, bundleName+"!", fn); err != nil {
		return err
	}
	return s.WalkTree(r.Keyring, bundleName+"!"+keyring+":", fn)
}

// AuthenticateBundle opens the bundle in r[0:size] and authenticates it under p: the entry
// point for the scanner and the station. The returned Source (close it) gives the blobs to
// scan (Blobs, HistoryBlobs); on a refusal the error is a *RefusedError.
func AuthenticateBundle(ctx context.Context, name string, r io.ReaderAt, size int64, p Policy) (*Source, *Result, error) {
	s, err := OpenBundle(name, r, size, p)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.Authenticate(ctx, p)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, res, nil
}

// ErrHistoryCap: a bundle holds more history blobs than the policy's cap.
var ErrHistoryCap = errors.New("history blobs over the cap")

// HistoryBlobs calls fn for every blob object of a bundle's pack (history included), named
// "BUNDLE!objects/OID", up to max blobs (more is ErrHistoryCap, so that the caller can call
// the bundle unscannable rather than clean). It is for a policy that scans history; a git
// directory source returns an error (its objects are not enumerated).
func (s *Source) HistoryBlobs(bundleName string, max int, fn func(*Blob) error) error {
	b, ok := s.store.(*git.Bundle)
	if !ok {
		return fmt.Errorf("%s: history blobs are enumerated for bundles only: %w", s.name, ErrInput)
	}
	n := 0
	for _, o := range b.OIDs() {
		t, data, err := b.Object(o)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", s.name, ErrInput, err)
		}
		if t != git.TypeBlob {
			continue
		}
		if n++; n > max {
			return fmt.Errorf("%s: more than %d blobs: %w", s.name, max, ErrHistoryCap)
		}
		if err := fn(&Blob{Name: bundleName + "!objects/" + o.String(), Mode: git.ModeBlob, OID: o, Data: data}); err != nil {
			return err
		}
	}
	return nil
}
