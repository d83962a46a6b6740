// Package mediaerr holds the error classes shared by media and its filesystem readers, so that
// every reader reports the same sentinels that callers of media branch on.
package mediaerr

import (
	"errors"
	"fmt"
)

// The classes of a refusal to read a medium.
var (
	// ErrUnsupported: the medium carries a recognized filesystem or container airlock does not read
	// (exFAT, NTFS, ext4, swap, LUKS, ...) or data it cannot recognize at all.
	ErrUnsupported = errors.New("unsupported filesystem")
	// ErrNoFilesystem: the medium is blank or has a partition table without partitions.
	ErrNoFilesystem = errors.New("no filesystem")
	// ErrCorrupt: a structure is malformed or hostile (cross-linked clusters, directory loops, bad
	// names, partitions past the end of the disk, ...).
	ErrCorrupt = errors.New("corrupt filesystem")
)

// Error is a refusal of one class with the detail of what and where.
type Error struct {
	Class  error  // one of the sentinels above
	Detail string // what and where, e.g. "FAT32: cluster 77 cross-linked (/a and /b)"
}

// Error gives "class: detail".
func (e *Error) Error() string { return e.Class.Error() + ": " + e.Detail }

// Unwrap lets errors.Is match the class.
func (e *Error) Unwrap() error { return e.Class }

// Corrupt returns an ErrCorrupt error with a formatted detail.
func Corrupt(format string, args ...any) error {
	return &Error{Class: ErrCorrupt, Detail: fmt.Sprintf(format, args...)}
}

// Unsupported returns an ErrUnsupported error naming the kind.
func Unsupported(format string, args ...any) error {
	return &Error{Class: ErrUnsupported, Detail: fmt.Sprintf(format, args...)}
}

// None returns an ErrNoFilesystem error.
func None(format string, args ...any) error {
	return &Error{Class: ErrNoFilesystem, Detail: fmt.Sprintf(format, args...)}
}
