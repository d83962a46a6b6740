package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing"
)

var initCommand = command{
	name: "init",
	usage: "--site DIR [--station NAME] [--guix-key SIGNING_KEY.pub]... [--org ORG] [--location LOC]\n" +
		"       [--appliance-passphrase-file F] [--approver-passphrase-file F] [--auditor-passphrase-file F] [--demo]",
	summary: "lay out a new site: policy, every role's keys, Guix ACL, allowlist, YARA rules, and where each file goes",
}

func init() { initCommand.run = runInit }

// The folders of a site (airlock init --site DIR). Each is one place a file goes: what is under
// SiteBootDir is the boot medium's /etc/airlock (make boot-medium SITE=DIR/boot-medium), and no
// other folder's file may ever be copied there.
const (
	SiteBootDir     = "boot-medium"
	SiteApproverDir = "approver"
	SiteAuditorDir  = "auditor"
	SiteHighDir     = "high-side"
	SiteGuixDir     = "appliance-guix"
	SiteFilesList   = "FILES.txt"
)

// siteRules is the YARA rule file a new site starts with: the EICAR test file, so that a
// scan can be seen to reject (docs/DEPLOY.md's first import). Sites add their own rules.
const siteRules = `// The site's YARA rules: every file of every stick (and every file inside archives) is scanned
// with every rule here; one match rejects the import. Start: the EICAR anti-malware test file
// (eicar.org), so that a rejection can be tried. Add rule files to import.yara_rules.
rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}
`

// sitePolicy is the commented policy init writes; policy.Load accepts it as written.
const sitePolicy = `# The station policy of site {{station}} (airlock init). Every key is checked at boot: an
# unknown key, a wrong value or a missing file stops the station with a list of the problems.
# Relative paths are relative to this file (on the boot medium: /etc/airlock).
station = "{{station}}"
modes   = ["import", "sanitize", "check"]   # what an operator may choose; the first is the default

[keys]
dir        = "keys"        # seal.key (seals, certificates), log.key (audit checkpoints); *.pub/.vkey
passphrase = {{passphrase}}      # true: the station asks for the keys' passphrase at boot

[import]
# Files whose SHA-256 the approver signed (airlock allow --key approver.key --out allowlist FILE...
# on the approver's offline machine). It starts empty: nothing crosses until the approver adds it.
allowlist     = "allowlist"
approver_keys = ["approver.pub"]
{{acl}}yara_rules    = ["rules/site.yar"]
resign_guix   = false       # true: re-sign approved Guix exports with keys/guix-signing-key.sec
spool_max     = "8GiB"      # RAM spool for one stick: at most half the machine's memory

[sanitize]
method       = "zero"       # zero | random | dod3 | discard
verify       = "full"       # full | sample
after_import = "ask"        # wipe the stick after an import: ask | always | never

[burn]
drive = "/dev/sr0"          # the burner
media = ["DVD-R", "DVD+R", "BD-R"]

[audit]
log_label = "AIRLOCK-LOG"   # FAT label of the audit log disk (airlock log init --label)

[certificate]
# What every sanitization certificate states (NIST SP 800-88 Rev. 1, Appendix G), and what the
# station asks the operator at each wipe (ask; those in optional may be left empty).
organization = "{{org}}"
location     = "{{location}}"
destination  = "internal reuse"
ask      = ["sanitizer_name", "sanitizer_title", "property_number", "source", "classification", "backup"]
optional = ["source", "backup"]
`

// siteFile is one row of init's table: a file, where it goes and why.
type siteFile struct {
	path, where, why string
}

func runInit(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, initCommand)
	site := fs.String("site", "", "the new site folder (created; must not hold any file init writes)")
	station := fs.String("station", "airlock-1", "the station's name (policy station, certificates, the log key's name)")
	var guixKeys pubFlags
	fs.Var(&guixKeys, "guix-key", "a Guix public key (/etc/guix/signing-key.pub) whose exports may cross; repeatable")
	org := fs.String("org", "", "organization named on sanitization certificates")
	location := fs.String("location", "", "location named on sanitization certificates")
	appPass := fs.String("appliance-passphrase-file", "", "passphrase of the appliance's seal and log keys (the station asks for it at boot)")
	apprPass := fs.String("approver-passphrase-file", "", "passphrase of the approver's key")
	audPass := fs.String("auditor-passphrase-file", "", "passphrase of the auditor's key")
	demo := fs.Bool("demo", false, "allow secret keys without a passphrase (a demo site: never for real media)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *site == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "airlock init: --site is required and no arguments are taken")
		fs.Usage()
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock init: %s\n", fmt.Sprintf(format, a...))
		return exitError
	}
	for name, v := range map[string]string{"org": *org, "location": *location} {
		if err := sealing.CheckCertValue(v); err != nil || strings.ContainsAny(v, `"\`) {
			return fail("--%s %q: at most %d printable characters, no quotes or backslashes", name, v, sealing.MaxCertField)
		}
	}
	if !stationNameOK(*station) {
		return fail("--station %q: use 1-64 letters, digits, '.', '_' or '-'", *station)
	}
	pass := map[sealing.Role]string{}
	for role, file := range map[sealing.Role]string{sealing.RoleAppliance: *appPass, sealing.RoleApprover: *apprPass, sealing.RoleAuditor: *audPass} {
		p, err := readPassphraseFlag(file)
		if err != nil {
			return fail("%v", err)
		}
		if p == "" && !*demo {
			return fail("the %s's secret keys need a passphrase (--%s-passphrase-file F), or --demo for a demo site", role, role)
		}
		pass[role] = p
	}
	var gkeys []*guix.PublicKey
	for _, p := range guixKeys {
		b, err := readlimit.File(p, maxACLSize)
		if err != nil {
			return fail("%s", flagFileError("guix-key", p, err))
		}
		k, err := guix.ParsePublicKey(b)
		if err != nil {
			return fail("--guix-key %s: %v", p, err)
		}
		gkeys = append(gkeys, k)
	}

	files, err := layOutSite(ctx, *site, siteOptions{station: *station, org: *org, location: *location,
		pass: pass, guixKeys: gkeys})
	if err != nil {
		return fail("%v", err)
	}
	var table bytes.Buffer
	writeSiteTable(&table, files)
	if err := writeNew(filepath.Join(*site, SiteFilesList), table.Bytes(), 0o644); err != nil {
		return fail("%v", err)
	}
	e.stdout.Write(table.Bytes())
	if *demo {
		fmt.Fprintln(e.stderr, "airlock init: warning: --demo: secret keys without a passphrase are NOT encrypted; for demos and tests only")
	}
	return exitOK
}

func stationNameOK(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && strings.ContainsRune("._-", c)
		if !ok {
			return false
		}
	}
	return true
}

type siteOptions struct {
	station, org, location string
	pass                   map[sealing.Role]string
	guixKeys               []*guix.PublicKey
}

// layOutSite writes the site folder and returns its table. It refuses to start when any file
// it would write exists, so an existing key is never overwritten (sealing.GenerateKeys refuses
// too, file by file).
func layOutSite(ctx context.Context, site string, o siteOptions) ([]siteFile, error) {
	boot := filepath.Join(site, SiteBootDir)
	j := filepath.Join
	var planned []string
	for _, f := range []string{sealing.SealKeyFile, sealing.SealPubFile, sealing.LogKeyFile, sealing.LogVKeyFile} {
		planned = append(planned, j(boot, "keys", f))
	}
	planned = append(planned, j(site, SiteGuixDir, sealing.GuixSecFile), j(site, SiteGuixDir, sealing.GuixPubFile),
		j(boot, "policy.toml"), j(boot, "approver.pub"), j(boot, "allowlist"), j(boot, "allowlist.minisig"), j(boot, "rules", "site.yar"),
		j(site, SiteApproverDir, sealing.ApproverKeyFile), j(site, SiteApproverDir, sealing.ApproverPubFile),
		j(site, SiteAuditorDir, sealing.AuditorKeyFile), j(site, SiteAuditorDir, sealing.AuditorVKeyFile),
		j(site, SiteHighDir, sealing.SealPubFile), j(site, SiteHighDir, sealing.LogVKeyFile), j(site, SiteHighDir, sealing.AuditorVKeyFile),
		j(site, SiteHighDir, "guix-acl"), j(site, SiteFilesList))
	if len(o.guixKeys) > 0 {
		planned = append(planned, j(boot, "acl"))
	}
	var exist []string
	for _, p := range planned {
		if _, err := os.Lstat(p); err == nil {
			exist = append(exist, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if len(exist) > 0 {
		return nil, fmt.Errorf("%s: %w: %s (a site is laid out once; remove the folder to start again)", site, sealing.ErrKeyExists, strings.Join(exist, ", "))
	}

	// Keys, made in place. The appliance's Guix key is not needed on the boot medium unless
	// import.resign_guix is set, and Guix has no encrypted key form: it waits outside.
	if _, err := sealing.GenerateKeys(j(boot, "keys"), sealing.KeygenOptions{Role: sealing.RoleAppliance, Name: o.station,
		Passphrase: o.pass[sealing.RoleAppliance], Guix: guixKeyGen}); err != nil {
		return nil, fmt.Errorf("appliance keys: %w", err)
	}
	if err := os.MkdirAll(j(site, SiteGuixDir), 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{sealing.GuixSecFile, sealing.GuixPubFile} {
		if err := os.Rename(j(boot, "keys", f), j(site, SiteGuixDir, f)); err != nil {
			return nil, err
		}
	}
	if _, err := sealing.GenerateKeys(j(site, SiteApproverDir), sealing.KeygenOptions{Role: sealing.RoleApprover,
		Passphrase: o.pass[sealing.RoleApprover]}); err != nil {
		return nil, fmt.Errorf("approver key: %w", err)
	}
	if _, err := sealing.GenerateKeys(j(site, SiteAuditorDir), sealing.KeygenOptions{Role: sealing.RoleAuditor,
		Passphrase: o.pass[sealing.RoleAuditor]}); err != nil {
		return nil, fmt.Errorf("auditor key: %w", err)
	}
	copies := [][2]string{
		{j(site, SiteApproverDir, sealing.ApproverPubFile), j(boot, "approver.pub")},
		{j(boot, "keys", sealing.SealPubFile), j(site, SiteHighDir, sealing.SealPubFile)},
		{j(boot, "keys", sealing.LogVKeyFile), j(site, SiteHighDir, sealing.LogVKeyFile)},
		{j(site, SiteAuditorDir, sealing.AuditorVKeyFile), j(site, SiteHighDir, sealing.AuditorVKeyFile)},
	}
	for _, c := range copies {
		b, err := os.ReadFile(c[0])
		if err != nil {
			return nil, err
		}
		if err := writeNew(c[1], b, 0o644); err != nil {
			return nil, err
		}
	}

	// The (empty) allowlist, signed by the approver, so that the policy loads as written.
	approver, err := sealing.LoadSealKey(j(site, SiteApproverDir, sealing.ApproverKeyFile), o.pass[sealing.RoleApprover])
	if err != nil {
		return nil, err
	}
	if _, err := sealing.AllowFiles(ctx, j(boot, "allowlist"), approver, nil); err != nil {
		return nil, fmt.Errorf("allowlist: %w", err)
	}

	// The Guix ACL, written as `guix archive --authorize` would (airlock guix acl add).
	acl := guix.NewACL()
	for _, k := range o.guixKeys {
		acl.Authorize(k)
	}
	aclText, err := acl.MarshalText()
	if err != nil {
		return nil, err
	}
	aclLine := "guix_acl      = \"acl\"       # Guix keys whose signed exports may cross (airlock guix acl add)\n"
	if len(o.guixKeys) > 0 {
		if err := writeNew(j(boot, "acl"), aclText, 0o644); err != nil {
			return nil, err
		}
	} else {
		aclLine = "# guix_acl    = \"acl\"       # Guix exports: airlock guix acl --acl acl add signing-key.pub\n"
	}
	if err := writeNew(j(site, SiteHighDir, "guix-acl"), aclText, 0o644); err != nil {
		return nil, err
	}
	if err := writeNew(j(boot, "rules", "site.yar"), []byte(siteRules), 0o644); err != nil {
		return nil, err
	}
	passphrase := "false"
	if o.pass[sealing.RoleAppliance] != "" {
		passphrase = "true "
	}
	pol := strings.NewReplacer("{{station}}", o.station, "{{passphrase}}", passphrase, "{{acl}}", aclLine,
		"{{org}}", o.org, "{{location}}", o.location).Replace(sitePolicy)
	if err := writeNew(j(boot, "policy.toml"), []byte(pol), 0o644); err != nil {
		return nil, err
	}

	bm := "boot medium (/etc/airlock)"
	enc := func(r sealing.Role) string {
		if o.pass[r] == "" {
			return "NOT encrypted (--demo)"
		}
		return "passphrase-encrypted"
	}
	rows := []siteFile{
		{j(SiteBootDir, "policy.toml"), bm, "the station's policy; its SHA-256 is in every seal"},
		{j(SiteBootDir, "keys", sealing.SealKeyFile), bm, "signs seals and certificates; " + enc(sealing.RoleAppliance)},
		{j(SiteBootDir, "keys", sealing.SealPubFile), bm, "check mode verifies discs with it"},
		{j(SiteBootDir, "keys", sealing.LogKeyFile), bm, "signs the audit log's checkpoints; " + enc(sealing.RoleAppliance)},
		{j(SiteBootDir, "keys", sealing.LogVKeyFile), bm, "check mode verifies discs' log proofs"},
		{j(SiteBootDir, "approver.pub"), bm, "the station verifies the allowlist with it"},
		{j(SiteBootDir, "allowlist"), bm, "approved SHA-256s, empty: the approver adds files"},
		{j(SiteBootDir, "allowlist.minisig"), bm, "the approver's signature of the allowlist"},
	}
	if len(o.guixKeys) > 0 {
		rows = append(rows, siteFile{j(SiteBootDir, "acl"), bm, fmt.Sprintf("Guix ACL: %d key(s) whose exports may cross", len(o.guixKeys))})
	}
	rows = append(rows,
		siteFile{j(SiteBootDir, "rules", "site.yar"), bm, "YARA rules every file is scanned with"},
		siteFile{j(SiteApproverDir, sealing.ApproverKeyFile), "approver's offline machine", "signs allowlists (airlock allow); never on the appliance; " + enc(sealing.RoleApprover)},
		siteFile{j(SiteApproverDir, sealing.ApproverPubFile), "approver's offline machine", "copied to boot-medium/approver.pub"},
		siteFile{j(SiteAuditorDir, sealing.AuditorKeyFile), "auditor", "cosigns log checkpoints (airlock log cosign); " + enc(sealing.RoleAuditor)},
		siteFile{j(SiteAuditorDir, sealing.AuditorVKeyFile), "auditor", "checks cosigned checkpoints; copied to high-side/"},
		siteFile{j(SiteHighDir, sealing.SealPubFile), "high side", "verifies every disc (airlock verify --pub, minisign -V)"},
		siteFile{j(SiteHighDir, sealing.LogVKeyFile), "high side and auditor", "verifies the log's checkpoints on discs and the log disk"},
		siteFile{j(SiteHighDir, sealing.AuditorVKeyFile), "high side", "verifies the auditor's cosignatures"},
		siteFile{j(SiteHighDir, "guix-acl"), "high side: /etc/guix/acl", "the Guix keys the high side's guix archive --import trusts"},
		siteFile{j(SiteGuixDir, sealing.GuixSecFile), "appliance custodian, offline", "only with import.resign_guix (then keys/): Guix has no encrypted form"},
		siteFile{j(SiteGuixDir, sealing.GuixPubFile), "appliance custodian, offline", "with resign_guix: the high side's /etc/guix/acl instead"},
		siteFile{SiteFilesList, "site administrator", "this table"},
	)
	return rows, nil
}

// writeSiteTable prints the rows as an aligned table.
func writeSiteTable(w io.Writer, rows []siteFile) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tGOES TO\tWHY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.path, r.where, r.why)
	}
	tw.Flush()
}

// writeNew creates path (and its folder), failing if it exists.
func writeNew(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
