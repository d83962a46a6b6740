package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"golang.org/x/mod/sumdb/note"
)

var logCommand = command{
	name:    "log",
	usage:   "append|verify|show|prove|cosign --dir LOGDIR ... | init DEVICE",
	summary: "append to, verify, show and prove the audit log",
}

func init() { logCommand.run = runLog }

// logSubcommands are the forms of `airlock log`; each parses its own flags.
func logSubcommands() []command {
	return []command{
		{name: "log append", usage: "--dir LOGDIR --key LOG_KEY [--passphrase-file F] JSON|-",
			summary: "append one record (a JSON object with a \"type\"), durably, and sign a new checkpoint; prints the index", run: runLogAppend},
		{name: "log verify", usage: "--dir LOGDIR --vkey LOG_VKEY [--auditor-vkey AUDITOR_VKEY]...",
			summary: "re-hash every record and check the signed checkpoint (and cosigned ones)", run: runLogVerify},
		{name: "log show", usage: "--dir LOGDIR [--json] [--from N] [--to N] [--checkpoint]",
			summary: "print records (or the current checkpoint)", run: runLogShow},
		{name: "log prove", usage: "--dir LOGDIR (--index I | --old M) [--size N]",
			summary: "print an inclusion proof of record I, or a consistency proof from tree size M, to tree size N (default: the checkpoint's)", run: runLogProve},
		{name: "log cosign", usage: "--dir LOGDIR --key AUDITOR_KEY --vkey LOG_VKEY [--passphrase-file F]",
			summary: "check the log and countersign its checkpoint as auditor (stored in LOGDIR/cosigned/SIZE)", run: runLogCosign},
		logInitCommand,
	}
}

func runLog(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		for _, c := range logSubcommands() {
			if c.name == "log "+args[0] {
				return c.run(ctx, e, args[1:])
			}
		}
	}
	fs := newFlags(e, logCommand)
	if ok, code := parse(e, fs, args); !ok {
		if code == exitOK {
			for _, c := range logSubcommands() {
				fmt.Fprintf(e.stdout, "\n  airlock %s %s\n      %s\n", c.name, c.usage, c.summary)
			}
		}
		return code
	}
	names := make([]string, 0, len(logSubcommands()))
	for _, c := range logSubcommands() {
		names = append(names, strings.TrimPrefix(c.name, "log "))
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "airlock log: unknown log subcommand %q (%s)\n", fs.Arg(0), strings.Join(names, ", "))
		return exitError
	}
	fmt.Fprintf(e.stderr, "airlock log: want a subcommand (%s)\n", strings.Join(names, ", "))
	fs.Usage()
	return exitError
}

func logFail(e *env, c command, code int, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "airlock %s: %s\n", c.name, fmt.Sprintf(format, a...))
	return code
}

func runLogAppend(ctx context.Context, e *env, args []string) int {
	c := logSubcommands()[0]
	fs := newFlags(e, c)
	dir := fs.String("dir", "", "log directory (created if missing)")
	keyPath := fs.String("key", "", "log signer key (log.key)")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted key")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || *keyPath == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock log append: --dir, --key and one JSON record (or - for stdin) are required")
		fs.Usage()
		return exitError
	}
	signer, err := loadNoteSigner(*keyPath, *passFile)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	rec := []byte(fs.Arg(0))
	if fs.Arg(0) == "-" {
		if rec, err = io.ReadAll(io.LimitReader(e.stdin, auditlog.MaxRecordSize+1)); err != nil {
			return logFail(e, c, exitError, "stdin: %v", err)
		}
	}
	l, err := auditlog.Open(*dir, signer)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	defer l.Close()
	if n := l.Recovered(); n > 0 {
		fmt.Fprintf(e.stderr, "airlock log append: %s: removed a torn tail of %d bytes (an interrupted append)\n", filepath.Join(*dir, auditlog.RecordsFile), n)
	}
	idx, err := l.Append(ctx, rec)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	if _, err := l.Checkpoint(); err != nil {
		return logFail(e, c, exitError, "record %d appended, but checkpoint: %v", idx, err)
	}
	fmt.Fprintln(e.stdout, idx)
	return exitOK
}

func runLogVerify(ctx context.Context, e *env, args []string) int {
	c := logSubcommands()[1]
	fs := newFlags(e, c)
	dir := fs.String("dir", "", "log directory")
	vkey := fs.String("vkey", "", "log verifier key (log.vkey)")
	var auditors pubFlags
	fs.Var(&auditors, "auditor-vkey", "auditor verifier key: also check checkpoints cosigned by it; repeatable")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || *vkey == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "airlock log verify: --dir and --vkey are required")
		fs.Usage()
		return exitError
	}
	v, err := sealing.LoadNoteVerifier(*vkey)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	var avs []note.Verifier
	for _, a := range auditors {
		av, err := sealing.LoadNoteVerifier(a)
		if err != nil {
			return logFail(e, c, exitError, "%v", err)
		}
		avs = append(avs, av)
	}
	if _, err := os.Stat(filepath.Join(*dir, auditlog.RecordsFile)); err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	r, err := auditlog.VerifyDir(*dir, v, avs...)
	if err != nil {
		return logFail(e, c, exitVerdict, "INVALID: %v", err)
	}
	fmt.Fprintf(e.stdout, "%s: VALID: %d records", *dir, r.Records)
	if r.Checkpoint != nil {
		fmt.Fprintf(e.stdout, ", checkpoint %s size %d root %s", r.Checkpoint.Origin, r.Checkpoint.Size, r.Checkpoint.Hash)
	}
	if len(avs) > 0 {
		fmt.Fprintf(e.stdout, ", %d cosigned checkpoints", len(r.Cosigned))
	}
	fmt.Fprintln(e.stdout)
	if r.Recovered > 0 {
		fmt.Fprintf(e.stderr, "airlock log verify: note: %d bytes of torn tail (an interrupted append) were skipped\n", r.Recovered)
	}
	return exitOK
}

func runLogShow(ctx context.Context, e *env, args []string) int {
	c := logSubcommands()[2]
	fs := newFlags(e, c)
	dir := fs.String("dir", "", "log directory")
	asJSON := fs.Bool("json", false, "print JSON Lines: {\"index\":I,\"record\":{...}} per record (default: a table)")
	from := fs.Int64("from", 0, "first record index")
	to := fs.Int64("to", -1, "last record index (default: the last)")
	cp := fs.Bool("checkpoint", false, "print the stored signed checkpoint instead")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "airlock log show: --dir is required")
		fs.Usage()
		return exitError
	}
	if *cp {
		b, err := os.ReadFile(filepath.Join(*dir, auditlog.CheckpointFile))
		if err != nil {
			return logFail(e, c, exitError, "%v", err)
		}
		e.stdout.Write(b)
		return exitOK
	}
	l, err := auditlog.Open(*dir, nil)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	defer l.Close()
	last := l.Size() - 1
	if *to >= 0 && *to < last {
		last = *to
	}
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	var tw *tabwriter.Writer
	if !*asJSON {
		// A table for people: the whole record is in --json.
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		defer tw.Flush()
		fmt.Fprintln(tw, "INDEX\tTIME\tEVENT\tDEVICE/SESSION\tVERDICT")
	}
	for i := *from; i <= last; i++ {
		rec, err := l.Record(i)
		if err != nil {
			return logFail(e, c, exitError, "%v", err)
		}
		if *asJSON {
			fmt.Fprintf(w, "{\"index\":%d,\"record\":%s}\n", i, rec)
			continue
		}
		fmt.Fprintln(tw, logRow(i, rec))
	}
	return exitOK
}

// logRow is one record as a table row: index, time, event (type), device or session, and the
// verdict (verdict, result, or a failure's reason). Record text is the station's and the
// operator's: control characters are shown escaped, never sent to the terminal.
func logRow(i int64, rec []byte) string {
	var r map[string]json.RawMessage
	_ = json.Unmarshal(rec, &r) // every record is an object with a type: Open checked
	str := func(k string) string {
		var s string
		if json.Unmarshal(r[k], &s) == nil {
			return s
		}
		if v, ok := r[k]; ok {
			return string(v)
		}
		return ""
	}
	dev := str("device")
	var obj struct {
		Dev string `json:"dev"`
	}
	if json.Unmarshal(r["device"], &obj) == nil && obj.Dev != "" {
		dev = obj.Dev
	}
	who := dev
	if s := str("session"); s != "" {
		who = strings.TrimSpace(dev + " " + s)
	}
	verdict := str("verdict")
	for _, k := range []string{"result", "reason", "error"} {
		if v := str(k); v != "" {
			verdict = strings.TrimSpace(verdict + " " + v)
		}
	}
	cells := []string{fmt.Sprint(i), str("time"), str("type"), who, verdict}
	for j, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[j] = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '?'
			}
			return r
		}, c)
	}
	return strings.Join(cells, "\t")
}

func runLogProve(ctx context.Context, e *env, args []string) int {
	c := logSubcommands()[3]
	fs := newFlags(e, c)
	dir := fs.String("dir", "", "log directory")
	index := fs.Int64("index", -1, "record index: print its inclusion proof")
	old := fs.Int64("old", -1, "old tree size: print the consistency proof from it")
	size := fs.Int64("size", -1, "tree size to prove against (default: the stored checkpoint's)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() != 0 || (*index < 0) == (*old < 0) {
		fmt.Fprintln(e.stderr, "airlock log prove: --dir and exactly one of --index or --old are required")
		fs.Usage()
		return exitError
	}
	l, err := auditlog.Open(*dir, nil)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	defer l.Close()
	n := *size
	if n < 0 {
		b, err := os.ReadFile(filepath.Join(*dir, auditlog.CheckpointFile))
		if err != nil {
			return logFail(e, c, exitError, "no --size and no checkpoint: %v", err)
		}
		cp, err := auditlog.ParseSignedCheckpoint(b)
		if err != nil {
			return logFail(e, c, exitError, "%v", err)
		}
		n = cp.Size
	}
	if *index >= 0 {
		p, err := l.ProveInclusion(*index, n)
		if err != nil {
			return logFail(e, c, exitError, "%v", err)
		}
		fmt.Fprintf(e.stderr, "inclusion proof of record %d in the tree of size %d:\n", *index, n)
		e.stdout.Write(auditlog.FormatProof(p))
		return exitOK
	}
	p, err := l.ProveConsistency(*old, n)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	fmt.Fprintf(e.stderr, "consistency proof from tree size %d to %d:\n", *old, n)
	e.stdout.Write(auditlog.FormatProof(p))
	return exitOK
}

func runLogCosign(ctx context.Context, e *env, args []string) int {
	c := logSubcommands()[4]
	fs := newFlags(e, c)
	dir := fs.String("dir", "", "log directory")
	keyPath := fs.String("key", "", "auditor signer key (auditor.key)")
	vkey := fs.String("vkey", "", "log verifier key (log.vkey): the checkpoint must carry its signature")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted key")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" || *keyPath == "" || *vkey == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "airlock log cosign: --dir, --key and --vkey are required")
		fs.Usage()
		return exitError
	}
	signer, err := loadNoteSigner(*keyPath, *passFile)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	v, err := sealing.LoadNoteVerifier(*vkey)
	if err != nil {
		return logFail(e, c, exitError, "%v", err)
	}
	msg, cp, err := auditlog.Cosign(*dir, v, signer)
	if err != nil {
		return logFail(e, c, exitVerdict, "refusing to cosign: %v", err)
	}
	fmt.Fprintf(e.stderr, "cosigned checkpoint of size %d: %s\n", cp.Size, filepath.Join(*dir, auditlog.CosignedDir, strconv.FormatInt(cp.Size, 10)))
	e.stdout.Write(msg)
	return exitOK
}

// loadNoteSigner loads a note signing key (log.key, auditor.key), decrypting it with the
// passphrase in passFile when one is given.
func loadNoteSigner(keyPath, passFile string) (note.Signer, error) {
	pass, err := readPassphraseFlag(passFile)
	if err != nil {
		return nil, err
	}
	return sealing.LoadNoteSigner(keyPath, pass)
}
