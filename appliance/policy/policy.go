// Package policy reads and validates the station policy, a TOML file on the boot medium.
//
// The station refuses to start with a policy it does not fully understand: an unknown key, a value
// of the wrong type or out of range, a missing required file or a contradiction is an error that
// names the key and the problem. Load returns every problem found, not just the first.
//
// A minimal policy:
//
//	station = "airlock-1"
//	modes   = ["import", "sanitize", "check"]
//
//	[keys]
//	dir = "keys"                         # seal.key, log.key, guix-signing-key.sec (airlock keygen)
//
//	[import]
//	allowlist     = "allowlist"          # ALLOWLIST; ALLOWLIST.minisig beside it
//	approver_keys = ["approver.pub"]
//	guix_acl      = "acl"
//	yara_rules    = ["rules/eicar.yar"]
//
//	[burn]
//	drive = "/dev/sr0"                   # or stdio:DIR/ in host mode: one image file per session
//
//	[audit]
//	log_label = "AIRLOCK-LOG"            # FAT label of the audit log medium
//
// Optional sections keep their defaults when absent, e.g. the scan worker's bounds (see
// [Sandbox]):
//
//	[sandbox]
//	deadline = "2h"                      # 1s..48h: past it the worker is killed, the import FAILs
//	memory   = "16GiB"                   # 256MiB..1TiB: the worker's address space
//
// Relative paths are resolved against the policy file's directory. Sizes are integers (bytes) or
// strings with a unit ("4GiB", "512MiB", "10MB"); durations are Go durations ("30s").
package policy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing"
)

// MaxPolicyBytes bounds the policy file: it is small and read before anything else.
const MaxPolicyBytes = 1 << 20

// Mode names, as they appear in the policy and at the mode prompt.
const (
	ModeImport   = "import"
	ModeSanitize = "sanitize"
	ModeCheck    = "check"
)

// Policy is a validated station policy.
type Policy struct {
	// Station names this appliance in seals, certificates and audit records.
	Station string `toml:"station"`
	// Modes the operators may choose; the first is the default.
	Modes []string `toml:"modes"`

	Keys     Keys     `toml:"keys"`
	Import   Import   `toml:"import"`
	Limits   Limits   `toml:"limits"`
	Sanitize Sanitize `toml:"sanitize"`
	Burn     Burn     `toml:"burn"`
	Audit    Audit    `toml:"audit"`
	USB      USB      `toml:"usb"`
	LEDs     LEDs     `toml:"leds"`
	Console  Console  `toml:"console"`
	Sandbox  Sandbox  `toml:"sandbox"`
	// Certificate is what every sanitization certificate states and what the station asks the
	// operator for (sealing.CertificatePolicy).
	Certificate sealing.CertificatePolicy `toml:"certificate"`

	// Path is the file the policy was read from; SHA256 is the hash of its bytes, recorded in
	// every seal so a disc names the exact policy that approved it.
	Path   string   `toml:"-"`
	SHA256 [32]byte `toml:"-"`
}

// Keys says where the appliance's keys are.
type Keys struct {
	// Dir holds seal.key, log.key and guix-signing-key.sec as written by airlock keygen.
	Dir string `toml:"dir"`
	// Passphrase asks for the key passphrase on the console at boot (keys written with
	// --passphrase-file).
	Passphrase bool `toml:"passphrase"`
}

// Import is the import job's policy.
type Import struct {
	Allowlist    string   `toml:"allowlist"`
	ApproverKeys []string `toml:"approver_keys"`
	GuixACL      string   `toml:"guix_acl"`
	YaraRules    []string `toml:"yara_rules"`
	// ResignGuix re-signs every item of an approved Guix export with the appliance's Guix key
	// (keys.dir/guix-signing-key.sec) before it is sealed and burned, so that the high side's
	// /etc/guix/acl holds the appliance's key alone: the low side's signers (or builders) are
	// never authorized there, and an export can reach the high side only through airlock.
	// Required with a quorum: otherwise the high side would have to authorize each builder,
	// and any single builder's signature would import there, bypassing the quorum.
	ResignGuix bool `toml:"resign_guix"`
	// Quorum, when it lists builders, approves Guix store items only when K of them vouch for
	// an identical NAR (issue 17; guix.QuorumJudge).
	Quorum Quorum `toml:"quorum"`
	// Channels are the Guix channels whose git bundles may cross (issue 16; basis "channel").
	Channels []Channel `toml:"channels"`
	// SpoolDir is the RAM spool (tmpfs) the approved bytes are kept in between read and burn.
	SpoolDir string `toml:"spool_dir"`
	// SpoolMax bounds the bytes spooled for one stick.
	SpoolMax Size `toml:"spool_max"`
	// KnownStorePaths lists store paths already on the high side (references to them are fine).
	KnownStorePaths string `toml:"known_store_paths"`
}

// Quorum is the reproducibility policy: independent builders, each with its Guix key, and
// how many of them must vouch for an identical NAR of a store item:
//
//	[import.quorum]
//	k = 2
//	builders = [
//	  { name = "farm-a", key = "builders/farm-a.pub" },  # its /etc/guix/signing-key.pub
//	  { name = "farm-b", key = "builders/farm-b.pub" },
//	  { name = "farm-c", key = "builders/farm-c.pub" },
//	]
//	rules = [ { pattern = "linux-libre-*", k = 3 } ]     # store names (after HASH-), first match
type Quorum struct {
	K        int             `toml:"k"`
	Builders []QuorumBuilder `toml:"builders"`
	Rules    []QuorumRule    `toml:"rules"`
}

// QuorumBuilder is one builder: a name for reports and the audit log, and its public key file.
type QuorumBuilder struct {
	Name string `toml:"name"`
	Key  string `toml:"key"`
}

// QuorumRule overrides K for the store items whose name matches Pattern (path.Match syntax).
type QuorumRule struct {
	Pattern string `toml:"pattern"`
	K       int    `toml:"k"`
}

// Enabled reports whether the policy asks for a quorum.
func (q *Quorum) Enabled() bool { return len(q.Builders) > 0 }

// Load reads the builders' key files and returns the quorum as package guix judges it. Parse
// has checked the shape; this is where a key file that is not a Guix public key fails.
func (q *Quorum) Load() (*guix.Quorum, error) {
	var bs []guix.Builder
	for i, b := range q.Builders {
		text, err := readlimit.File(b.Key, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("import.quorum.builders[%d] (%s): %w", i, b.Name, err)
		}
		k, err := guix.ParsePublicKey(text)
		if err != nil {
			return nil, fmt.Errorf("import.quorum.builders[%d] (%s): %s: %w", i, b.Name, b.Key, err)
		}
		bs = append(bs, guix.Builder{Name: b.Name, Key: k})
	}
	var rules []guix.QuorumRule
	for _, r := range q.Rules {
		rules = append(rules, guix.QuorumRule{Pattern: r.Pattern, K: r.K})
	}
	gq, err := guix.NewQuorum(bs, q.K, rules...)
	if err != nil {
		return nil, fmt.Errorf("import.quorum: %w", err)
	}
	return gq, nil
}

// Channel is one Guix channel a git bundle on a stick may carry, pinned as Guix pins it
// (a channel introduction) and authenticated as `guix git authenticate` does:
//
//	[[import.channels]]
//	name         = "guix"               # the bundle on the stick is guix.bundle
//	introduction = "9edb3f66fd807b096b48283debdcddccfea34bad"
//	signer       = "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"
//	keyring      = "keyring"            # the keyring branch (default "keyring")
//	history      = true                 # scan every blob of the pack (default)
//	history_max  = 200000               # more history blobs: unscannable
//
// The last commit airlock authenticated for a channel is read from the audit log: a bundle
// whose target does not descend from it is refused (rollback, fork).
type Channel struct {
	Name         string `toml:"name"`
	Introduction string `toml:"introduction"`
	Signer       string `toml:"signer"`
	Keyring      string `toml:"keyring"`
	// HistoricalAuthorizations are fingerprints authorized for commits whose parents have no
	// .guix-authorizations (guix git authenticate --historical-authorizations); rarely needed.
	HistoricalAuthorizations []string `toml:"historical_authorizations"`
	// History scans every blob of the bundle's pack, not only the target and keyring trees
	// (default true). With false, the history's blobs (and any object the pack carries that
	// the trees do not reach) cross inside the bundle unscanned.
	History    *bool `toml:"history"`
	HistoryMax int   `toml:"history_max"`
	// Strict refuses commits signed by expired or revoked keys (Guix does not; off by default).
	Strict bool `toml:"strict"`
	// AllowPrerequisites accepts a bundle with prerequisites the high side already holds.
	AllowPrerequisites bool `toml:"allow_prerequisites"`
}

// DefaultHistoryMax bounds the history blobs scanned when a channel sets none.
const DefaultHistoryMax = 500_000

var hex40RE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ParseFingerprint reads an OpenPGP v4 fingerprint as Guix prints it (40 hex digits, spaces
// allowed).
func ParseFingerprint(s string) ([20]byte, error) {
	var fp [20]byte
	h := strings.ToLower(strings.ReplaceAll(s, " ", ""))
	if !hex40RE.MatchString(h) {
		return fp, fmt.Errorf("%q: want a 40-hex-digit OpenPGP fingerprint", s)
	}
	for i := range fp {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		fp[i] = byte(v)
	}
	return fp, nil
}

// validateChannels checks the channel declarations.
func validateChannels(im *Import) []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	names := map[string]bool{}
	for i := range im.Channels {
		c := &im.Channels[i]
		key := fmt.Sprintf("import.channels[%d]", i)
		if !stationRE.MatchString(c.Name) {
			bad(key+".name", "%q: use 1-64 letters, digits, '.', '_' or '-'", c.Name)
		}
		if names[c.Name] {
			bad(key+".name", "%q listed twice", c.Name)
		}
		names[c.Name] = true
		if !hex40RE.MatchString(c.Introduction) {
			bad(key+".introduction", "%q: want the introduction commit, 40 lower-case hex digits", c.Introduction)
		}
		if _, err := ParseFingerprint(c.Signer); err != nil {
			bad(key+".signer", "%v", err)
		}
		for _, h := range c.HistoricalAuthorizations {
			if _, err := ParseFingerprint(h); err != nil {
				bad(key+".historical_authorizations", "%v", err)
			}
		}
		if c.Keyring == "" {
			c.Keyring = "keyring"
		} else if strings.ContainsAny(c.Keyring, " \t\n~^:?*[\\") || strings.Contains(c.Keyring, "..") {
			bad(key+".keyring", "%q: not a branch name", c.Keyring)
		}
		if c.History == nil {
			on := true
			c.History = &on
		}
		if c.HistoryMax < 0 {
			bad(key+".history_max", "must not be negative")
		} else if c.HistoryMax == 0 {
			c.HistoryMax = DefaultHistoryMax
		}
	}
	return errs
}

// Limits bounds the scanner's recursion into archives.
type Limits struct {
	MaxDepth      int      `toml:"max_depth"`
	MaxRatio      int      `toml:"max_ratio"`
	MaxExpanded   Size     `toml:"max_expanded"`
	MaxEntries    int      `toml:"max_entries"`
	MaxEntrySize  Size     `toml:"max_entry_size"`
	MaxFiles      int      `toml:"max_files"`
	ScanTimeout   Duration `toml:"scan_timeout"`
	MaxStickFiles int      `toml:"max_stick_files"`
}

// Sanitize is the wipe job's policy.
type Sanitize struct {
	Method      string `toml:"method"`       // zero, random, dod3, discard
	Verify      string `toml:"verify"`       // full, sample
	Label       string `toml:"label"`        // FAT volume label after reformat
	AfterImport string `toml:"after_import"` // ask, always, never
}

// Burn is the burner's policy.
type Burn struct {
	// Drive is a device node (/dev/sr0) or stdio:PATH; a PATH ending in "/" is a directory that
	// gets one image file per session (host mode and tests).
	Drive string   `toml:"drive"`
	Media []string `toml:"media"`
	// Speed is xorriso's speed= value: "" (drive default), "0" (maximum), "4d", "2b", "1385k".
	Speed           string `toml:"speed"`
	AllowRewritable bool   `toml:"allow_rewritable"`
	AllowLarger     bool   `toml:"allow_larger"`
	Label           string `toml:"label"`
}

// Audit says where the audit log lives.
type Audit struct {
	// LogDir is a directory used as is (host mode, tests).
	LogDir string `toml:"log_dir"`
	// LogLabel and LogSerial find the log medium at boot; it is mounted and its /airlock-log used.
	LogLabel  string `toml:"log_label"`
	LogSerial string `toml:"log_serial"`
	// StateDir keeps the last accepted checkpoint for the check-disc job.
	StateDir string `toml:"state_dir"`
	// EphemeralLog lets the appliance (boot mode) start without its log medium, with the log in
	// RAM for this boot; every disc then says so. Without it the station refuses to start.
	EphemeralLog bool `toml:"ephemeral_log"`
}

// USB is the BadUSB defense.
type USB struct {
	// Authorize sets authorized_default=0 and authorizes only mass-storage interfaces.
	Authorize bool `toml:"authorize"`
}

// LEDs names the /sys/class/leds entry for each signal; empty means not shown. A name may be a
// pattern with '*' (the first matching LED). A policy without [leds] drives the keyboard lock
// LEDs (Default; package appliance/leds documents the patterns).
type LEDs struct {
	Ready     string `toml:"ready"`
	Busy      string `toml:"busy"`
	Attention string `toml:"attention"`
	Pass      string `toml:"pass"`
	Fail      string `toml:"fail"`
}

// Console names the consoles of the appliance.
type Console struct {
	// Screen is the full-screen view's terminal (the Linux VT); empty disables it.
	Screen string `toml:"screen"`
	// Serial is the line view's terminal; empty means stdout/stdin.
	Serial string `toml:"serial"`
}

// Sandbox bounds each scan worker (package sandbox), the confined process that parses a
// stick:
//
//	[sandbox]
//	deadline = "2h"       # wall clock of one worker run; past it the worker is killed and the import FAILs
//	memory   = "16GiB"    # the worker's address space (RLIMIT_AS); past it the worker dies and the import FAILs
//
// Ranges: deadline 1s..48h, memory 256MiB..1TiB (the Go runtime and libyara need a few hundred
// MiB of address space to start at all).
type Sandbox struct {
	Deadline Duration `toml:"deadline"`
	Memory   Size     `toml:"memory"`
}

// Bounds of the [sandbox] settings.
const (
	MinWorkerDeadline = Duration(time.Second)
	MaxWorkerDeadline = Duration(48 * time.Hour)
	MinWorkerMemory   = Size(256 << 20)
	MaxWorkerMemory   = Size(1 << 40)
)

// Errors of the [sandbox] settings (wrapped by Sandbox.Check).
var (
	ErrWorkerDeadline = errors.New("sandbox.deadline out of range 1s..48h")
	ErrWorkerMemory   = errors.New("sandbox.memory out of range 256MiB..1TiB")
)

// Check validates the settings (the station's policy and the CLI's --worker-deadline and
// --worker-memory alike); each error names the setting.
func (s Sandbox) Check() error {
	var errs []error
	if s.Deadline < MinWorkerDeadline || s.Deadline > MaxWorkerDeadline {
		errs = append(errs, fmt.Errorf("%v: %w", time.Duration(s.Deadline), ErrWorkerDeadline))
	}
	if s.Memory < MinWorkerMemory || s.Memory > MaxWorkerMemory {
		errs = append(errs, fmt.Errorf("%d bytes: %w", s.Memory, ErrWorkerMemory))
	}
	return errors.Join(errs...)
}

// Size is a byte count written as an integer or a string with a unit.
type Size int64

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("negative size %d", x)
		}
		*s = Size(x)
		return nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return err
		}
		*s = Size(n)
		return nil
	}
	return fmt.Errorf("size must be an integer or a string like \"4GiB\", not %T", v)
}

var sizeRE = regexp.MustCompile(`^\s*([0-9]+)\s*([KMGT]i?B|B)?\s*$`)

// ParseSize parses "123", "4GiB", "10MB".
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad size %q (want e.g. 4GiB, 512MiB, 1000000)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: %v", s, err)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n * mult, nil
}

// Duration is a time.Duration written as a Go duration string.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. 30s, 2m)", b)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// Error is one problem of a policy: the key (dotted) and what is wrong with it.
type Error struct {
	Key     string
	Problem string
}

func (e *Error) Error() string { return e.Key + ": " + e.Problem }

// ErrInvalid is wrapped by every validation failure of Load and Parse.
var ErrInvalid = errors.New("invalid policy")

// Errors is every problem Load found.
type Errors struct {
	File string
	List []*Error
}

func (e *Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %s: %d problem(s)", e.File, len(e.List))
	for _, p := range e.List {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Errors) Unwrap() error { return ErrInvalid }

// Default returns the defaults every policy starts from.
func Default() Policy {
	return Policy{
		Modes: []string{ModeImport, ModeSanitize, ModeCheck},
		Import: Import{
			SpoolDir: "/run/airlock/spool",
			SpoolMax: 8 << 30,
		},
		Limits: Limits{
			MaxDepth:      8,
			MaxRatio:      100,
			MaxExpanded:   32 << 30,
			MaxEntries:    1_000_000,
			MaxEntrySize:  16 << 30,
			MaxFiles:      100_000,
			ScanTimeout:   Duration(5 * time.Minute),
			MaxStickFiles: 100_000,
		},
		Sanitize: Sanitize{Method: "zero", Verify: "full", Label: "AIRLOCK", AfterImport: "ask"},
		Burn:     Burn{Drive: "/dev/sr0", Media: []string{"DVD-R", "DVD+R", "BD-R"}, Label: "AIRLOCK"},
		Audit:    Audit{LogLabel: "AIRLOCK-LOG", StateDir: "/run/airlock/state"},
		USB:      USB{Authorize: true},
		Console:  Console{Screen: "/dev/tty1", Serial: "/dev/ttyS0"},
		Sandbox:  Sandbox{Deadline: Duration(2 * time.Hour), Memory: 16 << 30},
		// leds.DefaultNames: the job's LED (busy, pass, fail) is caps lock.
		LEDs: LEDs{Ready: "input*::numlock", Busy: "input*::capslock", Attention: "input*::scrolllock",
			Pass: "input*::capslock", Fail: "input*::capslock"},
	}
}

// Load reads, parses and validates the policy at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if len(b) > MaxPolicyBytes {
		return nil, fmt.Errorf("policy %s: larger than %d bytes: %w", path, MaxPolicyBytes, ErrInvalid)
	}
	p, err := Parse(path, b, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return p, checkFiles(p)
}

// Parse decodes and validates policy bytes (named name in errors), resolving relative paths
// against dir. It does not look at the files the policy names; Load does.
func Parse(name string, b []byte, dir string) (*Policy, error) {
	p := Default()
	md, err := toml.Decode(string(b), &p)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			key := pe.LastKey
			if key == "" {
				key = "(line " + strconv.Itoa(pe.Position.Line) + ")"
			}
			return nil, &Errors{File: name, List: []*Error{{Key: key, Problem: fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}}}
		}
		key := "(file)"
		if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
			key = m[1]
		}
		return nil, &Errors{File: name, List: []*Error{{Key: key, Problem: err.Error()}}}
	}
	var errs []*Error
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{Key: k.String(), Problem: "unknown key"})
	}
	errs = append(errs, validate(&p)...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, &Errors{File: name, List: errs}
	}
	p.Path = name
	p.SHA256 = sha256.Sum256(b)
	resolve(&p, dir)
	return &p, nil
}

var lastKeyRE = regexp.MustCompile(`last key "([^"]*)"`)

var speedRE = regexp.MustCompile(`^([0-9]{1,6}[cdbk]?)?$`)

var stationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func validate(p *Policy) []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	if p.Station == "" {
		bad("station", "required (a name for this appliance, e.g. \"airlock-1\")")
	} else if !stationRE.MatchString(p.Station) {
		bad("station", "%q: use 1-64 letters, digits, '.', '_' or '-'", p.Station)
	}
	if len(p.Modes) == 0 {
		bad("modes", "at least one of import, sanitize, check")
	}
	seen := map[string]bool{}
	for _, m := range p.Modes {
		switch m {
		case ModeImport, ModeSanitize, ModeCheck:
		default:
			bad("modes", "unknown mode %q (import, sanitize, check)", m)
		}
		if seen[m] {
			bad("modes", "mode %q listed twice", m)
		}
		seen[m] = true
	}
	for _, pr := range p.Certificate.Problems() {
		bad("certificate."+pr.Key, "%s", pr.Problem)
	}
	if p.Keys.Dir == "" {
		bad("keys.dir", "required (seal and log keys; seal.pub for checking discs)")
	}
	if seen[ModeImport] {
		if p.Import.Allowlist != "" && len(p.Import.ApproverKeys) == 0 {
			bad("import.approver_keys", "required with import.allowlist (the list is verified against them)")
		}
		if len(p.Import.YaraRules) == 0 {
			bad("import.yara_rules", "required for import (at least one .yar file)")
		}
		if p.Import.Allowlist == "" && p.Import.GuixACL == "" && !p.Import.Quorum.Enabled() && len(p.Import.Channels) == 0 {
			bad("import", "needs allowlist, guix_acl, quorum or channels: with none, nothing can ever be approved")
		}
		errs = append(errs, validateQuorum(&p.Import)...)
		errs = append(errs, validateChannels(&p.Import)...)
		if p.Import.SpoolDir == "" {
			bad("import.spool_dir", "required for import")
		}
		if p.Import.SpoolMax <= 0 {
			bad("import.spool_max", "must be positive")
		}
		if p.Burn.Drive == "" {
			bad("burn.drive", "required for import")
		} else if _, err := burner.ParseAddress(p.Burn.Drive); err != nil {
			bad("burn.drive", "%v", err)
		}
	}
	l := p.Limits
	if l.MaxDepth < 1 || l.MaxDepth > 64 {
		bad("limits.max_depth", "%d out of range 1..64", l.MaxDepth)
	}
	if l.MaxRatio < 1 || l.MaxRatio > 100000 {
		bad("limits.max_ratio", "%d out of range 1..100000", l.MaxRatio)
	}
	if l.MaxExpanded <= 0 {
		bad("limits.max_expanded", "must be positive")
	}
	if l.MaxEntries <= 0 {
		bad("limits.max_entries", "must be positive")
	}
	if l.MaxEntrySize <= 0 {
		bad("limits.max_entry_size", "must be positive")
	}
	if l.MaxFiles <= 0 {
		bad("limits.max_files", "must be positive")
	}
	if l.MaxStickFiles <= 0 {
		bad("limits.max_stick_files", "must be positive")
	}
	if l.ScanTimeout <= 0 {
		bad("limits.scan_timeout", "must be positive")
	}
	if d := p.Sandbox.Deadline; d < MinWorkerDeadline || d > MaxWorkerDeadline {
		bad("sandbox.deadline", "%v out of range 1s..48h", time.Duration(d))
	}
	if m := p.Sandbox.Memory; m < MinWorkerMemory || m > MaxWorkerMemory {
		bad("sandbox.memory", "%d bytes out of range 256MiB..1TiB", m)
	}
	switch p.Sanitize.Method {
	case "zero", "random", "dod3", "discard":
	default:
		bad("sanitize.method", "unknown method %q (zero, random, dod3, discard)", p.Sanitize.Method)
	}
	switch p.Sanitize.Verify {
	case "full", "sample":
	default:
		bad("sanitize.verify", "unknown verification %q (full, sample)", p.Sanitize.Verify)
	}
	switch p.Sanitize.AfterImport {
	case "ask", "always", "never":
	default:
		bad("sanitize.after_import", "%q: want ask, always or never", p.Sanitize.AfterImport)
	}
	if p.Sanitize.AfterImport != "never" && seen[ModeImport] && !seen[ModeSanitize] {
		bad("sanitize.after_import", "%q needs the sanitize mode in modes (or set \"never\")", p.Sanitize.AfterImport)
	}
	if len(p.Sanitize.Label) > 11 || !fatLabelOK(p.Sanitize.Label) {
		bad("sanitize.label", "%q: a FAT label is at most 11 characters A-Z, 0-9, '_' or '-'", p.Sanitize.Label)
	}
	for _, m := range p.Burn.Media {
		switch m {
		case "DVD-R", "DVD+R", "BD-R", "CD-R", "DVD-RW", "DVD+RW", "BD-RE", "CD-RW":
		default:
			bad("burn.media", "unknown media type %q", m)
		}
	}
	if !speedRE.MatchString(p.Burn.Speed) {
		bad("burn.speed", "%q: want xorriso's speed syntax (\"\", \"0\", \"4d\", \"2b\", \"1385k\")", p.Burn.Speed)
	}
	if p.Audit.LogDir == "" && p.Audit.LogLabel == "" && p.Audit.LogSerial == "" {
		bad("audit", "one of log_dir, log_label or log_serial is required")
	}
	for k, v := range map[string]string{"leds.ready": p.LEDs.Ready, "leds.busy": p.LEDs.Busy,
		"leds.attention": p.LEDs.Attention, "leds.pass": p.LEDs.Pass, "leds.fail": p.LEDs.Fail} {
		if strings.Contains(v, "/") || v == "." || v == ".." {
			bad(k, "%q: an LED name under /sys/class/leds, not a path", v)
		}
	}
	return errs
}

// validateQuorum checks the quorum's shape (the key files are read by Quorum.Load).
func validateQuorum(im *Import) []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	q := &im.Quorum
	if !q.Enabled() {
		if q.K != 0 || len(q.Rules) > 0 {
			bad("import.quorum.builders", "required with import.quorum.k or rules")
		}
		return nil
	}
	n := len(q.Builders)
	if q.K < 1 || q.K > n {
		bad("import.quorum.k", "%d out of range 1..%d (the number of builders)", q.K, n)
	}
	names := map[string]bool{}
	for i, b := range q.Builders {
		key := fmt.Sprintf("import.quorum.builders[%d]", i)
		if !stationRE.MatchString(b.Name) {
			bad(key+".name", "%q: use 1-64 letters, digits, '.', '_' or '-'", b.Name)
		}
		if names[b.Name] {
			bad(key+".name", "%q listed twice", b.Name)
		}
		names[b.Name] = true
		if b.Key == "" {
			bad(key+".key", "required (the builder's signing-key.pub)")
		}
	}
	for i, r := range q.Rules {
		key := fmt.Sprintf("import.quorum.rules[%d]", i)
		if _, err := path.Match(r.Pattern, ""); err != nil || r.Pattern == "" {
			bad(key+".pattern", "%q: not a path.Match pattern", r.Pattern)
		}
		if r.K < 1 || r.K > n {
			bad(key+".k", "%d out of range 1..%d (the number of builders)", r.K, n)
		}
	}
	if !im.ResignGuix {
		bad("import.resign_guix", "must be true with a quorum: otherwise the high side must authorize every builder's key, and one builder's signature imports there alone")
	}
	return errs
}

func fatLabelOK(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func resolve(p *Policy, dir string) {
	abs := func(s *string) {
		if *s != "" && !filepath.IsAbs(*s) {
			*s = filepath.Join(dir, *s)
		}
	}
	abs(&p.Keys.Dir)
	abs(&p.Import.Allowlist)
	abs(&p.Import.GuixACL)
	abs(&p.Import.SpoolDir)
	abs(&p.Import.KnownStorePaths)
	for i := range p.Import.ApproverKeys {
		abs(&p.Import.ApproverKeys[i])
	}
	for i := range p.Import.Quorum.Builders {
		abs(&p.Import.Quorum.Builders[i].Key)
	}
	for i := range p.Import.YaraRules {
		abs(&p.Import.YaraRules[i])
	}
	abs(&p.Audit.LogDir)
	abs(&p.Audit.StateDir)
	if a, err := burner.ParseAddress(p.Burn.Drive); err == nil {
		p.Burn.Drive = a.Resolve(dir).String()
	}
}

// checkFiles verifies that every file the policy names for its modes exists.
func checkFiles(p *Policy) error {
	var errs []*Error
	need := func(key, path string) {
		if path == "" {
			return
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, &Error{Key: key, Problem: err.Error()})
		}
	}
	need("keys.dir", p.Keys.Dir)
	if p.Has(ModeImport) {
		need("import.allowlist", p.Import.Allowlist)
		if p.Import.Allowlist != "" {
			need("import.allowlist", p.Import.Allowlist+".minisig")
		}
		need("import.guix_acl", p.Import.GuixACL)
		need("import.known_store_paths", p.Import.KnownStorePaths)
		for _, k := range p.Import.ApproverKeys {
			need("import.approver_keys", k)
		}
		for i, b := range p.Import.Quorum.Builders {
			need(fmt.Sprintf("import.quorum.builders[%d].key", i), b.Key)
		}
		if p.Import.ResignGuix {
			need("import.resign_guix", filepath.Join(p.Keys.Dir, sealing.GuixSecFile))
		}
		for _, r := range p.Import.YaraRules {
			need("import.yara_rules", r)
		}
	}
	if len(errs) > 0 {
		return &Errors{File: p.Path, List: errs}
	}
	return nil
}

// Has reports whether the policy allows mode.
func (p *Policy) Has(mode string) bool {
	for _, m := range p.Modes {
		if m == mode {
			return true
		}
	}
	return false
}
