// Package burner builds deterministic ISO9660 images in one streaming pass, burns them to write-once
// discs through xorriso (or stdio: pseudo-drives), reads them back to prove what was burned, and reads
// ISO images as file systems for verification.
package burner
