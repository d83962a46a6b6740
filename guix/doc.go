// Package guix reads, verifies and signs the Guix artifacts that cross the air gap: NAR archives,
// "guix archive --export" streams, libgcrypt s-expressions, keys and ACLs, ECDSA signatures on
// Edwards25519, nix-base32 and store paths, byte-compatible with guix-daemon and stricter than it.
package guix
