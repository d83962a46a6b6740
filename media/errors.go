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
