package sealing

import (
	"fmt"
	"strconv"

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
