package guix

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-appliance/airlock/internal/readlimit"
)

// StoreDir is the store directory of Guix. Store path hashes depend on it.
const StoreDir = "/gnu/store"

// maxStoreNameLen bounds a store path's name part, as Nix and Guix do.
const maxStoreNameLen = 211

// ErrStorePath is wrapped by every error about a malformed store path.
var ErrStorePath = errors.New("invalid store path")

// CheckStorePath checks that p is StoreDir + "/" + 32 nix-base32 characters + "-" + a valid
// name ([A-Za-z0-9+-._?=], not starting with '.', at most 211 bytes).
func CheckStorePath(p string) error {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return fmt.Errorf("%w: %q is not in %s", ErrStorePath, p, StoreDir)
	}
	if len(rest) < 34 || rest[32] != '-' {
		return fmt.Errorf("%w: %q: want HASH-NAME", ErrStorePath, p)
	}
	for i := 0; i < 32; i++ {
		if nixIndex[rest[i]] < 0 {
			return fmt.Errorf("%w: %q: hash part has %q", ErrStorePath, p, rest[i])
		}
	}
	if err := checkStoreName(rest[33:]); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrStorePath, p, err)
	}
	return nil
}

func checkStoreName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > maxStoreNameLen {
		return fmt.Errorf("name longer than %d bytes", maxStoreNameLen)
	}
	if name[0] == '.' {
		return errors.New("name starts with '.'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+-._?=", c) >= 0) {
			return fmt.Errorf("name has %q", c)
		}
	}
	return nil
}

// StorePathName returns the name part of a store path ("hello-2.12" of
// /gnu/store/…-hello-2.12).
func StorePathName(p string) (string, error) {
	if err := CheckStorePath(p); err != nil {
		return "", err
	}
	return p[len(StoreDir)+1+33:], nil
}

// makeStorePath is Nix's makeStorePath: the hash part is nix-base32 of SHA-256 of
// "TYPE:sha256:HEX:/gnu/store:NAME" folded to 20 bytes.
func makeStorePath(typ string, h [32]byte, name string) (string, error) {
	if err := checkStoreName(name); err != nil {
		return "", fmt.Errorf("%w: %v", ErrStorePath, err)
	}
	s := sha256.Sum256([]byte(typ + ":sha256:" + hex.EncodeToString(h[:]) + ":" + StoreDir + ":" + name))
	var f [20]byte
	for i, b := range s {
		f[i%20] ^= b
	}
	return StoreDir + "/" + EncodeBase32(f[:]) + "-" + name, nil
}

// SourceStorePath returns the store path of a recursive SHA-256 fixed output without
// references (a "source": local-file, git checkout), given the SHA-256 of its NAR.
func SourceStorePath(name string, narHash [32]byte) (string, error) {
	return makeStorePath("source", narHash, name)
}

// FlatStorePath returns the store path of a flat SHA-256 fixed output (a url-fetch tarball as
// `guix build --source` gives), given the SHA-256 of the file.
func FlatStorePath(name string, fileHash [32]byte) (string, error) {
	inner := sha256.Sum256([]byte("fixed:out:sha256:" + hex.EncodeToString(fileHash[:]) + ":"))
	return makeStorePath("output:out", inner, name)
}

// ErrFixedOutputMismatch is returned by CheckFlatFixedOutput when the content does not give
// the store path.
var ErrFixedOutputMismatch = errors.New("content does not match the fixed-output store path")

// CheckFlatFixedOutput reads a file (a source tarball) from r and checks that it is the content
// of the flat fixed-output store path storePath. It returns the file's SHA-256.
func CheckFlatFixedOutput(storePath string, r io.Reader) ([32]byte, error) {
	var sum [32]byte
	name, err := StorePathName(storePath)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return sum, fmt.Errorf("hash content of %s: %w", storePath, err)
	}
	h.Sum(sum[:0])
	p, err := FlatStorePath(name, sum)
	if err != nil {
		return sum, err
	}
	if !bytes.Equal([]byte(p), []byte(storePath)) {
		return sum, fmt.Errorf("%w: sha256 %s gives %s, not %s", ErrFixedOutputMismatch, EncodeBase32(sum[:]), p, storePath)
	}
	return sum, nil
}

// MaxStorePathsFile bounds a file of known store paths: a million paths of the longest
// legal name.
const MaxStorePathsFile = 1 << 28

// LoadStorePaths reads a file of store paths already on the high side, one per line; blank
// lines and lines starting with '#' are skipped. Every path must pass CheckStorePath: a
// mistyped line fails with its file and line number instead of silently never matching.
// The policy's import.known_store_paths and `airlock guix verify --present` both use it.
func LoadStorePaths(path string) ([]string, error) {
	b, err := readlimit.File(path, MaxStorePathsFile)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := CheckStorePath(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, line)
	}
	return out, nil
}
