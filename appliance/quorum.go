package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/scanner"
)

// BasisQuorum approves the Guix store items that k of n independent builders vouch for
// (issue 17): the export that crosses is the one carrying their NARs, rewritten with exactly
// the approved items and re-signed with the appliance's key.
const BasisQuorum = "guix-quorum"

// RecordQuorum is the audit record of a quorum judgement: every input, every item, every
// builder's vote.
const RecordQuorum = "guix-quorum"

// isQuorumInput says whether a top-level file takes part in the quorum: a Guix export stream
// (as the scanner recognized it) or a narinfo file.
func isQuorumInput(r *scanner.Result) bool {
	return r.Type == scanner.TypeRegular && (strings.HasPrefix(r.Format, scanner.FormatExport) || strings.HasSuffix(r.Path, ".narinfo"))
}

// judgeQuorum judges, in this process and over the spooled bytes, every export and narinfo
// of the stick under the policy's quorum. It returns nil when the policy has no quorum or
// the stick no input.
func (im *ScanImporter) judgeQuorum(ctx context.Context, results []scanner.Result, spoolDir string) (*guix.QuorumReport, map[string]string, error) {
	if im.Quorum == nil {
		return nil, nil, nil
	}
	j := guix.NewQuorumJudge(im.Quorum, im.Present)
	problems := map[string]string{}
	n := 0
	for i := range results {
		r := &results[i]
		if !isQuorumInput(r) || r.SHA256 == "" {
			continue
		}
		n++
		f, err := os.Open(filepath.Join(spoolDir, filepath.FromSlash(r.Path)))
		if err != nil {
			return nil, nil, fmt.Errorf("spool: %w", err)
		}
		err = j.AddFile(ctx, r.Path, f)
		f.Close()
		if errors.Is(err, guix.ErrNotQuorumInput) {
			problems[r.Path] = err.Error()
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("guix quorum: %w", err)
		}
	}
	if n == 0 {
		return nil, nil, nil
	}
	return j.Report(), problems, nil
}

// quorumReasons lists why the quorum rejects: every item not approved (mismatches name both
// builders and both claims) and every input that counts for nothing.
func quorumReasons(rep *guix.QuorumReport) []string {
	var out []string
	for _, f := range rep.Files {
		if f.Problem != "" {
			out = append(out, fmt.Sprintf("guix quorum: %s counts for nothing: %s", f.Name, f.Problem))
		}
	}
	for _, it := range rep.Items {
		if it.Verdict == guix.QuorumApproved || it.Verdict == guix.QuorumFixedOutput {
			continue
		}
		// A mismatch's reason names both builders, their files and both claims (guix.QuorumJudge).
		out = append(out, fmt.Sprintf("guix quorum: %s: %s (k=%d, vouched by %d: %s): %s", it.StorePath, it.Verdict, it.K,
			len(it.Vouchers), strings.Join(it.Vouchers, ", "), it.Reason))
	}
	if len(rep.Items) == 0 {
		out = append(out, "guix quorum: no store item")
	}
	return out
}

// maxQuorumRecordItems bounds the JSON of the items one quorum record carries: a closure of
// thousands of items is logged in parts, each well under auditlog.MaxRecordSize.
const maxQuorumRecordItems = 256 << 10

// quorumRecords are the audit records of rep: per item the verdict, k, the vouchers and every
// vote (file, builder, outcome, NAR hash), and per input whether it is burned. The first
// record ("guix-quorum") has the verdict and the inputs; the items follow in parts
// ("guix-quorum-items") when they do not fit in it.
func quorumRecords(rep *guix.QuorumReport, carrier string, inputs map[string]string, accepted bool) []Record {
	one := quorumRecord(rep, carrier, inputs, accepted)
	items, _ := one.Fields["items"].([]map[string]any)
	var parts [][]map[string]any
	size := 0
	for _, it := range items {
		b, _ := json.Marshal(it)
		if len(parts) == 0 || (size+len(b) > maxQuorumRecordItems && len(parts[len(parts)-1]) > 0) {
			parts = append(parts, nil)
			size = 0
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], it)
		size += len(b) + 1
	}
	if len(parts) <= 1 {
		return []Record{one}
	}
	one.Fields["items"] = parts[0]
	one.Fields["part"], one.Fields["parts"] = 1, len(parts)
	out := []Record{one}
	for i, p := range parts[1:] {
		out = append(out, Record{Type: RecordQuorum + "-items", Fields: map[string]any{"part": i + 2, "parts": len(parts), "items": p}})
	}
	return out
}

// quorumRecord is the whole judgement as one record (quorumRecords splits it).
func quorumRecord(rep *guix.QuorumReport, carrier string, inputs map[string]string, accepted bool) Record {
	var items []map[string]any
	for _, it := range rep.Items {
		var votes []map[string]any
		for _, v := range it.Votes {
			vote := map[string]any{"file": v.File, "outcome": string(v.Outcome), "nar_sha256": v.NARHash,
				"nar_size": v.Claim.NARSize, "carries_nar": v.Bytes}
			if v.Builder != "" {
				vote["builder"] = v.Builder
			}
			if v.Reason != "" {
				vote["reason"] = v.Reason
			}
			votes = append(votes, vote)
		}
		item := map[string]any{"store_path": it.StorePath, "k": it.K, "verdict": string(it.Verdict),
			"vouchers": it.Vouchers, "votes": votes, "reason": it.Reason}
		if it.NARHash != "" {
			item["nar_sha256"] = it.NARHash
		}
		if m := it.Mismatch; m != nil {
			item["mismatch"] = map[string]any{"builder_a": m.BuilderA, "claim_a": m.ClaimA, "builder_b": m.BuilderB, "claim_b": m.ClaimB}
		}
		items = append(items, item)
	}
	var files []map[string]any
	for _, f := range rep.Files {
		e := map[string]any{"file": f.Name, "kind": f.Kind, "items": f.Items, "sha256": inputs[f.Name],
			"burned": accepted && f.Name == carrier}
		if f.Problem != "" {
			e["problem"] = f.Problem
		}
		files = append(files, e)
	}
	verdict := "rejected"
	if accepted {
		verdict = "approved"
	}
	return Record{Type: RecordQuorum, Fields: map[string]any{"verdict": verdict, "carrier": carrier,
		"items": items, "inputs": files}}
}

// rewriteCarrier replaces the carrier export in the spool by the export of exactly the
// approved items, re-signed with the appliance key (guix.WriteApproved), and returns the new
// file's SHA-256 and size: what is sealed and burned.
func rewriteCarrier(ctx context.Context, spoolDir, carrier string, rep *guix.QuorumReport, key *guix.PrivateKey) (string, int64, error) {
	p := filepath.Join(spoolDir, filepath.FromSlash(carrier))
	in, err := os.Open(p)
	if err != nil {
		return "", 0, fmt.Errorf("spool: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".quorum-*")
	if err != nil {
		return "", 0, fmt.Errorf("spool: %w", err)
	}
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	err = guix.WriteApproved(ctx, cw, rep, carrier, in, key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, fmt.Errorf("guix quorum: re-signing %s: %w", carrier, err)
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
