package media

import "github.com/airlock-appliance/airlock/media/internal/mediaerr"

// Sentinel errors of reading a medium; every refusal from OpenFS and ReadFS wraps exactly one, with
// the detail of what and where, e.g. "/dev/sdb1: corrupt filesystem: FAT32: cluster 77
// cross-linked with /a (or a loop)".
var (
	ErrUnsupported  = mediaerr.ErrUnsupported  // "unsupported filesystem: exFAT"
	ErrNoFilesystem = mediaerr.ErrNoFilesystem // a blank stick
	ErrCorrupt      = mediaerr.ErrCorrupt      // malformed or hostile structures
)

// The bounds on a volume's tree. A refusal for a bound wraps ErrCorrupt and also one of these,
// and its message names the limit ("... exceeds PATH_MAX (4096)").
var (
	ErrTooDeep        = mediaerr.ErrTooDeep        // directories nested deeper than MaxDepth
	ErrTooManyEntries = mediaerr.ErrTooManyEntries // more entries than MaxEntries
	ErrPathBytes      = mediaerr.ErrPathBytes      // all paths together longer than MaxPathBytes
	ErrPathTooLong    = mediaerr.ErrPathTooLong    // a path of PATH_MAX (4096) bytes or more
	ErrNameTooLong    = mediaerr.ErrNameTooLong    // a name longer than NAME_MAX (255) bytes
	ErrTooFragmented  = mediaerr.ErrTooFragmented  // more runs of file data than MaxExtents
)
