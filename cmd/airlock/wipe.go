package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
)

var wipeCommand = command{
	name:    "wipe",
	usage:   "[--method zero|random|dod3|discard] [--verify full|sample] [--format fat32] [--label L] [--key SEAL_KEY] [--allow-loop] [--yes] DEVICE",
	summary: "wipe, verify and reformat a stick with a signed sanitization certificate",
}

func init() { wipeCommand.run = runWipe }

func runWipe(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, wipeCommand)
	method := fs.String("method", media.MethodZero, "zero, random (AES-CTR keystream), dod3 (zeros, ones, random) or discard")
	verify := fs.String("verify", media.VerifyFull, "full (read back every byte) or sample (first/last MiB + 5% random MiB)")
	format := fs.String("format", "fat32", "reformat after a verified wipe: fat32 or none")
	label := fs.String("label", "AIRLOCK", "FAT32 volume label")
	keyPath := fs.String("key", "", "seal key (minisign) that signs the certificate")
	passFile := fs.String("passphrase-file", "", "file holding the seal key's passphrase")
	allowLoop := fs.Bool("allow-loop", false, "admit loop devices and image files (test mode)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	asJSON := fs.Bool("json", false, "print the certificate as one JSON line instead of text")
	certOut := fs.String("cert-out", "", "also write the certificate files into this directory")
	station := fs.String("station", wipeHostname(), "station name for the certificate")
	operator := fs.String("operator", "", "operator ID for the certificate")
	var fields sealing.CertFields
	fs.Var(certFieldsFlag{&fields}, "field", "a certificate field KEY=VALUE (organization, location, sanitizer_name, property_number, source, classification, backup, destination, validator_name, ...); repeatable")
	sysfs := fs.String("sysfs", "/sys", "sysfs root")
	quiet := fs.Bool("quiet", false, "no progress lines")
	bootDisks := fs.String("boot-disk", "", "comma-separated disks or partitions of the boot medium, never wiped")
	logDisks := fs.String("log-disk", "", "comma-separated disks or partitions holding the audit log, never wiped")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock wipe: need exactly one DEVICE")
		fs.Usage()
		return exitError
	}
	switch *format {
	case "fat32", "none":
	default:
		fmt.Fprintf(e.stderr, "airlock wipe: --format %q: only fat32 or none\n", *format)
		return exitError
	}
	dev := fs.Arg(0)
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock wipe: %s: %s\n", dev, fmt.Sprintf(format, a...))
		return code
	}
	id, err := targetIdentity(dev, *sysfs, &media.Guard{AllowLoop: *allowLoop, BootDisks: splitList(*bootDisks), LogDisks: splitList(*logDisks)}, *allowLoop)
	if err != nil {
		// A guard refusal is a set-up error (the wrong device, a missing --allow-loop).
		return fail(exitError, "%v", err)
	}
	var key *sealing.SealKey
	if *keyPath != "" {
		pass := ""
		if *passFile != "" {
			b, err := os.ReadFile(*passFile)
			if err != nil {
				return fail(exitError, "%v", err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		if key, err = sealing.LoadSealKey(*keyPath, pass); err != nil {
			return fail(exitError, "seal key: %v", err)
		}
	}
	if !*yes {
		if code := confirmWipe(e, id); code != exitOK {
			return code
		}
	}
	var last time.Time
	progress := func(p media.Progress) {
		if *quiet || time.Since(last) < 2*time.Second && p.Done != p.Total {
			return
		}
		last = time.Now()
		fmt.Fprintf(e.stderr, "airlock wipe: %s: %s %5.1f%% %.1f MB/s ETA %s\n", dev, p.Phase,
			100*float64(p.Done)/float64(max(p.Total, 1)), p.Rate/1e6, p.ETA.Round(time.Second))
	}
	res, err := media.Sanitize(ctx, dev, media.SanitizeOptions{
		Wipe:     media.WipeOptions{Method: *method, Verify: *verify, Progress: progress},
		Format:   *format == "fat32",
		Label:    *label,
		Key:      key,
		Identity: id,
		Info: media.CertInfo{ID: fmt.Sprintf("wipe-%s-%d", id.Name, time.Now().UnixNano()), Station: *station,
			Operator: *operator, ToolVersion: wipeToolVersion(), AuditLogIndex: -1, Fields: fields},
	})
	if res == nil {
		if msg := err.Error(); *format == "fat32" && strings.Contains(msg, "too small") {
			// Refused before anything was wiped: name the flag that wipes without reformatting.
			msg = strings.Replace(msg, " (use no reformat)", "", 1)
			return fail(exitError, "%s; to wipe it without reformatting, pass --format none", msg)
		}
		return fail(exitError, "%v", err)
	}
	if *certOut != "" {
		if werr := writeCert(*certOut, res); werr != nil {
			fmt.Fprintf(e.stderr, "airlock wipe: certificate: %v\n", werr)
			if err == nil {
				err = werr
			}
		}
	}
	if *asJSON {
		js := res.JSON
		if js == nil {
			js, _ = res.Certificate.MarshalCanonical()
		}
		e.stdout.Write(append(bytes.TrimSpace(js), '\n')) // one JSON line
	} else {
		fmt.Fprint(e.stdout, res.Certificate.Form(res.Sig))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock wipe: %v\n", err)
		if errors.Is(err, media.ErrDiscardUnsupported) {
			return exitError
		}
		if res.Certificate.Result == media.Failed {
			return exitVerdict
		}
		return exitError
	}
	if res.Format != nil {
		fmt.Fprintf(e.stderr, "airlock wipe: %s: %s; certificate written to %s\n", dev, res.Format.PostAction(), media.CertJSON)
	}
	return exitOK
}

// confirmWipe shows the identity and asks for the last four characters of the serial (or of the
// size in bytes when there is no serial). Without a terminal it refuses.
func confirmWipe(e *env, id *media.Identity) int {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "airlock wipe: %s: refusing to wipe without confirmation: no terminal (pass --yes)\n", id.Node)
		return exitError
	}
	what, secret := "serial", id.Serial
	if len(secret) < 4 {
		what, secret = "size in bytes", fmt.Sprint(id.Size)
	}
	want := secret[len(secret)-4:]
	fmt.Fprintf(e.stderr, "About to DESTROY all data on %s:\n", id.Node)
	fmt.Fprintf(e.stderr, "  bus %s  vendor %q  model %q  serial %q  USB %s\n  size %d bytes  partitions %s\n",
		id.Bus, id.Vendor, id.Model, id.Serial, id.USBID(), id.Size, strings.Join(id.Partitions, ","))
	fmt.Fprintf(e.stderr, "Type the last 4 characters of the %s to confirm: ", what)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintf(e.stderr, "\nairlock wipe: %s: not confirmed\n", id.Node)
		return exitError
	}
	if strings.TrimSpace(line) != want {
		fmt.Fprintf(e.stderr, "airlock wipe: %s: confirmation %q does not match: nothing written\n", id.Node, strings.TrimSpace(line))
		return exitError
	}
	return exitOK
}

func writeCert(dir string, res *media.SanitizeResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js := res.JSON
	if js == nil {
		var err error
		if js, err = res.Certificate.MarshalCanonical(); err != nil {
			return err
		}
	}
	files := map[string][]byte{media.CertText: []byte(res.Certificate.Form(res.Sig)), media.CertJSON: js}
	if res.Sig != nil {
		files[media.CertSig] = res.Sig
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func wipeHostname() string {
	h, _ := os.Hostname()
	return h
}

// wipeToolVersion is the module version and VCS revision for the certificate.
func wipeToolVersion() string {
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v = bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// targetIdentity is the identity of a device a command is about to overwrite, once the guard
// has accepted it: a block device as sysfs describes it, or, with allowImages (--allow-loop),
// an image file standing in for a stick. Every refusal is a set-up error (exit 2).
func targetIdentity(dev, sysfs string, g *media.Guard, allowImages bool) (*media.Identity, error) {
	st, err := os.Stat(dev)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Mode()&os.ModeDevice != 0:
		real, err := filepath.EvalSymlinks(dev)
		if err != nil {
			return nil, err
		}
		id, err := media.Identify(sysfs, filepath.Base(real))
		if err != nil {
			return nil, err
		}
		if err := g.Check(id); err != nil {
			return nil, err
		}
		return id, nil
	case st.Mode().IsRegular() && allowImages:
		return &media.Identity{Name: filepath.Base(dev), Node: dev, Bus: "loop", BackingFile: dev, Size: st.Size(), Model: "image file"}, nil
	}
	return nil, errors.New("not a block device (image files only with --allow-loop)")
}
