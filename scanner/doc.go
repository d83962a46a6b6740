// Package scanner YARA-scans every file of a stick, recursing into Guix exports, NARs, tarballs and
// zips under explicit bomb limits, and makes the import decision from the scan, the signed allowlist
// and the Guix verification results.
package scanner
