package difftest

// Tool sets and kind sets the entries below share.
var (
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
	"zip-tar-polyglot": {issue: 13, tools: tarReaders, kinds: unscanned, classes: []string{"zip-tar-polyglot*"},
		why: "a file that is a zip and, at offset 0, a valid tar header: airlock walks it as zip only, GNU tar, bsdtar and cpio read the tar member"},
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
	"tar-v7-signed-checksum": {issue: 13, tools: tarReaders, kinds: unwalked, classes: []string{"tar-v7-signed-checksum*", "fuzz/tar-signed"},
		why: "a v7 header whose checksum is the signed sum is not recognized as tar; GNU tar, bsdtar and 7z accept it"},
	"ar-not-walked": {issue: 13, tools: allTools, kinds: unwalked,
		classes: []string{"ar-*", "nested-deb-in-tar*", "fuzz/ar"},
		why:     "ar (.deb) is scanned as verbatim bytes; its members are compressed (data.tar.gz) and ar, dpkg-deb, bsdtar, 7z extract them"},
	"cpio-not-walked": {issue: 13, tools: allTools, kinds: unwalked,
		classes: []string{"cpio-*", "bsdtar-newc*", "bsdtar-odc*", "nested-cpio-gz*", "fuzz/cpio"},
		why:     "cpio is scanned as verbatim bytes; members are not hashed, and a compressed member is never decompressed"},
	"iso-not-walked": {issue: 13, tools: []string{"7z", "bsdtar", "bsdtar-stream"}, kinds: unwalked, classes: []string{"bsdtar-iso9660*"},
		why: "an ISO 9660 image on a stick is scanned as verbatim bytes; members are not hashed and zisofs-compressed ones never decompressed, while bsdtar and 7z extract them"},
	"lzma-alone": {issue: 13, tools: allTools, kinds: unwalked, classes: []string{"lzma-alone*", "tar-lzma*", "fuzz/lzma"},
		why: "legacy .lzma streams are taken as opaque bytes and called clean; xz, GNU tar, bsdtar and 7z decompress them"},
}
