// Package media touches block devices: it watches kernel uevents, identifies and guards devices,
// authorizes only USB mass-storage interfaces, reads partition tables and filesystems in userspace
// without mounting, and wipes, verifies and reformats sticks.
//
// Everything on a stick from the low side is hostile. Nothing here mounts it or hands its bytes to
// a kernel filesystem driver: the partition table (MBR with extended partitions, GPT, or none) and
// the filesystems (FAT12/16/32 with long names, ISO9660 with Rock Ridge and multi-extent files) are
// parsed by the small readers under internal/, which validate every structure before a byte of
// file data is served and bound everything a hostile volume could make them allocate.
//
// # Reading a stick
//
//	fsys, closer, err := media.OpenFS(ctx, "/dev/sdb") // O_RDONLY + BLKROSET; images work too
//	switch {
//	case errors.Is(err, media.ErrUnsupported): // "unsupported filesystem: exFAT" (NTFS, ext4, LUKS, ...)
//	case errors.Is(err, media.ErrNoFilesystem): // a blank stick
//	case errors.Is(err, media.ErrCorrupt): // "corrupt filesystem: FAT32: cluster 77 cross-linked ..."
//	case err != nil: // I/O
//	}
//	defer closer.Close()
//	fs.WalkDir(fsys, ".", ...) // with several filesystems, each is a directory "partN"
//
// Open returns the same as a *Medium that also names the partition scheme and the volumes.
//
// What a stock reader on the high side would see is the reference: a FAT volume that fsck.fat -n
// reports (chains longer or shorter than their file, "." and ".." not first, duplicate or bad short
// names, FAT copies that differ, FAT[0] without the media byte, lost clusters, orphan or
// mismatched long names) is refused, and so is anything on which Linux, mtools and 7z would list
// different files or names (entries after the end-of-directory mark, long-name padding, short
// names whose characters depend on the code page), and partition tables that readers pick
// differently (hybrid MBRs, a GPT behind a plain MBR, a FAT boot sector that is also an MBR). A
// tree beyond the bounds is refused with a sentinel that names the bound: ErrTooDeep,
// ErrTooManyEntries, ErrPathBytes (all paths together), ErrPathTooLong (PATH_MAX),
// ErrNameTooLong (NAME_MAX), ErrTooFragmented; each also matches ErrCorrupt.
//
// # Devices
//
// Watch reports disks and partitions as they come and go (kernel uevents through go-udev's
// netlink socket, a coldplug walk of sysfs, one debounced worker per device); loop devices, which
// only ever send "change" events, are reported as inserted and removed when AllowLoop is set.
// Identify describes a disk from sysfs and the block ioctls. Guard.Check admits only removable
// USB mass storage (loop devices in test mode), never the boot or audit-log medium or anything
// mounted, and every refusal names its rule. USBAuthorizer keeps BadUSB devices (a "stick" that is
// also a keyboard or a network card) unauthorized so that no driver binds to them.
//
// # Sanitizing
//
// Wipe overwrites and reads back a whole device (zero, random AES-256-CTR, dod3 or discard;
// full or sampled verification) with large aligned O_DIRECT I/O; a device that disappears
// mid-job yields "device removed at offset N" and a FAILED report, never a success. Reformat
// writes an MBR with one FAT32 partition at 1 MiB (the formatter is internal/fat: fsck.fat -n
// exits 0 on its output). Sanitize does both and writes the signed sanitization certificate
// (sealing.Certificate: certificate.txt, certificate.json, certificate.json.minisig) into the new
// filesystem's root:
//
//	res, err := media.Sanitize(ctx, "/dev/sdb", media.SanitizeOptions{
//		Wipe:     media.WipeOptions{Method: media.MethodZero, Verify: media.VerifyFull},
//		Format:   true, Label: "AIRLOCK", Key: sealKey, Identity: id,
//		Info:     media.CertInfo{ID: session, Station: station, Operator: op, AuditLogIndex: -1},
//	})
//	// res.Certificate (PASSED or FAILED), res.JSON and res.Sig for the audit log, even when err != nil.
package media
