package scanner

import (
	"io"
	"runtime"
	"time"
)

// Limits bound what a hostile file may make the scanner do. Exceeding one gives the verdict
// LimitHit naming it (File.Limit); nothing is ever skipped silently.
type Limits struct {
	// MaxDepth is how deep archives may nest: a top-level file is depth 0, its entries depth 1.
	// An archive whose entries would lie deeper is not opened.
	MaxDepth int
	// MaxRatio bounds the bytes produced by decompression (gzip, xz, bzip2, zstd, zip members)
	// per byte of the top-level file, once more than RatioFloor bytes were produced.
	MaxRatio   int64
	RatioFloor int64
	// MaxExpanded bounds the decompressed bytes of one top-level file, whatever its ratio.
	MaxExpanded int64
	// MaxEntries bounds the inner files (all levels) of one top-level file.
	MaxEntries int
	// MaxEntrySize bounds one inner file.
	MaxEntrySize int64
	// MaxDecoderMemory bounds the window a decompressor may ask for (xz dictionary, zstd
	// window); the format lets a 30-byte header demand gigabytes.
	MaxDecoderMemory int64
	// MaxPathBytes bounds the bytes of all entry paths (as reported, "outer!inner") of one
	// top-level file: a few MB of archive can name 50,000 entries under 4 KB directory paths.
	MaxPathBytes int64
}

// DefaultLimits are the policy defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:         8,
		MaxRatio:         100,
		RatioFloor:       1 << 20,
		MaxExpanded:      16 << 30,
		MaxEntries:       1_000_000,
		MaxEntrySize:     8 << 30,
		MaxDecoderMemory: 64 << 20,
		MaxPathBytes:     32 << 20,
	}
}

// Spooler receives the bytes of every top-level file in the one read that hashes and scans
// them: the appliance writes them to its RAM spool, from which it later burns exactly the bytes
// that were approved. The scanner then reads the spooled copy back (ReadAt) for everything that
// needs random access (zip central directories, large files, archive descent), so the source
// medium is read exactly once and a device that answers differently on a second read has no
// second read to answer.
type Spooler interface {
	// Spool returns where the bytes of the top-level file path (size bytes, as the filesystem
	// claims) go. The scanner writes them in order, then only reads.
	Spool(path string, size int64) (SpoolFile, error)
}

// SpoolFile is one spooled top-level file.
type SpoolFile interface {
	io.Writer
	io.ReaderAt
}

// Options configure a Scanner. The zero value of a field means its default.
type Options struct {
	Limits Limits
	// Timeout bounds libyara's scan of one file (default 2 minutes); exceeding it gives
	// LimitHit "timeout".
	Timeout time.Duration
	// Workers scanning top-level files concurrently (default runtime.NumCPU()).
	Workers int
	// MemoryBudget is how many bytes of file contents one worker may hold in memory at once
	// (default 16 MiB). A file that does not fit is copied to a temporary file in TempDir
	// (the appliance's tmpfs) and scanned from there in blocks. A worker reading an archive
	// may have one such inner file lent to another worker while it copies the next, so TempDir
	// holds at most two inner files (plus enclosing archives that did not fit) per worker.
	MemoryBudget int64
	TempDir      string
	// BlockSize and BlockOverlap shape libyara memory-block scans of files larger than the
	// budget (defaults 8 MiB and 1 MiB; see the package doc for why blocks overlap).
	BlockSize, BlockOverlap int64
	// ScanCompressed also runs the rules over the compressed bytes of gzip, xz, bzip2 and zstd
	// files (by default only what they decompress to is scanned: string rules cannot see
	// through compression). Set it for rule sets that match whole archives, e.g. by hash.
	ScanCompressed bool
	// Spool, if set, receives every top-level file's bytes (see Spooler).
	Spool Spooler
	// Guix, if set, judges every item of every top-level Guix export stream in the same read
	// (Result.Guix); GuixPresent lists store paths the target store already holds.
	Guix        GuixPolicy
	GuixPresent []string
}

func (o Options) withDefaults() Options {
	d := DefaultLimits()
	l := &o.Limits
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.RatioFloor <= 0 {
		l.RatioFloor = d.RatioFloor
	}
	if l.MaxExpanded <= 0 {
		l.MaxExpanded = d.MaxExpanded
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxDecoderMemory <= 0 {
		l.MaxDecoderMemory = d.MaxDecoderMemory
	}
	if l.MaxPathBytes <= 0 {
		l.MaxPathBytes = d.MaxPathBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 16 << 20
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 8 << 20
	}
	if o.BlockOverlap <= 0 || o.BlockOverlap >= o.BlockSize {
		o.BlockOverlap = min(1<<20, o.BlockSize/4)
	}
	return o
}
