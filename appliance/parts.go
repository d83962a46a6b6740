package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/airlock-appliance/airlock/sealing"
)

// Identity is what the station shows and records of a device.
type Identity struct {
	Dev       string // device node, /dev/sdb
	Bus       string // usb, loop, ata, ...
	Vendor    string
	Model     string
	Serial    string
	VIDPID    string // USB vid:pid
	Size      int64
	Removable bool
	Optical   bool
	// FS is the filesystem the device carries when known (vfat, iso9660, exfat, ...).
	FS string
}

// String is the identity as shown after the device node on `airlock: device` lines.
func (id Identity) String() string {
	var f []string
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+strings.ReplaceAll(v, " ", "_"))
		}
	}
	add("bus", id.Bus)
	add("id", id.VIDPID)
	add("vendor", id.Vendor)
	add("model", id.Model)
	add("serial", id.Serial)
	f = append(f, fmt.Sprintf("size=%d", id.Size))
	if id.Optical {
		f = append(f, "optical")
	}
	add("fs", id.FS)
	return strings.Join(f, " ")
}

// ConfirmCode is what the operator types to confirm a wipe: the last 4 characters of the serial,
// or of the size in bytes when the device has no serial (DESIGN.md, media issue).
func (id Identity) ConfirmCode() string {
	s := strings.TrimSpace(id.Serial)
	if s == "" {
		s = fmt.Sprint(id.Size)
	}
	if len(s) > 4 {
		s = s[len(s)-4:]
	}
	return s
}

// EventKind is what happened to a device.
type EventKind int

// Device event kinds.
const (
	DeviceAdded EventKind = iota
	DeviceRemoved
	MediaChanged // optical disc inserted or removed
	USBUnauthorized
)

func (k EventKind) String() string {
	switch k {
	case DeviceAdded:
		return "add"
	case DeviceRemoved:
		return "remove"
	case MediaChanged:
		return "change"
	case USBUnauthorized:
		return "unauthorized"
	}
	return "unknown"
}

// DeviceEvent is one device event. For USBUnauthorized, ID.VIDPID and Classes are set.
type DeviceEvent struct {
	Kind    EventKind
	ID      Identity
	Classes string
}

// Progress reports bytes done of total (total may be 0 when unknown).
type Progress func(done, total int64)

// PhaseProgress reports bytes done of total within a named phase of a job that has several
// ("write pass 1/3 zero", "verify full"); done starts again at 0 in each phase.
type PhaseProgress func(phase string, done, total int64)

// Devices is what the station needs of package media.
type Devices interface {
	// Watch sends device events (coldplug first) on out until ctx ends.
	Watch(ctx context.Context, out chan<- DeviceEvent) error
	// Guard returns an error naming the rule when the station must not touch the device.
	Guard(id Identity) error
	// OpenFS opens the device read-only and its filesystem, without mounting.
	OpenFS(ctx context.Context, id Identity) (fs.FS, io.Closer, error)
	// Unchanged returns an error when the device went away or changed (size, identity) since
	// id was taken: a read that ended with the device gone is not trusted.
	Unchanged(id Identity) error
}

// FileVerdict is the import decision for one top-level file of a stick.
type FileVerdict struct {
	Path     string
	Size     int64
	SHA256   string
	Approved bool
	Reasons  []string // why not approved (every reason), or what approved it
}

// Decision is the result of reading a stick: every file's verdict and the report for the disc.
type Decision struct {
	Files []FileVerdict
	// Report is AIRLOCK/report.json: every file's verdict, inner files included.
	Report []byte
	// Worker says how the scan worker that read the stick was confined (for the audit log).
	Worker string
	// Records are the judgements the import made besides the files' verdicts (channel
	// bundles, the Guix quorum's votes), appended to the audit log before the verdict.
	Records []Record
}

// Approved reports whether every file is approved and there is at least one.
func (d *Decision) Approved() bool {
	if d == nil || len(d.Files) == 0 {
		return false
	}
	for _, f := range d.Files {
		if !f.Approved {
			return false
		}
	}
	return true
}

// Importer is what the station needs of packages scanner and guix: one read of every file of a
// stick that hashes it, scans it (inner files too), spools it under spoolDir (same relative
// path) and decides. On any error the spool content must be treated as garbage.
type Importer interface {
	Read(ctx context.Context, fsys fs.FS, spoolDir string, progress Progress) (*Decision, error)
}

// SealInfo is what the seal's trusted comment carries.
type SealInfo struct {
	Session    string
	Station    string
	Operator   string
	Time       string // UTC, RFC 3339
	PolicyHash string // hex SHA-256
	LogIndex   int64
}

// Sealer is what the station needs of package sealing: write SHA256SUMS and SHA256SUMS.minisig
// into dir, covering every file under dir. want maps every file under dir/bundle/ ("bundle/a")
// to the SHA-256 (hex) the import computed in its one read: the seal fails unless the files it
// hashes under bundle/ are exactly those, with those hashes, so a disc can only carry the bytes
// that were scanned and approved.
type Sealer interface {
	Seal(dir string, info SealInfo, want map[string]string) error
}

// Record is one audit record: its type and fields (canonical JSON is the log's business).
type Record struct {
	Type   string
	Fields map[string]any
}

// AuditLog is what the station needs of package sealing/auditlog.
type AuditLog interface {
	// Append makes rec durable and returns its index.
	Append(ctx context.Context, rec Record) (int64, error)
	// Evidence writes under root/AIRLOCK/ the signed checkpoint covering index and the proofs a
	// disc carries (checkpoint, record.json, proofs/inclusion, proofs/consistency from the
	// previous disc).
	Evidence(index int64, root string) error
	// Where is the log's location, for the operator and the demo.
	Where() string
}

// EphemeralLog is implemented by an AuditLog that may not outlive the boot: no log medium was
// found and the policy allowed it (audit.ephemeral_log). Every disc made from such a log says
// so (EphemeralNote), because the high side will see its log start again from index 0.
type EphemeralLog interface {
	Ephemeral() bool
}

// EphemeralNoteFile is the file, under a disc's AIRLOCK/ and covered by its seal, that says
// the audit log was ephemeral when the disc was made.
const EphemeralNoteFile = "EPHEMERAL-LOG.txt"

// EphemeralNote is the text of EphemeralNoteFile.
const EphemeralNote = "The audit log of this disc's station was EPHEMERAL (in RAM, no log medium: " +
	"policy audit.ephemeral_log = true). Its records and index start again at every boot, so the " +
	"high side sees this disc's log as a new log, not a continuation; see README, \"Losing the log medium\".\n"

// isEphemeral reports whether l is an ephemeral log.
func isEphemeral(l AuditLog) bool {
	e, ok := l.(EphemeralLog)
	return ok && e.Ephemeral()
}

// BurnResult is what a burn produced.
type BurnResult struct {
	Size   int64
	SHA256 [32]byte
	Where  string // the drive or the image file
}

// Burner is what the station needs of package burner.
type Burner interface {
	// Blank reports whether a blank writable disc is in the drive.
	Blank(ctx context.Context) (bool, error)
	// Burn builds the deterministic ISO image of dir (label, epoch) and writes it to the disc.
	Burn(ctx context.Context, dir, label string, epoch int64, session string, progress Progress) (*BurnResult, error)
	// ReadBack reads the burned image back and compares it with r.
	ReadBack(ctx context.Context, r *BurnResult, progress Progress) error
}

// SanitizeResult is what a sanitize job produced.
type SanitizeResult struct {
	Certificate []byte // JSON
	Signature   []byte // minisign
	Text        string // human-readable
	Passed      bool
	Summary     string
	// Where names the certificate copies outside the stick (host mode), if any.
	Where string
}

// Wiper is what the station needs of package media (wipe, verify, reformat) and sealing
// (certificate).
type Wiper interface {
	// Wipe wipes and verifies the device (WIPING), naming each phase in progress.
	Wipe(ctx context.Context, id Identity, progress PhaseProgress) (WipeReport, error)
	// Finish reformats the device and writes the signed certificate onto it (FORMATTING).
	Finish(ctx context.Context, id Identity, w WipeReport, job WipeJob, logIndex int64) (*SanitizeResult, error)
}

// WipeJob is what the operator stated for a sanitize job's certificate.
type WipeJob struct {
	Operator string
	// Fields are the certificate fields the operator typed (policy certificate.ask); the
	// site's own (the policy's [certificate] table) are the Wiper's.
	Fields sealing.CertFields
}

// WipeReport is the opaque outcome of a wipe, handed to Finish.
type WipeReport interface {
	Summary() string
	Failed() error
}

// DiscChecker is what the station needs to check a disc: seal, hashes, audit consistency.
type DiscChecker interface {
	Check(ctx context.Context, id Identity, fsys fs.FS) (summary string, err error)
}

// Parts is every part the station composes. A nil part disables the modes that need it; the
// station says so rather than pretend.
type Parts struct {
	Devices  Devices
	Importer Importer
	Sealer   Sealer
	Log      AuditLog
	Burner   Burner
	Wiper    Wiper
	Checker  DiscChecker
}

// Sentinel errors the station and its parts branch on.
var (
	// ErrDeviceRemoved is the cause of a job canceled because its device went away.
	ErrDeviceRemoved = errors.New("device removed")
	// ErrRejected ends an import whose verdict is not APPROVED.
	ErrRejected = errors.New("rejected")
	// ErrCanceled ends a job the operator declined.
	ErrCanceled = errors.New("canceled by the operator")
	// ErrNotWired is returned when a part the job needs has not been wired in.
	ErrNotWired = errors.New("part not wired")
)
