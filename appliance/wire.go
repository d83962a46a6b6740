package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// WireOptions say how the real parts are set up besides the policy.
type WireOptions struct {
	// SysfsRoot is "/sys" unless set.
	SysfsRoot string
	// AllowLoop admits loop devices (host mode); LoopDir restricts them to backing files under it.
	AllowLoop bool
	LoopDir   string
	// BootDisks and LogDisks are refused by the device guard.
	BootDisks, LogDisks []string
	// BootMediumUUID is the boot medium's ISO volume UUID (BootResult.MediumUUID): the disk
	// carrying it is refused too.
	BootMediumUUID string
	// Passphrase decrypts the secret keys ("" for unencrypted keys).
	Passphrase string
	// AuthorizeUSB runs the BadUSB defense (appliance mode).
	AuthorizeUSB bool
	// Version is the tool version written into certificates.
	Version string
	// CertDir, when set (host mode), keeps a copy of every sanitization certificate.
	CertDir string
	// NoSandbox parses sticks in the station's own process (debugging; never in boot mode).
	NoSandbox bool
}

// Wired is the result of Wire: the parts and what to release at the end.
type Wired struct {
	Parts   Parts
	closers []io.Closer
	// Missing says, per part left unwired, why (a package that has not delivered it yet).
	Missing []string
	// Notes are what the operator should know about the set-up.
	Notes []string
}

// Close releases what Wire opened.
func (w *Wired) Close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i].Close())
	}
	return errors.Join(errs...)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// sandboxConfig is how the station starts its scan workers: scratch in the RAM spool, and the
// policy's [sandbox] deadline and address-space bound.
func sandboxConfig(pol *policy.Policy, noSandbox bool) *sandbox.Config {
	return &sandbox.Config{Disabled: noSandbox, TempDir: pol.Import.SpoolDir,
		Timeout: time.Duration(pol.Sandbox.Deadline), Memory: int64(pol.Sandbox.Memory)}
}

// Wire builds the station's parts from the policy with the real packages. Any error in what
// the policy names (a key that does not load, rules that do not compile, an allowlist whose
// signature fails) is returned: the station does not start half-configured.
func Wire(pol *policy.Policy, o WireOptions) (*Wired, error) {
	w := &Wired{}
	fail := func(err error) (*Wired, error) {
		w.Close()
		return nil, err
	}
	devs := &MediaDevices{SysfsRoot: o.SysfsRoot, LoopDir: o.LoopDir,
		Guard_: media.Guard{AllowLoop: o.AllowLoop, BootDisks: o.BootDisks, LogDisks: o.LogDisks}}
	if o.BootMediumUUID != "" {
		devs.BootMedium = func(dev string) bool { return IsBootMedium(dev, o.BootMediumUUID) }
	}
	if o.AuthorizeUSB {
		devs.USB = &media.USBAuthorizer{SysfsRoot: devs.sysfs()}
	}
	w.Parts.Devices = devs

	var sealKey *sealing.SealKey
	if pol.Has(policy.ModeImport) || pol.Has(policy.ModeSanitize) {
		var err error
		sealKey, err = sealing.LoadSealKey(filepath.Join(pol.Keys.Dir, sealing.SealKeyFile), o.Passphrase)
		if err != nil {
			return fail(fmt.Errorf("keys.dir: %w", err))
		}
	}

	if pol.Has(policy.ModeImport) {
		imp, err := wireImporter(pol)
		if err != nil {
			return fail(err)
		}
		w.closers = append(w.closers, closerFunc(func() error { imp.Rules.Destroy(); return nil }))
		if err := wireGuixBases(pol, imp); err != nil {
			return fail(err)
		}
		imp.Sandbox = sandboxConfig(pol, o.NoSandbox)
		if o.NoSandbox {
			w.Notes = append(w.Notes, "--no-sandbox: sticks are parsed in the station's process, next to the keys (debugging only)")
		} else {
			// A kernel or set-up that cannot run the worker is found now, not at the first stick.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			conf, err := imp.Sandbox.Check(ctx)
			cancel()
			if err != nil {
				return fail(fmt.Errorf("sandbox: %w", err))
			}
			w.Notes = append(w.Notes, conf.String())
		}
		w.Parts.Importer = imp
		w.Parts.Sealer = &KeySealer{Key: sealKey}
		w.Parts.Burner = &DriveBurner{Drive: pol.Burn.Drive, Policy: burner.Policy{Speed: pol.Burn.Speed,
			AllowRewritable: pol.Burn.AllowRewritable, Media: pol.Burn.Media}}
	}
	if sealKey != nil {
		signer, err := sealing.LoadNoteSigner(filepath.Join(pol.Keys.Dir, sealing.LogKeyFile), o.Passphrase)
		if err != nil {
			return fail(fmt.Errorf("keys.dir: %w", err))
		}
		dir := pol.Audit.LogDir
		if dir == "" {
			// No log medium: the log lives in RAM for this boot and every disc carries its
			// checkpoint and proofs; the station says so.
			dir = filepath.Join(os.TempDir(), "airlock-ephemeral-log")
			w.Notes = append(w.Notes, "audit log is EPHEMERAL, in RAM ("+dir+"): no log medium; every disc says so and carries the log's evidence")
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(fmt.Errorf("audit log %s: %w", dir, err))
		}
		l, err := auditlog.Open(dir, signer)
		if err != nil {
			return fail(fmt.Errorf("audit log: %w", err))
		}
		t := &TLog{Log: l, Dir: dir, Ephemeral_: pol.Audit.LogDir == ""}
		w.closers = append(w.closers, t)
		w.Parts.Log = t
		if imp, ok := w.Parts.Importer.(*ScanImporter); ok && len(imp.Channels) > 0 {
			// The last commit authenticated per channel, read now: a log that cannot say stops the start.
			imp.Heads = &LogHeads{Log: l}
			if _, err := imp.Heads.Heads(); err != nil {
				return fail(fmt.Errorf("audit log: channel heads: %w", err))
			}
		}
	}
	if pol.Has(policy.ModeSanitize) {
		w.Parts.Wiper = &MediaWiper{Method: pol.Sanitize.Method, Verify: pol.Sanitize.Verify, Label: pol.Sanitize.Label,
			Key: sealKey, Station: pol.Station, Version: o.Version, CertDir: o.CertDir, Devices: devs,
			Site: pol.Certificate.CertFields}
	}
	if pol.Has(policy.ModeCheck) {
		pub, err := sealing.LoadPublicKey(filepath.Join(pol.Keys.Dir, sealing.SealPubFile))
		if err != nil {
			return fail(fmt.Errorf("keys.dir: check mode: %w", err))
		}
		c := &SealChecker{Trusted: []*sealing.PublicKey{pub}, StateDir: pol.Audit.StateDir}
		if v, err := sealing.LoadNoteVerifier(filepath.Join(pol.Keys.Dir, sealing.LogVKeyFile)); err == nil {
			c.LogKey = v
		} else if !errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("keys.dir: %w", err))
		}
		w.Parts.Checker = c
	}
	return w, nil
}

func wireImporter(pol *policy.Policy) (*ScanImporter, error) {
	rules, err := scanner.CompileFiles(pol.Import.YaraRules...)
	if err != nil {
		return nil, fmt.Errorf("import.yara_rules: %w", err)
	}
	l := pol.Limits
	lim := scanner.DefaultLimits()
	lim.MaxDepth = l.MaxDepth
	lim.MaxRatio = int64(l.MaxRatio)
	lim.MaxExpanded = int64(l.MaxExpanded)
	lim.MaxEntries = l.MaxEntries
	lim.MaxEntrySize = int64(l.MaxEntrySize)
	imp := &ScanImporter{Rules: rules, SpoolMax: int64(pol.Import.SpoolMax), MaxFiles: l.MaxStickFiles,
		Options: scanner.Options{Limits: lim, Timeout: time.Duration(l.ScanTimeout), TempDir: pol.Import.SpoolDir}}
	if pol.Import.GuixACL != "" {
		b, err := readlimit.File(pol.Import.GuixACL, 1<<20)
		if err != nil {
			rules.Destroy()
			return nil, fmt.Errorf("import.guix_acl: %w", err)
		}
		acl, err := guix.ParseACL(b)
		if err != nil {
			rules.Destroy()
			return nil, fmt.Errorf("import.guix_acl: %s: %w", pol.Import.GuixACL, err)
		}
		imp.ACL = acl
	}
	if pol.Import.Allowlist != "" {
		var trusted []*sealing.PublicKey
		for _, p := range pol.Import.ApproverKeys {
			k, err := sealing.LoadPublicKey(p)
			if err != nil {
				rules.Destroy()
				return nil, fmt.Errorf("import.approver_keys: %w", err)
			}
			trusted = append(trusted, k)
		}
		al, err := sealing.LoadAllowlist(pol.Import.Allowlist, trusted...)
		if err != nil {
			rules.Destroy()
			return nil, fmt.Errorf("import.allowlist: %w", err)
		}
		imp.Allowlist = allowlist{al}
	}
	if pol.Import.KnownStorePaths != "" {
		if imp.Present, err = guix.LoadStorePaths(pol.Import.KnownStorePaths); err != nil {
			rules.Destroy()
			return nil, fmt.Errorf("import.known_store_paths: %w", err)
		}
	}
	return imp, nil
}

// allowlist adapts the verified sealing.Allowlist to the scanner's decision.
type allowlist struct{ a *sealing.Allowlist }

func (l allowlist) Allowed(sum [32]byte, size int64) bool {
	_, ok := l.a.Lookup(sum, size)
	return ok
}
