// Package scanner YARA-scans every file of a stick, recursing into Guix exports, NARs, tarballs,
// zips, ar and cpio archives, ISO 9660 images and compressed streams under explicit bomb limits,
// and makes the import decision from the scan, the signed allowlist and the Guix verification
// results.
//
// # Use
//
//	rules, err := scanner.CompileFiles("rules/airlock.yar") // errors name file:line
//	defer rules.Destroy()
//	s := scanner.New(rules, scanner.Options{Spool: spool, Guix: acl})
//	results, err := s.ScanAll(ctx, stickFS, ".")  // stickFS: media.OpenFS, os.DirFS, ...
//	decisions := scanner.Decide(results, allowlist) // pure: approved only if clean all the way
//	                                                // down AND (allowlisted OR valid Guix export)
//	scanner.NewReport(results, decisions).WriteJSON(w)
//
// # One read per byte
//
// Each top-level file is read from the source exactly once, sequentially. The same read feeds
// SHA-256 and a random-access copy: the caller's Spooler (the appliance's RAM spool, from which
// it later burns exactly the bytes that were approved) or, without one, the scanner's own copy
// (memory within Options.MemoryBudget, else an unlinked temporary file in Options.TempDir).
// Everything after that — the YARA scan, zip central directories (which sit at the end of a
// file and need random access), descent into archives — reads the copy, never the source. So
// a device that answers differently on a second read has no second read to answer, and the
// spooled bytes are the scanned bytes.
//
// # Walk: what airlock sees, what it refuses, and why
//
// The rule: airlock's view of a file includes everything any stock extractor on the high side
// (GNU tar, bsdtar/libarchive, Info-ZIP unzip, 7z, cpio, ar/dpkg, uudecode) would produce
// from it. Where it cannot be sure it saw all of that, the file is Unscannable (refused, even
// when allowlisted or ACL-signed), never clean. Formats are recognized by content, never by
// name. Every file at every level, containers included, is scanned; inner files are named
// "outer!inner", e.g. "bundle.export!/gnu/store/…-hello/bin/hello" or
// "src.tar.gz!pkg/docs.zip!index.html".
//
// Walked (descended into):
//   - gzip (multi-member; trailing garbage as gzip -d takes it: what precedes is decoded, the
//     garbage is scanned in the file's own bytes), bzip2 (likewise), xz, zstd (a skippable
//     frame first included), legacy .lzma (LZMA-alone has no magic: a header of the shape lzma
//     writes whose first 32 KiB decode is taken for one, walked, and also scanned as it is; a
//     stream that then fails to decode is refused). A compressed tar is walked as a tar; other
//     compressed content is one inner file named after the outer one less its suffix.
//   - tar (POSIX, pax, GNU, v7, star), read by archive/tar while a second parser (tarview.go)
//     reads the same bytes as GNU tar does: numeric fields as GNU's from_header (one leading
//     NUL, spaces, octal up to a NUL or space, base-256), signed or unsigned checksums, the
//     ustar prefix whenever the magic is "ustar\0", long names, pax path and size. A member
//     the two see differently (name, type, size) makes the tar unscannable: the tools would
//     find different files in the same bytes. The data of every member that has data is
//     scanned whatever its type letter says (contiguous '7', unknown letters: GNU tar and bsdtar
//     write them as regular files); a link, directory or device with a size is refused (tools
//     disagree on whether data follows). Members after the end-of-archive marker are walked,
//     as GNU tar -i extracts them; other bytes there are refused in a compressed tar (no scan
//     saw them) and accepted in a plain one (scanned with the file, written by no tool).
//   - zip, read by airlock's own reader (internal/zipr), which reads both views of the archive:
//     the central directory (unzip, 7z, seekable libarchive) and the local headers (a streaming
//     reader such as bsdtar on a pipe). Refused after every entry was scanned: any
//     disagreement between them (method, flags, sizes, CRC, name), bytes between, before or
//     after the entries that no central entry accounts for (where a streaming reader looks for
//     more), overlapping entries (one stored member listed 300 times), bytes after the end
//     record, a local header in the bytes before an appended zip, a Unicode Path extra field
//     (libarchive's name) that differs from the header name, a '\' (Info-ZIP makes it a
//     separator for some creators), a NUL or non-UTF-8 byte in a name. The data of every entry
//     that has data is scanned whatever its attributes claim (a FIFO from "zip -" reading
//     stdin, a directory, socket or device mode, an MS-DOS directory attribute without a
//     trailing '/': unzip and bsdtar write a regular file with those bytes), and such a claim
//     is refused besides. Methods stored, deflate, bzip2, zstd and xz are decoded, each entry
//     checked against its CRC-32 and size; others are unscannable. Stored bytes count against
//     the expansion limits. A zip after other bytes (self-extractors, polyglots, a text
//     prefix; also followed by trailing bytes) is found by its end record, as unzip finds it
//     (Format "zip-appended").
//   - NAR and Guix export streams (through package guix, whose strict readers refuse anything
//     that breaks the format).
//   - ar (.deb: its data.tar.xz and control.tar.gz are walked; GNU and BSD long names) and cpio
//     (newc, crc, odc, binary of both byte orders). A cpio member's data is scanned whatever
//     its mode says (a directory or device with data is refused besides); what follows the
//     trailer is walked as further archives or as an inner file of its own, the way the
//     kernel unpacks an initramfs of concatenated, partly compressed, archives.
//   - uuencoded and begin-base64 blocks anywhere in a text file (the whole file if it is in
//     memory, else its first MiB), decoded as uudecode writes them: "NAME (uudecoded)".
//   - tar extension headers: the data of GNU long-name ('L', 'K') and pax ('x', 'g') headers is
//     an inner file of its own, named by the header ("././@LongLink", "PaxHeaders/x": cpio
//     writes them as such files), and so is the stored data of a sparse member, map and
//     fragments unexpanded (7z writes "GNUSparseFile.N/x" so). A size field that starts with
//     NUL (or \n\v\f\r) and holds digits refuses the tar: GNU tar and archive/tar read the
//     digits, bsdtar and cpio read 0 and find other members in the same bytes.
//   - archives after junk, as the tools that skip junk find them (Format "tar-appended",
//     "cpio-appended"): GNU tar reads any file in 512-byte blocks and skips to the first block
//     that is a checksummed header; GNU cpio skips bytes up to the first cpio header. In a file
//     of no other format, the first 64 MiB are searched for such a tar header, or a cpio
//     header from which a whole archive parses to its trailer (a stray two-byte binary magic
//     does not make a file an archive). After a tar's end marker, junk blocks are skipped as
//     tar -i skips them; junk between cpio members refuses the archive (GNU cpio and bsdtar
//     skip it). 7z opens more after junk: a ustar tar at any offset, and a gzip, bzip2, xz or
//     zstd stream anywhere in its first 5 to 17 MiB (measured with 7-Zip 26.02); the first 64
//     MiB are searched for those too, and a stream whose header reads and from which some
//     bytes decode (7z writes those even when the rest is corrupt) is an inner file "(gzip at offset N)" from its first byte to the end of the
//     file, walked as such (Format "embedded"). Not searched: beyond 64 MiB, v7 tar headers at
//     unaligned offsets, and anything after the first archive found.
//   - ISO 9660 images (Format "iso9660", read by internal/iso9660, which refuses overlapping
//     extents, loops and names readers disagree on): every file of the Rock Ridge tree
//     (bsdtar, the kernel) under its Rock Ridge name (the plain ISO 9660 names of the same
//     records read the same extents), and every file of the Joliet tree (7z, isoinfo -J) whose
//     extents no Rock Ridge file has, named "… (Joliet tree)". Files sharing their extents
//     exactly (hard links, deduplicated copies) are scanned once and recorded as hard links;
//     recorded bytes count against the expansion limits. A zisofs file is scanned as recorded
//     (7z writes it so) and decompressed ("… (zisofs-decompressed)", as bsdtar and a mount show
//     it; each block checked against the block size and the ZF size). An El Torito boot record
//     refuses the image after its files were scanned: 7z extracts the boot image as a file of
//     its own, which airlock does not walk.
//
// Links and special files are recorded (File.Type, File.Target), never followed or opened; a
// zip symlink's target is scanned like data. Directories are not reported.
//
// Refused (scanned as bytes, then Unscannable with the reason, so the report still names a
// YARA match in them): 7z, RAR, CAB, lzip, LZ4, compress (.Z), squashfs, RPM, xar, WIM,
// Snappy, LHA/LZH by their magic at offset 0; 7z, RAR and CAB archives inside PE and ELF
// executables (self-extractors, which 7z opens by searching for the signature), found by
// signature within the first 64 MiB and confirmed by the format's checked header (the 7z
// start-header CRC, the RAR archive-header CRC, CAB's fixed fields), so that a program holding
// the signatures as constants (libarchive, 7z itself) is not refused; UDF images and ISO/UDF
// bridge images (a UDF volume recognition sequence from sector 16: 7z reads the UDF tree,
// which airlock has no reader for); a zip whose first local header is also a valid tar header
// (tar readers see other members); a file starting with an ASCII cpio magic whose header does
// not parse (GNU cpio extracts from it anyway, after "Malformed number"). Compressed data elsewhere inside other formats (PDF
// streams, say) is not looked for.
//
// Why 7z and RAR are refused rather than walked: github.com/bodgit/sevenzip and
// github.com/nwaples/rardecode/v2 are pure Go and maintained, but each is one more
// decompressor family (LZMA, LZMA2, PPMd, BCJ2, Deflate64 for 7z; RAR's own LZ, PPMd and
// filter VM for RAR) to trust against hostile input, without a reference decoder in the loop
// to say that they read an archive as 7z and unrar do (7z's solid blocks, RAR's multi-volume
// and recovery records leave room for views to differ, and a differential is a scan evasion).
// The formats are rare on an air-gapped Guix site, and a site that needs one can convert it on
// the low side to a tar. Walking them is deferred until the differential harness can judge
// those readers against 7z. What refusal does, measured by TestOpaqueArchives: 20 7z archives
// (7z with LZMA2, LZMA, PPMd, BZip2, Deflate, Copy, solid, encrypted headers; bsdtar's 7zip
// writer), 4 RAR (RAR 4 and RAR 5 headers) and 2 CAB inputs, clean and with EICAR: all 26 are
// Unscannable with the format named in the reason, and the 4 that hold EICAR in the clear also
// name the rule (the file's own bytes are scanned), as the yara CLI does.
//
// Names: a path component over NAME_MAX (255 bytes) or an entry path over PATH_MAX (4096)
// cannot be created by any extractor, so tools disagree on it: LimitHit "name-length", and the
// archive's walk stops there. The paths of one top-level file's inner files are bounded in
// total (Limits.MaxPathBytes, 32 MiB by default, "path-bytes"): every path is held in the
// report, and a 9 MB NAR of 50,000 empty files under 3.8 KB of directories took 304 MB RSS to
// scan and 1.1 GB to print as JSON (now 85 MB and 230 MB, the limit striking after 8,702).
//
// Which rules see a container whole: a plain tar, zip, ar or cpio is scanned as one file (rules
// matching whole archives, by hash or layout, work, and a member some other extractor would find
// where airlock's reader did not is still seen as bytes) and then file by file. A NAR or a Guix
// export is scanned file by file only: on the high side it becomes nothing but the store files
// guix-daemon writes, airlock's reader refuses any stream the daemon would read differently, and
// a whole-stream scan would both double the work on the main payload and judge file-level
// conditions ("is not ELF") against the stream, rejecting every export that holds glibc.
// Compressed streams are scanned whole only with Options.ScanCompressed (their bytes are noise
// to string rules); legacy .lzma always is, since its detection is a guess.
//
// # Concurrency
//
// Options.Workers (default: the number of cores) take top-level files in parallel, each with
// its own libyara scanner and memory arena. Decompressing one archive is serial, so the worker
// reading it hands its plain inner files to the others (small ones copied into a shared 8 MiB
// ring, large ones lent where the reader stored them: its arena or its temporary file) and scans
// only what no one else is free to take; a container's own scan (a tar's or a Guix export's
// bytes as a whole) also runs on another worker while the reader walks it. A stick holding one
// big tarball or export keeps every core busy. Results are the same as a single worker's.
//
// # Verdicts
//
// Clean, Match (rule, namespace, tags and the identifiers of the strings that matched),
// Unscannable (encrypted zip entries, unsupported zip methods, corrupt or truncated archives,
// archives two tools would read differently, opaque containers, data after the end of a
// compressed tar or an export stream, read errors; always with the reason) and LimitHit
// (File.Limit names the limit: depth, expansion-ratio, expanded-bytes, entries, entry-size,
// decompressor-memory, timeout, name-length, path-bytes). A limit stops the walk where it strikes and is
// recorded on the file where it struck: nothing is skipped silently. Result.Worst is the worst
// verdict of a top-level file and everything inside it.
//
// # Large files and libyara's memory blocks
//
// A file that fits the worker's memory budget is scanned as one buffer (exactly what the yara
// CLI does with its mmap). A larger one is scanned through libyara's memory-block iterator
// from the random-access copy, in blocks of Options.BlockSize, so memory stays bounded whatever
// the file size. libyara 4.2 matches strings within one block only, so a string split across
// a block boundary would be missed: the blocks therefore overlap by Options.BlockOverlap
// (1 MiB by default, blocks of 8 MiB), and every string shorter than that lies whole in some block; libyara
// drops the duplicate of a match found twice in an overlap (same absolute offset).
// TestParityWithYaraCLI checks both modes against the real yara CLI, with strings placed
// across block boundaries. What block scanning cannot give, and why that is accepted:
//   - a match longer than the overlap (a regular expression or hex string with jumps spanning
//     more than 1 MiB) that crosses a block boundary is missed; raise BlockOverlap (or the
//     memory budget) if the rule set has such rules;
//   - modules (pe, elf, dotnet, math over the whole file) see the block that holds the header;
//     a PE whose header is in the first block parses normally;
//   - conditions reading data at an offset (uint32(x)) work: the iterator re-reads blocks.
//
// # Limits
//
// Defaults (DefaultLimits, all settable from the policy): depth 8, expansion ratio 100:1 (once
// more than 1 MiB was decompressed), 16 GiB decompressed per top-level file, 1,000,000 inner
// files, 8 GiB per inner file, 32 MiB of inner paths (and NAME_MAX, PATH_MAX), 64 MiB decoder window (liblzma enforces it for every xz block
// before allocating; zstd checks the frame's window), 2 minutes of libyara per file. Sparse
// tar holes count as expansion. Decompressed bytes are counted as they are produced, so a bomb
// stops within one buffer of its limit.
package scanner
