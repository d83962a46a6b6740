package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

var certCommand = command{
	name:    "cert",
	usage:   "show|verify [--pub SEAL_PUB] (FILE | --log LOGDIR ID)",
	summary: "print or check a sanitization certificate, from its files or reprinted from the audit log",
}

func init() { certCommand.run = runCert }

// certSubcommands are the forms of `airlock cert`.
func certSubcommands() []command {
	return []command{
		{name: "cert show", usage: "[--pub SEAL_PUB] [--json] (FILE | --log LOGDIR ID)",
			summary: "print the one-page form of certificate.json (or .txt), or reprint certificate ID from the audit log", run: runCertShow},
		{name: "cert verify", usage: "--pub SEAL_PUB (FILE | --log LOGDIR ID)",
			summary: "check the certificate's signature, its form and the printed copy's hash (exit 1 when it does not verify)", run: runCertVerify},
	}
}

func runCert(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		for _, c := range certSubcommands() {
			if c.name == "cert "+args[0] {
				return c.run(ctx, e, args[1:])
			}
		}
	}
	fs := newFlags(e, certCommand)
	if ok, code := parse(e, fs, args); !ok {
		if code == exitOK {
			for _, c := range certSubcommands() {
				fmt.Fprintf(e.stdout, "\n  airlock %s %s\n      %s\n", c.name, c.usage, c.summary)
			}
		}
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "airlock cert: unknown cert subcommand %q (show, verify)\n", fs.Arg(0))
		return exitError
	}
	fmt.Fprintln(e.stderr, "airlock cert: want a subcommand (show, verify)")
	fs.Usage()
	return exitError
}

// certSource is a certificate as found: its JSON, its signature (nil when none was found), the
// printed form stored beside it (nil when none), and where it came from.
type certSource struct {
	js, sig, text []byte
	where         string
}

// loadCertFiles reads certificate.json (or the certificate.txt given) and the files beside it:
// JSON.minisig and certificate.txt, as airlock writes them onto a stick.
func loadCertFiles(path string) (*certSource, error) {
	dir := filepath.Dir(path)
	s := &certSource{where: path}
	jsPath := path
	if strings.HasSuffix(path, ".txt") {
		jsPath = filepath.Join(dir, media.CertJSON)
	}
	var err error
	if s.js, err = readlimit.File(jsPath, sealing.MaxCertificateSize); err != nil {
		return nil, err
	}
	if s.sig, err = readlimit.File(jsPath+".minisig", 4<<10); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	txtPath := filepath.Join(dir, media.CertText)
	if strings.HasSuffix(path, ".txt") {
		txtPath = path
	}
	if s.text, err = readlimit.File(txtPath, 64<<10); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// certFromLog finds the certificate record for certificate ID in the audit log at dir.
func certFromLog(dir, id string) (*certSource, error) {
	l, err := auditlog.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for i := l.Size() - 1; i >= 0; i-- {
		rec, err := l.Record(i)
		if err != nil {
			return nil, err
		}
		var r struct {
			Type        string `json:"type"`
			Certificate string `json:"certificate"`
			Signature   string `json:"signature"`
		}
		if json.Unmarshal(rec, &r) != nil || r.Type != "certificate" || r.Certificate == "" {
			continue
		}
		c, err := sealing.ParseCertificate([]byte(r.Certificate))
		if err != nil || c.ID != id {
			continue
		}
		s := &certSource{js: []byte(r.Certificate), where: fmt.Sprintf("%s record %d", dir, i)}
		if r.Signature != "" {
			s.sig = []byte(r.Signature)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s: no certificate record with ID %q", dir, id)
}

// certArgs parses the flags common to show and verify and finds the certificate.
func certArgs(e *env, c command, args []string, extra func(*flag.FlagSet)) (src *certSource, pub *sealing.PublicKey, code int) {
	fs := newFlags(e, c)
	pubPath := fs.String("pub", "", "seal public key (seal.pub) the certificate must be signed with")
	logDir := fs.String("log", "", "reprint from the audit log in this directory: the argument is a certificate ID")
	if extra != nil {
		extra(fs)
	}
	if ok, code := parse(e, fs, args); !ok {
		return nil, nil, code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(e.stderr, "airlock %s: one FILE (or, with --log, one certificate ID) is required\n", c.name)
		fs.Usage()
		return nil, nil, exitError
	}
	if *pubPath != "" {
		var err error
		if pub, err = sealing.LoadPublicKey(*pubPath); err != nil {
			fmt.Fprintf(e.stderr, "airlock %s: %s\n", c.name, flagFileError("pub", *pubPath, err))
			return nil, nil, exitError
		}
	}
	var err error
	if *logDir != "" {
		src, err = certFromLog(*logDir, fs.Arg(0))
	} else {
		src, err = loadCertFiles(fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock %s: %v\n", c.name, err)
		return nil, nil, exitError
	}
	return src, pub, exitOK
}

func runCertShow(ctx context.Context, e *env, args []string) int {
	c := certSubcommands()[0]
	var asJSON *bool
	src, pub, code := certArgs(e, c, args, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print the certificate's canonical JSON instead of its form")
	})
	if src == nil {
		return code
	}
	var cert *sealing.Certificate
	var err error
	if pub != nil {
		cert, err = sealing.VerifyCertificate(src.js, src.sig, pub)
	} else {
		cert, err = sealing.ParseCertificate(src.js)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock cert show: %s: %v\n", src.where, err)
		return exitVerdict
	}
	if *asJSON {
		e.stdout.Write(src.js)
		return exitOK
	}
	fmt.Fprint(e.stdout, cert.Form(src.sig))
	return exitOK
}

func runCertVerify(ctx context.Context, e *env, args []string) int {
	c := certSubcommands()[1]
	src, pub, code := certArgs(e, c, args, nil)
	if src == nil {
		return code
	}
	if pub == nil {
		fmt.Fprintln(e.stderr, "airlock cert verify: --pub is required")
		return exitError
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(e.stdout, "INVALID: %s: %s\n", src.where, fmt.Sprintf(format, a...))
		return exitVerdict
	}
	if src.sig == nil {
		return bad("no signature (certificate.json.minisig)")
	}
	cert, err := sealing.VerifyCertificate(src.js, src.sig, pub)
	if err != nil {
		return bad("%v", err)
	}
	h := sha256.Sum256(src.js)
	printed := "no printed copy beside it"
	switch {
	case src.text == nil:
	case cert.Version < sealing.CertificateVersion:
		printed = fmt.Sprintf("printed copy not compared (a version %d certificate's form carries no hash)", cert.Version)
	case !sealing.CertificateFormMatches(src.text, cert, src.sig):
		return bad("%s is not the form of the signed JSON (altered, or of another certificate)", media.CertText)
	default:
		printed = media.CertText + " is its form"
	}
	fmt.Fprintf(e.stdout, "VALID: %s: certificate %s, result %s, serial %q, sha256 %s; %s\n",
		src.where, cert.ID, cert.Result, cert.Serial, hex.EncodeToString(h[:]), printed)
	return exitOK
}

// certFieldsFlag is a repeatable --field KEY=VALUE for the certificate's SP 800-88 fields.
type certFieldsFlag struct{ f *sealing.CertFields }

func (c certFieldsFlag) String() string { return "" }

func (c certFieldsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, e.g. property_number=EA-42")
	}
	return c.f.Set(k, v)
}
