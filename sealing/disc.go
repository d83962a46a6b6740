package sealing

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// DiscAudit builds the AIRLOCK/ audit files that tie a disc to the audit log: the signed
// checkpoint, the seal record and its inclusion proof, and consistency proofs from earlier tree
// sizes to the checkpoint: the first of oldSizes (the previous disc's) as proofs/consistency +
// proofs/previous-size, any further ones as proofs/consistency-SIZE. The appliance appends the seal
// record, signs a checkpoint, calls DiscAudit, puts the files in the tree, then seals with
// SealInfo.LogIndex = index.
func DiscAudit(l *auditlog.Log, checkpoint []byte, index int64, oldSizes ...int64) (map[string][]byte, error) {
	c, err := auditlog.ParseSignedCheckpoint(checkpoint)
	if err != nil {
		return nil, err
	}
	rec, err := l.Record(index)
	if err != nil {
		return nil, err
	}
	incl, err := l.ProveInclusion(index, c.Size)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		CheckpointPath: checkpoint,
		RecordPath:     rec,
		InclusionPath:  auditlog.FormatProof(incl),
	}
	for i, m := range oldSizes {
		if m <= 0 || m > c.Size {
			continue // nothing to prove from an empty tree; a larger one is not this log's past
		}
		p, err := l.ProveConsistency(m, c.Size)
		if err != nil {
			return nil, fmt.Errorf("consistency proof %d -> %d: %w", m, c.Size, err)
		}
		if i == 0 {
			files[PrevConsistency] = auditlog.FormatProof(p)
			files[PrevSizePath] = []byte(strconv.FormatInt(m, 10) + "\n")
		} else {
			files[ConsistencyPath(m)] = auditlog.FormatProof(p)
		}
	}
	return files, nil
}

// LastDiscFile is the file, in the audit log's directory, that keeps the tree size of the last
// disc's checkpoint, so that the next disc carries a consistency proof from it. The station and
// `airlock seal --log` keep the same file through WriteDiscAudit.
const LastDiscFile = "airlock-last-disc-size"

// WriteDiscAudit ties the next disc to the log: it signs a checkpoint of l, writes DiscAudit's
// files for the record at index under root (the folder that becomes the disc's root), and then
// records the checkpoint's size in logDir's LastDiscFile. prev, when not negative, is the
// previous disc's tree size to prove consistency from, in place of the one in LastDiscFile
// (`airlock seal --prev-size`). It returns the checkpoint's tree size.
func WriteDiscAudit(l *auditlog.Log, logDir, root string, index, prev int64) (int64, error) {
	cp, err := l.Checkpoint()
	if err != nil {
		return 0, fmt.Errorf("audit log checkpoint: %w", err)
	}
	c, err := auditlog.ParseSignedCheckpoint(cp)
	if err != nil {
		return 0, err
	}
	if prev < 0 {
		prev = 0 // the first disc of a log proves no consistency
		if b, err := readlimit.File(filepath.Join(logDir, LastDiscFile), 64); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				prev = n
			}
		}
	}
	files, err := DiscAudit(l, cp, index, prev)
	if err != nil {
		return 0, err
	}
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return 0, err
		}
	}
	// Replaced atomically: a torn size would cost the next disc its consistency proof.
	last := filepath.Join(logDir, LastDiscFile)
	tmp := last + ".tmp"
	if err := writeFileSync(tmp, []byte(strconv.FormatInt(c.Size, 10)+"\n")); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, last); err != nil {
		return 0, err
	}
	return c.Size, nil
}
