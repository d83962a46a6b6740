// Package difftest is airlock's differential harness for hostile archive formats (issue 13).
//
// It holds tests only. Each case is a file: an archive made by the real tools with odd options,
// a hand-built hostile archive, or a seeded mutation of either. The case is scanned by package
// scanner, as a user of it would, and extracted by every stock extractor `make deps` installs
// (GNU tar, bsdtar, unzip, 7z, cpio, ar, dpkg-deb and the gzip, bzip2, xz, lzma and zstd
// decompressors), each in a fresh directory under a timeout and an output cap. What lands on
// disk counts, whatever the tool's exit status. The test fails when
//
//   - a tool yields a non-empty regular file whose bytes (SHA-256) appear nowhere in airlock's
//     result tree, unless airlock refused the file that holds it (Unscannable, Match, LimitHit);
//     a member that is itself an archive some tool opens is followed down instead;
//   - airlock calls a file clean without walking it (no Format) while some tool opens it as an
//     archive and yields members from it;
//   - a member carrying the EICAR test string comes out of a file airlock calls clean.
//
// Divergences of a class the scanner does not handle yet are listed in knownDivergences (class
// -> issue, why) and logged as KNOWN; every other divergence fails. TestDifferential runs a
// fixed, seeded set of generated cases in the default test run, TestHostileCorpus the committed
// corpus in testdata/hostile (see its README), and FuzzDifferential mutates both with the
// tools as the oracle.
package difftest
