package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

var sealCommand = command{
	name:    "seal",
	usage:   "--key SEAL_KEY --out DIR FILE|DIR...",
	summary: "write SHA256SUMS, its signature and the audit files",
}

func init() { sealCommand.run = runSeal }

func runSeal(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, sealCommand)
	keyPath := fs.String("key", "", "seal secret key (seal.key)")
	out := fs.String("out", "", "output tree: inputs are copied under DIR/bundle/, files already in DIR/AIRLOCK/ are sealed too")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted key")
	session := fs.String("session", "", "session ID for the trusted comment")
	station := fs.String("station", "", "station name for the trusted comment")
	policyHash := fs.String("policy-hash", "", "SHA-256 (hex) of the policy, for the trusted comment")
	policy := fs.String("policy", "", "policy file whose SHA-256 goes into the trusted comment (instead of --policy-hash)")
	logIndex := fs.String("log-index", "", "audit log index of the seal record (empty: none)")
	when := fs.String("time", "now", `seal time, RFC 3339 ("now", or "" for none)`)
	logDir := fs.String("log", "", "audit log directory: append a seal record, and write AIRLOCK/checkpoint, record.json and proofs (sets the log index)")
	logKey := fs.String("log-key", "", "audit log signer key (log.key), with --log")
	prevSize := fs.Int64("prev-size", -1, "tree size of the previous disc's checkpoint, to prove consistency from (default: remembered in the log directory)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "airlock seal: "+format+"\n", a...)
		return exitError
	}
	if *keyPath == "" || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "airlock seal: --key, --out and at least one FILE or DIR are required")
		fs.Usage()
		return exitError
	}
	info := sealing.SealInfo{Session: *session, Station: *station, PolicyHash: *policyHash, LogIndex: sealing.NoLogIndex}
	if *policy != "" {
		f, err := os.Open(*policy)
		if err != nil {
			return fail("%v", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fail("%s: %v", *policy, err)
		}
		info.PolicyHash = hex.EncodeToString(h.Sum(nil))
	}
	if *logIndex != "" {
		n, err := strconv.ParseInt(*logIndex, 10, 64)
		if err != nil || n < 0 {
			return fail("--log-index %q: not a non-negative integer", *logIndex)
		}
		info.LogIndex = n
	}
	switch *when {
	case "":
	case "now":
		info.Time = time.Now().UTC().Truncate(time.Second)
	default:
		t, err := time.Parse(time.RFC3339, *when)
		if err != nil {
			return fail("--time: %v", err)
		}
		info.Time = t.UTC()
	}
	pass, err := readPassphraseFlag(*passFile)
	if err != nil {
		return fail("%v", err)
	}
	key, err := sealing.LoadSealKey(*keyPath, pass)
	if err != nil {
		return fail("key: %v", err)
	}
	if *logDir != "" && (*logKey == "" || *logIndex != "") {
		return fail("--log needs --log-key, and sets the log index itself (no --log-index)")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail("%v", err)
	}
	bundle, err := sealing.CopyBundle(ctx, *out, fs.Args())
	if err != nil {
		return fail("%v", err)
	}
	if *logDir != "" {
		idx, err := logSeal(ctx, *out, *logDir, *logKey, pass, *prevSize, bundle, info)
		if err != nil {
			return fail("audit log %s: %v", *logDir, err)
		}
		info.LogIndex = idx
	}
	files, err := sealing.SealCopied(ctx, *out, bundle, key, info)
	if err != nil {
		return fail("%v", err)
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	fmt.Fprintf(e.stdout, "sealed %d files (%d bytes) in %s\n", len(files), total, *out)
	fmt.Fprintf(e.stdout, "check: minisign -Vm %s/SHA256SUMS -p seal.pub && (cd %s && sha256sum -c SHA256SUMS)\n", *out, *out)
	return exitOK
}

// logSeal appends the seal record for bundle to the log, signs a checkpoint, and writes the
// audit files under out/AIRLOCK/. It returns the record's index.
func logSeal(ctx context.Context, out, dir, keyPath, pass string, prev int64, bundle []sealing.File, info sealing.SealInfo) (int64, error) {
	signer, err := sealing.LoadNoteSigner(keyPath, pass)
	if err != nil {
		return 0, err
	}
	l, err := auditlog.Open(dir, signer)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	digest, err := sealing.BundleDigest(bundle)
	if err != nil {
		return 0, err
	}
	var bytes int64
	for _, f := range bundle {
		bytes += f.Size
	}
	rec := map[string]any{"type": "seal", "session": info.Session, "station": info.Station,
		"policy_sha256": info.PolicyHash, "bundle_files": len(bundle), "bundle_bytes": bytes, "bundle_sha256sums": digest}
	if !info.Time.IsZero() {
		rec["time"] = info.Time.Format(time.RFC3339)
	}
	idx, err := l.Append(ctx, rec)
	if err != nil {
		return 0, err
	}
	if _, err := sealing.WriteDiscAudit(l, dir, out, idx, prev); err != nil {
		return 0, err
	}
	return idx, nil
}
