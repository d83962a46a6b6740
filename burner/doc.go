// Package burner builds deterministic ISO9660 images in one streaming pass, burns them to write-once
// discs through xorriso (or stdio: pseudo-drives), reads them back to prove what was burned, and reads
// ISO images and discs as file systems for verification.
//
// # Writing an image
//
// A Layout is computed from a list of files before any byte is written, so its Size is known up
// front (a drive needs it before the burn starts). WriteTo then streams the image in one pass,
// opening each file when its extent comes; nothing is staged or copied.
//
//	l, err := burner.NewLayout([]burner.File{
//		{Path: "bundle/x.nar", Size: n, Open: func() (io.Reader, error) { return spool.Open("x.nar") }},
//		{Path: "SHA256SUMS", Size: int64(len(sums)), Open: func() (io.Reader, error) { return bytes.NewReader(sums), nil }},
//	}, burner.Options{Label: "AIRLOCK_0042", Epoch: sessionTime})
//	size := l.Size()
//	_, err = l.WriteTo(w)
//
// FromDir and FromFS lay out a directory tree. A file whose opener yields more or fewer bytes
// than its declared Size fails the write with ErrSizeMismatch.
//
// The same files and Options give the same bytes on any machine: every date is Options.Epoch
// (UTC), uid and gid are 0, files are mode 0444 and directories 0555, entries are sorted, and
// the volume identifier comes from the label. Nothing of the host (time zone, umask, file
// times or modes, directory order) reaches the image.
//
// # Image format
//
// ECMA-119 (ISO9660) at interchange level 3: a primary volume descriptor, L and M path tables,
// directory records with d-character identifiers that are unique within their directory even for
// a reader that strips ";1" and a trailing dot (collisions get "_N" suffixes, assigned in byte
// order of the original names). Files of 4 GiB and more are multi-extent: consecutive records of
// at most 0xFFFFF800 bytes each. Empty files have extent 0 and length 0.
//
// Rock Ridge (RRIP 1.09, SUSP 1.10): SP and ER (in a continuation area) on the root, and on every
// record PX (mode, links, uid/gid 0), TF (modify, access, change = epoch) and NM (the exact name,
// up to 255 bytes, split at UTF-8 boundaries when longer than 250). When they do not all fit in
// the 255-byte record, a CE entry, always last, points to a continuation area; the name stays
// inline whenever it fits. Each directory's extent is followed by the continuation areas of its
// records, which no area crosses a sector boundary of.
//
// Directories deeper than ECMA-119's 8 levels are written where they are, without Rock Ridge
// relocation (as xorriso does by default, its -D): every reader tested (Linux isofs in QEMU,
// isoinfo, xorriso, libarchive, 7-Zip, kdomanski/iso9660, go-diskfs and OpenISO) reads them in
// place, whereas relocation would show readers without Rock Ridge a different tree.
//
// There is no Joliet tree: Rock Ridge carries the names. Joliet caps names at 64 UCS-2
// characters, and readers that prefer it (7-Zip) would then show long names truncated.
//
// # Names
//
// A name goes onto a disc only if every reader on the high side (xorriso, bsdtar, 7-Zip,
// isoinfo -R, the Linux kernel's isofs, and airlock's own reader) shows it byte for byte:
// NewLayout refuses, with ErrBadName naming the path, a trailing '.' and a trailing ';' plus
// digits (7-Zip drops both, so "a.txt." would land on "a.txt" and "semi;1" on "semi"), control
// characters and '\' (CheckName, for callers that refuse earlier, such as the station's import).
// Names differing only in case or in Unicode normalization are kept on purpose: every one of
// those readers is case-sensitive and byte-exact (TestNamesReadBack). A name too long to stay in
// its directory record (about 150 bytes and more) is listed by 7-Zip, which ignores continuation
// areas, under its ISO 9660 name; that name never equals a sibling's name, so nothing merges.
//
// # Layout versions
//
// The bytes the writer produces for given files and Options are its layout. They are versioned
// (Options.Layout, CurrentLayout, Layouts): the version is recorded in the primary volume
// descriptor's application use field as "AIRLOCK LAYOUT n" (layout 1, the images written before
// versioning, leaves it zero), every released version is kept, and testdata/layout-n.iso is
// the committed image of each (TestLayoutImages: it still verifies and the writer still
// reproduces it). Changing the writer's bytes means a new version.
//
// # Reading images and discs
//
// Every ISO 9660 volume is read by airlock's one reader, internal/iso9660 (also media's, for
// images on sticks): the whole volume is validated first (bounds on depth, entries, directory
// and path bytes; extents inside the volume and never overlapping; no loops; Rock Ridge RE only
// on relocated directories), and what other readers would see (a Joliet tree, an El Torito boot
// record, zisofs files) is recorded. OpenISO returns an fs.FS over any io.ReaderAt (OpenFile
// opens an image file or device by path, VolumeSize tells how many bytes of a disc the image
// occupies): Rock Ridge names when present, else Joliet, else ISO9660 names. Errors wrap
// ErrBadImage; nothing panics (FuzzOpen in internal/iso9660).
//
// # Verifying a disc
//
// CheckImage (CheckDisc for a path) accepts an image only if it is byte for byte what the writer
// produces from the files it holds, its label, its epoch and its layout version: it lays the
// files out again and compares the system area, descriptors, path tables, directories and
// continuation areas in one streaming pass, the padding after every file, and the size. The file
// data are then where the writer puts them, and sealing.Verify hashes them over Checked.FS. Any
// other descriptor (Joliet, El Torito), tree, hidden record, session or sector is refused with an
// ImageDiffError (ErrNotWritten) naming the first differing byte and the structure it belongs
// to. airlock verify and the station's check-a-disc mode both run it; FuzzCheckImage checks that
// whatever it accepts is exactly the writer's output.
//
// # Burning
//
// Open returns a Drive: "/dev/srN" or "stdio:FILE" (a file pseudo-drive used by tests, driven by
// the same xorriso code). Status reads the medium natively (CDROM_DRIVE_STATUS, then MMC GET
// CONFIGURATION, READ DISC INFORMATION and READ TRACK INFORMATION over SG_IO) and falls back to
// xorriso -toc. CheckBurn refuses non-blank, rewritable (unless the Policy allows) and too small
// media. Burn runs
//
//	xorriso -as cdrecord -v dev=DEV -dao padsize=0 tsize=SIZE [speed=S] -
//
// with the image on standard input: write type DAO/SAO with the size announced, no padding, and
// no -multi so the disc is closed. BurnAndVerify does all of it and then ReadBack: exactly the
// image's size is read from the drive (reloaded first, so the kernel sees the new disc), hashed
// and compared with the sealed SHA-256; on a mismatch the first differing 2048-byte sector is
// reported (ErrMismatch).
package burner
