// Package sealing holds the appliance's trust artefacts: role keys, signed SHA256SUMS seals,
// approver-signed allowlists, the append-only Merkle audit log with signed checkpoints, and
// sanitization certificates.
package sealing
