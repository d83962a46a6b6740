// Package sealing holds the appliance's trust artefacts: role keys, signed SHA256SUMS seals,
// approver-signed allowlists, sanitization certificates, and (in sealing/auditlog) the
// append-only Merkle audit log with signed checkpoints. Everything it signs verifies with stock
// tools: `minisign -Vm SHA256SUMS -p seal.pub && sha256sum -c SHA256SUMS`.
//
// Keys (GenerateKeys; `airlock keygen`): one identity per role. The appliance has a minisign seal
// key (seals, certificates), a note key for audit checkpoints and a Guix signing key; an approver
// has a minisign key for allowlists; an auditor a note key for cosigning checkpoints.
//
//	key, err := sealing.LoadSealKey("keys/seal.key", passphrase)
//
// Seals. A sealed tree holds bundle/ (the approved files), AIRLOCK/ (report, audit files),
// SHA256SUMS listing every other file in GNU coreutils format, and SHA256SUMS.minisig whose
// trusted comment carries session, station, time, policy hash and audit log index (SealInfo).
// The appliance, which hashed every file while reading it, signs its known hashes directly:
//
//	manifest, sig, err := sealing.SignManifest(files, key, info)
//
// or lets SealDir hash a spool directory (in parallel) and write both files into it.
//
// Verification works over any fs.FS (a directory, or an ISO image through package burner), and
// returns *VerifyError values that name the file and line and wrap one sentinel per failure
// kind (ErrHashMismatch, ErrExtraFile, ErrMissingFile, ErrBadSignature, ErrWrongKey,
// ErrRollback, ErrFork, ...):
//
//	prev, _ := sealing.LoadState(stateDir)
//	res, err := sealing.Verify(ctx, fsys, sealing.VerifyOptions{Trusted: pubs, Previous: prev})
//	if err == nil && res.CheckpointMsg != nil { sealing.SaveState(stateDir, res.CheckpointMsg) }
//
// The audit files a disc carries (DiscAudit builds them): AIRLOCK/checkpoint, AIRLOCK/record.json
// (the seal record), AIRLOCK/proofs/inclusion, and AIRLOCK/proofs/consistency with
// AIRLOCK/proofs/previous-size (plus optional AIRLOCK/proofs/consistency-SIZE). Since the
// manifest covers them, the seal signature authenticates them too.
//
// Allowlists (Allowlist; `airlock allow`): "SHA256  SIZE  NAME" lines signed by an approver;
// LoadAllowlist refuses an unsigned, altered or wrongly-signed list whole, and Lookup answers
// the scanner's question "is this exact file approved?".
//
// Certificates (Certificate): NIST SP 800-88 §4.8 fields, canonical JSON, minisign signature,
// and a printable Text.
//
// Every parser of untrusted bytes here is bounded and fuzzed.
package sealing
