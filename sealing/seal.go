package sealing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airlock-appliance/airlock/sealing/internal/sums"
)

// Names in a sealed tree (DESIGN.md, "Disc layout").
const (
	ManifestName  = "SHA256SUMS"
	SignatureName = "SHA256SUMS.minisig"
	BundleDir     = "bundle"
	AirlockDir    = "AIRLOCK"
)

// NoLogIndex is SealInfo.LogIndex when the seal has no audit log record.
const NoLogIndex = -1

// SealInfo is what a seal's trusted comment carries, so that `minisign -V` shows it and nobody
// can change it without breaking the signature.
//
// The comment reads
//
//	airlock-seal session=S station=S time=2026-11-25T12:00:00Z policy=HEX log=N
//
// with each value percent-escaped (space, "%", "=" and control characters) and possibly empty.
type SealInfo struct {
	Session    string
	Station    string
	Time       time.Time // UTC, to the second; zero for none
	PolicyHash string    // hex SHA-256 of the policy file, or ""
	LogIndex   int64     // audit log index of the seal record, or NoLogIndex
}

const sealCommentPrefix = "airlock-seal "

// TrustedComment renders i as a seal's trusted comment.
func (i SealInfo) TrustedComment() string {
	t, log := "", ""
	if !i.Time.IsZero() {
		t = i.Time.UTC().Format(time.RFC3339)
	}
	if i.LogIndex >= 0 {
		log = strconv.FormatInt(i.LogIndex, 10)
	}
	return fmt.Sprintf("%ssession=%s station=%s time=%s policy=%s log=%s", sealCommentPrefix,
		escapeField(i.Session), escapeField(i.Station), t, escapeField(i.PolicyHash), log)
}

// ErrBadTrustedComment: a seal signature's trusted comment is not airlock's.
var ErrBadTrustedComment = errors.New("trusted comment is not an airlock seal comment")

// ParseTrustedComment parses a seal's trusted comment (see SealInfo).
func ParseTrustedComment(s string) (SealInfo, error) {
	i := SealInfo{LogIndex: NoLogIndex}
	rest, ok := strings.CutPrefix(s, sealCommentPrefix)
	if !ok {
		return i, fmt.Errorf("%w: %q", ErrBadTrustedComment, s)
	}
	fields := strings.Split(rest, " ")
	want := []string{"session", "station", "time", "policy", "log"}
	if len(fields) != len(want) {
		return i, fmt.Errorf("%w: %d fields, want %d", ErrBadTrustedComment, len(fields), len(want))
	}
	for n, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != want[n] {
			return i, fmt.Errorf("%w: field %d is %q, want %s=", ErrBadTrustedComment, n+1, f, want[n])
		}
		v, err := unescapeField(v)
		if err != nil {
			return i, fmt.Errorf("%w: %s: %v", ErrBadTrustedComment, k, err)
		}
		switch k {
		case "session":
			i.Session = v
		case "station":
			i.Station = v
		case "policy":
			i.PolicyHash = v
		case "time":
			if v != "" {
				if i.Time, err = time.Parse(time.RFC3339, v); err != nil {
					return i, fmt.Errorf("%w: time: %v", ErrBadTrustedComment, err)
				}
			}
		case "log":
			if v != "" {
				if i.LogIndex, err = strconv.ParseInt(v, 10, 64); err != nil || i.LogIndex < 0 {
					return i, fmt.Errorf("%w: log index %q", ErrBadTrustedComment, v)
				}
			}
		}
	}
	return i, nil
}

// File is one sealed file: its slash-separated path relative to the sealed tree's root (e.g.
// "bundle/src/x.tar.gz", "AIRLOCK/checkpoint") and its SHA-256.
type File struct {
	Path string
	Size int64
	Sum  [32]byte
}

// SignManifest returns SHA256SUMS for files (sorted, GNU format) and its signature by key. The
// appliance calls it with hashes it computed while reading the stick, so no byte is read twice.
func SignManifest(files []File, key *SealKey, info SealInfo) (manifest, sig []byte, err error) {
	es := make([]sums.Entry, 0, len(files))
	for _, f := range files {
		if err := checkSealPath(f.Path); err != nil {
			return nil, nil, err
		}
		es = append(es, sums.Entry{Name: f.Path, Sum: f.Sum})
	}
	manifest, err = sums.Format(es)
	if err != nil {
		return nil, nil, err
	}
	return manifest, key.SignDetached(manifest, info.TrustedComment()), nil
}

// checkSealPath refuses paths a manifest must not list.
func checkSealPath(p string) error {
	if !fs.ValidPath(p) || p == "." {
		return fmt.Errorf("seal: invalid path %q", p)
	}
	if p == ManifestName || p == SignatureName {
		return fmt.Errorf("seal: %s cannot list itself", p)
	}
	return nil
}

// HashFS hashes every regular file of fsys except the manifest and its signature, in parallel
// (workers <= 0 means one per CPU). Anything else than regular files and directories (a
// symlink, a device) is an error.
func HashFS(ctx context.Context, fsys fs.FS, workers int) ([]File, error) {
	var jobs []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if p == ManifestName || p == SignatureName {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%s)", p, d.Type())
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		jobs = append(jobs, File{Path: p, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = parallel(ctx, jobs, workers, func(f *File) error {
		r, err := fsys.Open(f.Path)
		if err != nil {
			return err
		}
		defer r.Close()
		h := sha256.New()
		n, err := copyCtx(ctx, h, r)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		f.Size = n
		copy(f.Sum[:], h.Sum(nil))
		return nil
	})
	return jobs, err
}

// parallel runs fn over jobs with workers goroutines, largest jobs first so that a big file
// does not start last. It returns the first error.
func parallel(ctx context.Context, jobs []File, workers int, fn func(*File) error) error {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].Size > jobs[order[b]].Size })
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(&jobs[i]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = parent.Err()
	}
	return firstErr
}

// copyCtx copies r to w with a 1 MiB buffer, checking ctx between blocks.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// SealDir hashes the tree at dir (bundle/, AIRLOCK/, whatever it holds) and writes
// dir/SHA256SUMS and dir/SHA256SUMS.minisig, durably.
func SealDir(ctx context.Context, dir string, key *SealKey, info SealInfo) ([]File, error) {
	files, err := HashFS(ctx, os.DirFS(dir), 0)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", dir, err)
	}
	return files, writeSeal(dir, files, key, info)
}

func writeSeal(dir string, files []File, key *SealKey, info SealInfo) error {
	manifest, sig, err := SignManifest(files, key, info)
	if err != nil {
		return fmt.Errorf("seal %s: %w", dir, err)
	}
	if err := writeFileSync(filepath.Join(dir, ManifestName), manifest); err != nil {
		return err
	}
	return writeFileSync(filepath.Join(dir, SignatureName), sig)
}

// Input is one FILE or DIR given to CopyAndSeal.
//
// Where it lands under bundle/: a relative path without ".." keeps its path
// ("src/a.tar" -> bundle/src/a.tar, directory "docs" -> bundle/docs/...); any other path
// lands under its base name.
func bundlePath(input string) string {
	c := filepath.ToSlash(filepath.Clean(input))
	if !filepath.IsAbs(input) && fs.ValidPath(c) && c != "." {
		return path.Join(BundleDir, c)
	}
	abs, err := filepath.Abs(input)
	if err != nil {
		abs = input
	}
	return path.Join(BundleDir, filepath.Base(abs))
}

// CopyAndSeal copies the inputs under out/bundle/ (CopyBundle), then seals out (SealCopied).
func CopyAndSeal(ctx context.Context, out string, inputs []string, key *SealKey, info SealInfo) ([]File, error) {
	files, err := CopyBundle(ctx, out, inputs)
	if err != nil {
		return nil, err
	}
	return SealCopied(ctx, out, files, key, info)
}

// SealCopied hashes whatever out/AIRLOCK/ holds and writes the signed manifest over it and the
// already-hashed bundle files (CopyBundle's result).
func SealCopied(ctx context.Context, out string, bundle []File, key *SealKey, info SealInfo) ([]File, error) {
	files := append([]File(nil), bundle...)
	if st, err := os.Stat(filepath.Join(out, AirlockDir)); err == nil && st.IsDir() {
		extra, err := HashFS(ctx, os.DirFS(filepath.Join(out, AirlockDir)), 0)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", filepath.Join(out, AirlockDir), err)
		}
		for _, f := range extra {
			f.Path = path.Join(AirlockDir, f.Path)
			files = append(files, f)
		}
	}
	return files, writeSeal(out, files, key, info)
}

// CopyBundle copies the inputs (files or directory trees) under out/bundle/, hashing each file
// while copying it (parallel over files). out must not hold a bundle/ yet. Symlinks and special
// files are refused.
func CopyBundle(ctx context.Context, out string, inputs []string) ([]File, error) {
	if _, err := os.Lstat(filepath.Join(out, BundleDir)); err == nil {
		return nil, fmt.Errorf("seal: %s already exists", filepath.Join(out, BundleDir))
	}
	var files []File
	srcOf := map[string]string{}
	for _, in := range inputs {
		dst := bundlePath(in)
		st, err := os.Lstat(in)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		add := func(src, dst string, size int64) error {
			if prev, dup := srcOf[dst]; dup {
				return fmt.Errorf("seal: %s and %s both land at %s", prev, src, dst)
			}
			srcOf[dst] = src
			files = append(files, File{Path: dst, Size: size})
			return nil
		}
		switch {
		case st.Mode().IsRegular():
			if err := add(in, dst, st.Size()); err != nil {
				return nil, err
			}
		case st.IsDir():
			err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					return nil
				}
				if !d.Type().IsRegular() {
					return fmt.Errorf("seal: %s: not a regular file (%s)", p, d.Type())
				}
				rel, err := filepath.Rel(in, p)
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				return add(p, path.Join(dst, filepath.ToSlash(rel)), info.Size())
			})
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("seal: %s: not a regular file or directory (%s)", in, st.Mode().Type())
		}
	}
	for _, f := range files {
		if err := checkSealPath(f.Path); err != nil {
			return nil, err
		}
	}
	err := parallel(ctx, files, 0, func(f *File) error {
		return copyHash(ctx, srcOf[f.Path], filepath.Join(out, filepath.FromSlash(f.Path)), f)
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// BundleDigest is the SHA-256 of the SHA256SUMS-format listing of files (sorted): what a seal
// record in the audit log names, so the log pins the exact bundle.
func BundleDigest(files []File) (string, error) {
	es := make([]sums.Entry, len(files))
	for i, f := range files {
		es[i] = sums.Entry{Name: f.Path, Sum: f.Sum}
	}
	b, err := sums.Format(es)
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:]), nil
}

// copyHash copies src to dst (created, never overwritten), hashing the bytes it writes. The copy
// is not fsynced (the manifest and signature are): after a crash a copy may be incomplete,
// which verification then reports, so nothing unsafe survives.
func copyHash(ctx context.Context, src, dst string, f *File) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	h := sha256.New()
	n, err := copyCtx(ctx, io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: copy %s to %s: %w", src, dst, err)
	}
	f.Size = n
	copy(f.Sum[:], h.Sum(nil))
	return nil
}

// writeFileSync writes path (replacing it) and syncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func newSHA256() hash.Hash { return sha256.New() }
