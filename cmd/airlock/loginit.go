package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-appliance/airlock/appliance"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// logMediumReadme is written into the root of a new log medium, for whoever finds the disk.
const logMediumReadme = `This disk is an airlock station's audit log medium.

The station finds it at boot by its FAT label and keeps the log in the folder
%s/ (records, checkpoint). Do not edit, reformat or reuse it: the high side
checks every disc's proofs against this log. Prepared by airlock log init on
%s for station %q; the first checkpoint was printed then.
`

// runLogInit prepares a log medium: MBR + one FAT32 partition labelled as the policy's
// audit.log_label, with the log's folder holding a first record and its signed checkpoint.
// The station (appliance.BootDuties) finds the disk by that label and opens the folder; the
// printed checkpoint is the log's starting point for the auditor and the high side.
func runLogInit(ctx context.Context, e *env, args []string) int {
	c := logInitCommand
	fs := newFlags(e, c)
	keyPath := fs.String("key", "", "log signer key (log.key) that signs the first checkpoint")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted key")
	label := fs.String("label", "AIRLOCK-LOG", "FAT label: the policy's audit.log_label")
	station := fs.String("station", "", "the station's name (the policy's station), recorded in the first record")
	yes := fs.Bool("yes", false, "do not ask for confirmation (everything on DEVICE is lost)")
	allowLoop := fs.Bool("allow-loop", false, "accept loop devices and image files (tests, preparing an image)")
	sysfs := fs.String("sysfs", "/sys", "sysfs root")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *keyPath == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock log init: --key and one DEVICE are required")
		fs.Usage()
		return exitError
	}
	dev := fs.Arg(0)
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock log init: %s: %s\n", dev, fmt.Sprintf(format, a...))
		return code
	}
	signer, err := loadNoteSigner(*keyPath, *passFile)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	id, err := targetIdentity(dev, *sysfs, &media.Guard{AllowLoop: *allowLoop}, *allowLoop)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	if !*yes {
		if code := confirmWipe(e, id); code != exitOK {
			return code
		}
	}
	if err := media.CheckFormat(dev); err != nil {
		return fail(exitError, "%v", err)
	}

	// The log is made in a scratch folder with the same code the station appends with, then
	// copied into the new filesystem: what the station opens is a log it would have written.
	tmp, err := os.MkdirTemp("", "airlock-log-init-")
	if err != nil {
		return fail(exitError, "%v", err)
	}
	defer os.RemoveAll(tmp)
	l, err := auditlog.Open(tmp, signer)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	now := time.Now().UTC()
	rec := map[string]any{"type": "log-init", "time": now.Format(time.RFC3339), "label": *label, "station": *station,
		"medium": map[string]any{"vendor": id.Vendor, "model": id.Model, "serial": id.Serial, "size": id.Size}}
	if _, err := l.Append(ctx, rec); err != nil {
		l.Close()
		return fail(exitError, "first record: %v", err)
	}
	cp, err := l.Checkpoint()
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(exitError, "first checkpoint: %v", err)
	}
	files := []media.File{{Name: "README.txt", Data: fmt.Appendf(nil, logMediumReadme, appliance.LogSubdir, now.Format(time.DateOnly), *station)}}
	for _, n := range []string{auditlog.RecordsFile, auditlog.CheckpointFile} {
		b, err := os.ReadFile(filepath.Join(tmp, n))
		if err != nil {
			return fail(exitError, "%v", err)
		}
		files = append(files, media.File{Name: appliance.LogSubdir + "/" + n, Data: b})
	}
	rep, err := media.Reformat(ctx, dev, media.FormatOptions{Label: *label, Files: files, Time: now})
	if err != nil {
		return fail(exitError, "%v", err)
	}
	fmt.Fprintf(e.stderr, "airlock log init: %s: %s; log folder %s/ with record 0 (log-init) and its checkpoint:\n",
		dev, rep.PostAction(), appliance.LogSubdir)
	e.stdout.Write(cp)
	return exitOK
}

// logInitCommand is `airlock log init` (listed in logSubcommands).
var logInitCommand = command{name: "log init", usage: "--key LOG_KEY [--label AIRLOCK-LOG] [--station NAME] [--yes] DEVICE",
	summary: "prepare the audit log medium: FAT32 labelled for the station, its log folder, a first record and signed checkpoint (printed)"}

func init() { logInitCommand.run = runLogInit }
