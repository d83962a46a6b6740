// Package scanner YARA-scans every file of a stick, recursing into Guix exports, NARs, tarballs and
// zips under explicit bomb limits, and makes the import decision from the scan, the signed allowlist
// and the Guix verification results.
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
// # Walk
//
// Formats are recognized by content, never by name: gzip, xz, bzip2, zstd (a compressed tar is
// walked as a tar; any other compressed content is one inner file named after the outer one
// less its suffix), tar (POSIX, GNU, v7), zip, NAR, and Guix export streams (through package
// guix, whose strict readers refuse anything that breaks the format). Every file at every
// level, containers included, is scanned. Inner files are named "outer!inner", e.g.
// "bundle.export!/gnu/store/…-hello/bin/hello" or "src.tar.gz!pkg/docs.zip!index.html".
// Symbolic links, hard links and special files are recorded (File.Type, File.Target), never
// followed or opened. Directories are not reported.
//
// Containers the walk cannot open — 7z, RAR, CAB, lzip, LZ4, compress (.Z), squashfs, RPM,
// xar, WIM, Snappy, recognized by their magic — are scanned as bytes and then made
// Unscannable ("7z archive: airlock cannot open it, ..."): what they hold was not seen, so the
// import decision refuses them even when allowlisted. Formats that keep members verbatim and
// in one piece (ar, cpio, ISO 9660) are scanned whole like any file. A zip after other bytes
// (self-extractors, polyglots) is found by its end record, as zip readers find it, and walked
// (Format "zip-appended"); if its directory cannot be read the file is Unscannable. Compressed
// data elsewhere inside other formats (PDF streams, say) is not looked for.
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
// data after the end of a tar or an export stream, read errors; always with the reason) and
// LimitHit (File.Limit names the limit: depth, expansion-ratio, expanded-bytes, entries,
// entry-size, decompressor-memory, timeout). A limit stops the walk where it strikes and is
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
// files, 8 GiB per inner file, 64 MiB decoder window (liblzma enforces it for every xz block
// before allocating; zstd checks the frame's window), 2 minutes of libyara per file. Sparse
// tar holes count as expansion. Decompressed bytes are counted as they are produced, so a bomb
// stops within one buffer of its limit.
package scanner
