// Package guix reads, verifies and signs the Guix artifacts that cross the air gap: NAR archives,
// "guix archive --export" streams, libgcrypt s-expressions, keys and ACLs, ECDSA signatures on
// Edwards25519, nix-base32 and store paths, byte-compatible with guix-daemon and stricter than it.
// The byte-level formats are described in GUIX-FORMATS.md (shared with the project) and in the
// doc comments of each reader.
//
// # Judging an export
//
// VerifyExport reads a stream once, with constant memory, and judges every item as guix-daemon
// importing it would, in the daemon's order of checks:
//
//	acl, err := guix.ParseACL(aclFileBytes) // as /etc/guix/acl
//	rep, err := guix.VerifyExport(ctx, f, acl, alreadyOnHighSide)
//	if err != nil {
//		return err // could not read f (or ctx was cancelled): no verdict
//	}
//	for _, it := range rep.Items {
//		fmt.Println(it.StorePath, it.Outcome, it.Reason) // valid, unsigned, unauthorized-key, ...
//	}
//	if !rep.Accept { ... } // some item is not valid, or rep.Stream is not complete
//
// For one item's verdict from its metadata alone, ACL.Judge is a pure function of an ItemInfo.
//
// VerifyExport is a loop around Judge, the one owner of the rule: items in (ExportReader's, each
// NAR optionally walked first, as the scanner walks it for YARA), one ExportReport out, with
// every reason kept and the stream bounded (MaxStreamItems, MaxStreamReferences). The scanner's
// Result.Guix and `airlock guix verify` print that same report.
//
// # Reproducibility quorum
//
// A Quorum (NewQuorum; builder lists are read by ParseBuilders) names independent builders and
// k. A QuorumJudge takes each builder's export (AddExport, each NAR read once) or narinfo
// (AddNarinfo; ParseNarinfo and MarshalNarinfo follow guix/narinfo.scm and guix publish) and
// approves a store item when k distinct builders vouch for an identical NAR hash, size and
// reference set and an export carries NAR bytes hashing to it; any disagreement between
// builders rejects the item, naming both. Content-addressed (fixed-output) items need no
// quorum. ExportWriter writes export streams (builder exports in tests) and ResignFile
// re-signs an approved export in place with the appliance's key.
//
// # Streaming readers
//
// ExportReader yields items; each item's NAR can be walked while streaming (ExportItem.NAR,
// like archive/tar) before ExportItem.Trailer returns the store path, references, deriver,
// signature and the SHA-256 of the NAR and of the signed span. NARReader reads a standalone
// NAR. Both are strict: every rule violation is a *FormatError naming the offset, the path
// inside the NAR and the Rule, wrapping ErrMalformed (or io.ErrUnexpectedEOF when truncated;
// ErrTrailingData after an export's end marker).
//
// # Keys and signatures
//
// Guix keys are ECDSA keys on the Ed25519 curve, not EdDSA keys. GenerateKey makes one as
// `guix archive --generate-key` does; PrivateKey.MarshalText and PublicKey.MarshalText write
// the files Guix writes (signing-key.sec, signing-key.pub), and ParsePrivateKey,
// ParsePublicKey read them. PrivateKey.Sign produces the signature s-expression byte for byte
// as libgcrypt would (RFC 6979 nonces are deterministic), and ResignExport replaces every
// item's signature with the appliance's, so the high side needs to authorize only the
// appliance's key.
//
// # Hashes and store paths
//
// EncodeBase32 and DecodeBase32 are nix-base32 (what `guix hash` prints). DumpPath writes the
// NAR of a file tree as nix-store --dump does. SourceStorePath and FlatStorePath compute
// fixed-output store paths; CheckFlatFixedOutput checks a source tarball against one.
package guix
