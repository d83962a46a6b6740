package difftest

// Tool sets and kind sets the entries below share.
var (
	zipReaders = []string{"7z", "bsdtar", "bsdtar-stream", "unzip", "gzip"} // gzip -d reads a zip's first member
	tarReaders = []string{"7z", "bsdtar", "bsdtar-stream", "cpio", "gnutar", "gnutar-i"}
	allTools   = []string{"7z", "ar", "bsdtar", "bsdtar-stream", "cpio", "dpkg-deb", "gnutar", "gnutar-i", "gzip", "bzip2", "xz", "lzma", "zstd", "unzip"}
	unscanned  = []string{kindUnscanned, kindInfected}
	unwalked   = []string{kindUnscanned, kindInfected, kindUnwalked}
)

// knownDivergences are the divergences airlock shows today that issue 13 covers and the
// scanner's rewrite (in flight) fixes, by name. Each is limited to the generators (or corpus
// classes) that show it, the tools whose view airlock misses and the kinds seen, and some to
// the member's name. They are logged as KNOWN and do not fail the test; every other divergence
// fails. Delete an entry when the fix merges: the run logs STALE for an entry none of its cases
// shows any more.
var knownDivergences = map[string]known{
	"zip-unix-mode-special": {issue: 13, tools: zipReaders, kinds: unscanned,
		classes: []string{"zip-fifo-mode*", "zip-device-mode*", "zip-socket-mode*", "zip-fifo-stdin", "zip-fifo-stdin/*", "zip-fifo-stdin-stream*", "fuzz/zip-mode"},
		why:     "a zip entry whose Unix mode says FIFO, device or socket is recorded as special and not opened; unzip, bsdtar and 7z extract its data as a regular file"},
	"zip-dos-dir-attr": {issue: 13, tools: zipReaders, kinds: unscanned, classes: []string{"zip-dir-attr-noslash*", "fuzz/zip-mode"},
		why: "MS-DOS attributes say directory, the name has no '/': airlock skips the entry, unzip and streaming bsdtar extract its data"},
	"zip-symlink-data": {issue: 13, tools: []string{"bsdtar-stream", "7z"}, kinds: unscanned, member: `(^|/)link$`,
		classes: []string{"zip-symlinks", "7z-zip", "7z-zip/*", "bsdtar-zip", "bsdtar-zip-store", "bsdtar-zip-stream", "bsdtar-zip-stream/*", "fuzz/zip-mode"},
		why:     "a symlink entry's data (its target) is not scanned; bsdtar reading a pipe has no central directory mode and writes it as a regular file"},
	"zip-central-local": {issue: 13, tools: zipReaders, kinds: unscanned,
		classes: []string{"zip-central-local-size*", "zip-local-not-in-central*", "zip-deflate/dup-head", "zip-store/dup-head", "7z-zip/dup-head", "fuzz/zip-views"},
		why:     "central directory and local headers disagree (sizes, or local entries the directory does not list); 7z and streaming bsdtar read the local headers"},
	"zip-prefix": {issue: 13, tools: []string{"7z", "bsdtar", "unzip"}, kinds: unwalked,
		classes: []string{"zip-after-text-prefix*", "bsdtar-zip-stream/prepend", "fuzz/zip-views"},
		why:     "a zip after other bytes with trailing bytes (or data descriptors) is missed by the appended-zip check; unzip, bsdtar and 7z find and extract it"},
	"zip-tar-polyglot": {issue: 13, tools: tarReaders, kinds: unscanned, classes: []string{"zip-tar-polyglot*"},
		why: "a file that is a zip and, at offset 0, a valid tar header: airlock walks it as zip only, GNU tar, bsdtar and cpio read the tar member"},
	"tar-type-as-regular": {issue: 13, tools: append([]string{"gzip", "zstd"}, tarReaders...), kinds: unscanned, classes: []string{"tar-type7*", "tar-unknown-type*", "fuzz/tar-type"},
		why: "tar type '7' and unknown types are recorded as special; GNU tar, bsdtar, 7z and cpio extract them as regular files"},
	"tar-metadata-as-member": {issue: 13, tools: []string{"cpio", "7z", "gnutar", "gnutar-i"}, kinds: unscanned,
		member:  `(^|/)(@LongLink|PaxHeaders?(\.\d+)?/.*|GNUSparseFile\.\d+/.*)$`,
		classes: []string{"tar-*", "bsdtar-pax", "bsdtar-gnutar", "7z-tar", "nested-tgz-in-zip", "xz-check-none-blocks", "fuzz/tar-meta"},
		why:     "GNU long-name entries, pax headers and sparse maps are consumed as metadata and never scanned; cpio writes them as files (@LongLink, PaxHeaders/x), 7z writes sparse data unexpanded"},
	"tar-numeric-field": {issue: 13, tools: tarReaders, kinds: unwalked, classes: []string{"tar-size-nul-digits*", "fuzz/tar-numeric"},
		why: "a size field of NUL then digits: Go reads the digits, bsdtar and cpio read 0 and extract a member hidden in the data (which GNU tar, 7z and cpio also find in that data, after its junk block)"},
	"tar-gnu-dumpdir": {issue: 13, tools: []string{"cpio"}, kinds: unscanned, classes: []string{"tar-gnu-incremental"},
		why: "GNU incremental dumpdir ('D') data is not scanned; cpio writes it as a file"},
	"tar-v7-cpio-size": {issue: 13, tools: []string{"cpio"}, kinds: unscanned, classes: []string{"bsdtar-v7"}, member: `^src/sparse$`,
		why: "cpio reads a v7 tar (bsdtar-made, hard link after a 200 KiB member) into a 217088-byte member Go's reader does not produce"},
	"tar-after-eoa": {issue: 13, tools: []string{"gnutar-i", "cpio"}, kinds: unwalked,
		classes: []string{"tar-after-eoa", "tar-after-eoa/eicar", "tar-gnu/prepend", "tar-pax/prepend", "tar-ustar/prepend", "fuzz/tar-after-end"},
		why:     "members after end-of-archive zero blocks (or after leading zero blocks / junk) are never read; tar -i reads on, cpio skips junk to the next header"},
	"tar-v7-signed-checksum": {issue: 13, tools: tarReaders, kinds: unwalked, classes: []string{"tar-v7-signed-checksum*", "fuzz/tar-signed"},
		why: "a v7 header whose checksum is the signed sum is not recognized as tar; GNU tar, bsdtar and 7z accept it"},
	"ar-not-walked": {issue: 13, tools: allTools, kinds: unwalked,
		classes: []string{"ar-*", "nested-deb-in-tar*", "fuzz/ar"},
		why:     "ar (.deb) is scanned as verbatim bytes; its members are compressed (data.tar.gz) and ar, dpkg-deb, bsdtar, 7z extract them"},
	"cpio-not-walked": {issue: 13, tools: allTools, kinds: unwalked,
		classes: []string{"cpio-*", "bsdtar-newc*", "bsdtar-odc*", "nested-cpio-gz*", "fuzz/cpio"},
		why:     "cpio is scanned as verbatim bytes; members are not hashed, and a compressed member is never decompressed"},
	"compressed-truncated": {issue: 13, tools: []string{"gzip", "zstd", "7z", "bsdtar", "bsdtar-stream"}, kinds: unscanned,
		classes: []string{"gzip-truncated*", "fuzz/compressed-truncated"},
		why:     "found by FuzzDifferential: a truncated gzip stream is called clean (the walker takes an unexpected EOF as the end), and gzip -d, zstd -d and 7z write bytes beyond what airlock decoded"},
	"iso-not-walked": {issue: 13, tools: []string{"7z", "bsdtar", "bsdtar-stream"}, kinds: unwalked, classes: []string{"bsdtar-iso9660*"},
		why: "an ISO 9660 image on a stick is scanned as verbatim bytes; members are not hashed and zisofs-compressed ones never decompressed, while bsdtar and 7z extract them"},
	"lzma-alone": {issue: 13, tools: allTools, kinds: unwalked, classes: []string{"lzma-alone*", "tar-lzma*", "fuzz/lzma"},
		why: "legacy .lzma streams are taken as opaque bytes and called clean; xz, GNU tar, bsdtar and 7z decompress them"},
	"uuencode": {issue: 13, tools: []string{"bsdtar", "bsdtar-stream"}, kinds: unwalked, classes: []string{"uuencode-tar*", "base64-tar*", "fuzz/uuencode"},
		why: "uuencoded and begin-base64 streams are scanned as text; bsdtar decodes them and extracts the archive inside"},
	"zstd-skippable-frame": {issue: 13, tools: allTools, kinds: unwalked, classes: []string{"zstd-skippable-frame*", "fuzz/zstd-skippable"},
		why: "a zstd stream that starts with a skippable frame is not recognized as zstd"},
	"sfx-7z": {issue: 13, tools: []string{"7z"}, kinds: unwalked, classes: []string{"elf-sfx-7z*", "fuzz/sfx"},
		why: "a 7z archive inside an ELF self-extractor: the opaque-format check looks at offset 0 only, so the file is called clean; 7z opens it"},
}
