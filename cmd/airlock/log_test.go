package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func runCLIStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return out.String(), errb.String(), code
}

func TestLogCLI(t *testing.T) {
	keys := keysFor(t, "appliance", "--name", "airlock.example/log")
	aud := keysFor(t, "auditor")
	dir := filepath.Join(t.TempDir(), "log")
	logKey, vkey := filepath.Join(keys, "log.key"), filepath.Join(keys, "log.vkey")
	for i, rec := range []string{`{"type":"boot"}`, `{ "type": "insert", "device": "sdb" }`, "-"} {
		out, errOut, code := runCLIStdin(t, `{"type":"wipe","ok":true}`, "log", "append", "--dir", dir, "--key", logKey, rec)
		if code != exitOK || strings.TrimSpace(out) != string(rune('0'+i)) {
			t.Fatalf("append %d: exit %d %q %q", i, code, out, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "log", "append", "--dir", dir, "--key", logKey, `{"no":"type"}`); code != exitError || !strings.Contains(errOut, "malformed record") {
		t.Errorf("record without type: exit %d %q", code, errOut)
	}
	if out, errOut, code := runCLI(t, "log", "verify", "--dir", dir, "--vkey", vkey); code != exitOK || !strings.Contains(out, "VALID: 3 records, checkpoint airlock.example/log size 3") {
		t.Fatalf("verify: exit %d %q %q", code, out, errOut)
	}
	// The checkpoint is a signed note x/mod/sumdb/note verifies.
	cpText, _, _ := runCLI(t, "log", "show", "--dir", dir, "--checkpoint")
	vk, _ := os.ReadFile(vkey)
	v, _ := note.NewVerifier(strings.TrimSpace(string(vk)))
	n, err := note.Open([]byte(cpText), note.VerifierList(v))
	if err != nil || !strings.HasPrefix(n.Text, "airlock.example/log\n3\n") {
		t.Fatalf("note.Open: %v %q", err, cpText)
	}
	cp, _ := auditlog.ParseCheckpoint([]byte(n.Text))
	// show --json gives the records as stored.
	out, _, code := runCLI(t, "log", "show", "--dir", dir, "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 3 {
		t.Fatalf("show --json: %q", out)
	}
	var row struct {
		Index  int64           `json:"index"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil || string(row.Record) != `{"device":"sdb","type":"insert"}` {
		t.Fatalf("show row: %v %q", err, lines[1])
	}
	// Without --json: a table with a header, one row per record.
	if out, _, _ := runCLI(t, "log", "show", "--dir", dir, "--from", "1"); !regexp.MustCompile(`^INDEX +TIME +EVENT +DEVICE/SESSION +VERDICT\n1 +- +insert +sdb +-\n2 +- +wipe +- +-\n$`).MatchString(out) {
		t.Errorf("show --from 1: %q", out)
	}
	// prove: inclusion of record 1 and consistency from 1, checked with tlog.
	out, errOut, code := runCLI(t, "log", "prove", "--dir", dir, "--index", "1")
	p, err := auditlog.ParseProof([]byte(out))
	if code != exitOK || err != nil {
		t.Fatalf("prove --index: exit %d %v %q", code, err, errOut)
	}
	if err := tlog.CheckRecord(p, 3, cp.Hash, 1, tlog.RecordHash(row.Record)); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	out, _, _ = runCLI(t, "log", "prove", "--dir", dir, "--old", "1")
	tp, _ := auditlog.ParseProof([]byte(out))
	if err := tlog.CheckTree(tp, 3, cp.Hash, 1, tlog.RecordHash([]byte(`{"type":"boot"}`))); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}
	// cosign, then verify with the auditor's key.
	out, errOut, code = runCLI(t, "log", "cosign", "--dir", dir, "--key", filepath.Join(aud, "auditor.key"), "--vkey", vkey)
	if code != exitOK {
		t.Fatalf("cosign: exit %d %q", code, errOut)
	}
	avk, _ := os.ReadFile(filepath.Join(aud, "auditor.vkey"))
	av, _ := note.NewVerifier(strings.TrimSpace(string(avk)))
	if n, err := note.Open([]byte(out), note.VerifierList(v, av)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned note: %v", err)
	}
	if out, errOut, code := runCLI(t, "log", "verify", "--dir", dir, "--vkey", vkey, "--auditor-vkey", filepath.Join(aud, "auditor.vkey")); code != exitOK || !strings.Contains(out, "1 cosigned checkpoints") {
		t.Fatalf("verify cosigned: exit %d %q %q", code, out, errOut)
	}
	// Cosigning with the wrong log key is refused.
	if _, errOut, code := runCLI(t, "log", "cosign", "--dir", dir, "--key", filepath.Join(aud, "auditor.key"), "--vkey", filepath.Join(aud, "auditor.vkey")); code != exitVerdict || !strings.Contains(errOut, "refusing to cosign") {
		t.Errorf("cosign with wrong vkey: exit %d %q", code, errOut)
	}
	// Tampering: an edited record is named by file and line.
	recs := filepath.Join(dir, "records")
	b, _ := os.ReadFile(recs)
	os.WriteFile(recs, bytes.Replace(b, []byte(`"sdb"`), []byte(`"sdc"`), 1), 0o644)
	if _, errOut, code := runCLI(t, "log", "verify", "--dir", dir, "--vkey", vkey); code != exitVerdict || !strings.Contains(errOut, "checkpoint does not match the records") {
		t.Errorf("edited record: exit %d %q", code, errOut)
	}
	os.WriteFile(recs, bytes.Replace(b, []byte(`"sdb"`), []byte(`"sdb" `), 1), 0o644)
	if _, errOut, code := runCLI(t, "log", "verify", "--dir", dir, "--vkey", vkey); code != exitVerdict || !strings.Contains(errOut, "records:2: malformed record") {
		t.Errorf("non-canonical record: exit %d %q", code, errOut)
	}
	// A torn tail is reported and removed by the next append.
	os.WriteFile(recs, append(b, `{"type":"to`...), 0o644)
	if _, errOut, code := runCLI(t, "log", "append", "--dir", dir, "--key", logKey, `{"type":"after"}`); code != exitOK || !strings.Contains(errOut, "removed a torn tail of 11 bytes") {
		t.Errorf("torn tail: exit %d %q", code, errOut)
	}
	if out, _, code := runCLI(t, "log", "verify", "--dir", dir, "--vkey", vkey); code != exitOK || !strings.Contains(out, "4 records") {
		t.Errorf("after recovery: %q", out)
	}
	// Usage errors.
	if _, _, code := runCLI(t, "log", "frob"); code != exitError {
		t.Errorf("log frob: exit %d", code)
	}
	if _, _, code := runCLI(t, "log", "prove", "--dir", dir); code != exitError {
		t.Errorf("prove without --index/--old: exit %d", code)
	}
}

func TestLogSubcommandHelp(t *testing.T) {
	for _, c := range logSubcommands() {
		sub := strings.TrimPrefix(c.name, "log ")
		out, _, code := runCLI(t, "log", sub, "--help")
		if code != exitOK || !strings.HasPrefix(out, "Usage: airlock log "+sub) {
			t.Errorf("log %s --help: exit %d %q", sub, code, out)
		}
	}
}
