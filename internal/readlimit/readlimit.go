// Package readlimit reads whole small files (keys, signatures, policies, log metadata) with an
// explicit bound, so that a hostile or corrupted file cannot make a reader allocate without limit.
package readlimit

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by File when the file holds more than the bound.
var ErrTooLarge = errors.New("file too large")

// File reads the whole file at path, refusing one of more than max bytes. Errors name the path.
func File(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return All(path, f, max)
}

// All reads r to its end, refusing more than max bytes; name is used in errors.
func All(name string, r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, ErrTooLarge, max)
	}
	return b, nil
}
