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

// The bounds a reader enforces on a volume's tree. A refusal for a bound is of class ErrCorrupt
// (no Linux filesystem produces such a tree for a stick) and also matches one of these, so that
// callers can tell which limit was hit; the message names the limit.
var (
	// ErrTooDeep: directories nested deeper than the reader's MaxDepth.
	ErrTooDeep = errors.New("directory depth limit (MaxDepth)")
	// ErrTooManyEntries: more files and directories than the reader's MaxEntries.
	ErrTooManyEntries = errors.New("entry count limit (MaxEntries)")
	// ErrPathBytes: the paths of all entries together are longer than the reader's MaxPathBytes.
	ErrPathBytes = errors.New("total path bytes limit (MaxPathBytes)")
	// ErrPathTooLong: one path is longer than Linux's PATH_MAX (4096 bytes with its NUL).
	ErrPathTooLong = errors.New("path length limit (PATH_MAX)")
	// ErrNameTooLong: one name is longer than Linux's NAME_MAX (255 bytes).
	ErrNameTooLong = errors.New("name length limit (NAME_MAX)")
	// ErrTooFragmented: more runs of file data than the reader's MaxExtents.
	ErrTooFragmented = errors.New("fragment count limit (MaxExtents)")
)

// Linux's limits on names and paths: a name a stock tool cannot create on the high side is refused.
const (
	PathMax = 4096 // PATH_MAX, counting the terminating NUL: a path has at most 4095 bytes
	NameMax = 255  // NAME_MAX
)

// Error is a refusal of one class with the detail of what and where.
type Error struct {
	Class  error  // one of the sentinels above
	Limit  error  // for a bound: one of ErrTooDeep, ErrTooManyEntries, ... (else nil)
	Detail string // what and where, e.g. "FAT32: cluster 77 cross-linked (/a and /b)"
}

// Error gives "class: detail".
func (e *Error) Error() string { return e.Class.Error() + ": " + e.Detail }

// Unwrap lets errors.Is match the class and the limit.
func (e *Error) Unwrap() []error {
	if e.Limit != nil {
		return []error{e.Class, e.Limit}
	}
	return []error{e.Class}
}

// Limit returns an ErrCorrupt error for exceeding limit (ErrTooDeep, ...); the detail should name
// the limit, e.g. "FAT16: /a/b: path of 5000 bytes exceeds PATH_MAX (4096)".
func Limit(limit error, format string, args ...any) error {
	return &Error{Class: ErrCorrupt, Limit: limit, Detail: fmt.Sprintf(format, args...)}
}

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
