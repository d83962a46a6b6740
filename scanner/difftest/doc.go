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
// Divergences of a class the scanner does not handle yet are listed in knownDivergences
// (known_test.go: name -> issue, the generators, tools and kinds it covers, why) and logged as
// KNOWN; every other divergence fails. A name that differs for the same bytes, and a file
// airlock refuses that a tool extracts without complaint, are logged as NOTEs.
//
// The tests:
//   - TestDifferential: a fixed, seeded set of generated cases (205, under a minute on a loaded
//     2-core machine) in the default `go test -race ./...` run; with -v it ends with
//     "difftest: N cases, M tools, K divergences (J known); ...".
//   - TestHostileCorpus: the committed corpus in testdata/hostile, one small file per class
//     (its README lists what each tool extracts; AIRLOCK_DIFFTEST_WRITE=1 go test -run
//     TestWriteHostileCorpus regenerates both).
//   - TestOracle: the judging itself against hand-made views, so a harness that cannot fail
//     is caught whatever today's scanner does.
//   - FuzzDifferential: mutations of the corpus with the tools as the oracle. Each input costs
//     a dozen tool runs, so it does about one input a second. A fuzzer-made input keeps a known
//     class only by its structure (fuzzClass); otherwise any divergence fails.
//
// Missing tools skip the tests locally and fail them under CI=true (internal/testenv).
// AIRLOCK_DIFFTEST_SLOW=1 reports tool runs that took more than half their timeout.
package difftest
