package scanner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestOpaqueArchives measures what happens to 7z, RAR and CAB inputs (issue 13: "not
// measured"): 7z archives made by 7z with every method it offers (solid or not, encrypted
// headers) and by bsdtar, RAR 4 and RAR 5 archive headers and a cabinet header made by hand
// (no RAR or CAB writer is installed), each with and without EICAR. Every one must be refused
// (Unscannable, the reason naming the format); one that stores EICAR in the clear must also
// name the rule, as the yara CLI does on the same bytes.
func TestOpaqueArchives(t *testing.T) {
	testenv.Need(t, "7z", "bsdtar")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `mkdir clean evil && yes 'clean member' | head -300 > clean/a.txt && cp clean/a.txt evil/ && cp eicar.txt evil/`)
	type input struct {
		name, format string
		data         []byte
		clear        bool // EICAR stored in the clear
	}
	var ins []input
	for _, tree := range []string{"clean", "evil"} {
		for i, opt := range []string{"-m0=LZMA2", "-m0=LZMA", "-m0=PPMd", "-m0=BZip2", "-m0=Deflate", "-m0=Copy", "-ms=on -mx9", "-mhe=on -psecret", "-m0=Copy -mhe=on -psecret"} {
			out := fmt.Sprintf("%s-%d.7z", tree, i)
			sh(t, dir, fmt.Sprintf(`7z a -bd %s %s %s >/dev/null`, opt, out, tree))
			b, err := os.ReadFile(filepath.Join(dir, out))
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, input{out + " (" + opt + ")", "7z archive", b, tree == "evil" && opt == "-m0=Copy"})
		}
		out := tree + "-bsdtar.7z"
		sh(t, dir, fmt.Sprintf(`bsdtar --format=7zip -cf %s %s`, out, tree))
		b, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, input{out, "7z archive", b, false})
		payload := []byte("clean member\n")
		if tree == "evil" {
			payload = eicar()
		}
		ins = append(ins, input{tree + ".rar (RAR 4)", "RAR archive", rar4(payload), tree == "evil"},
			input{tree + ".rar (RAR 5)", "RAR archive", rar5(payload), tree == "evil"},
			input{tree + ".cab", "cabinet (CAB) archive", cab(payload), tree == "evil"})
	}
	counts := map[string]int{}
	matched := 0
	for _, in := range ins {
		r := scanOne(t, s, "in", in.data)
		problems := strings.Join(r.Problems(), "; ")
		if r.Worst() == Clean || !strings.Contains(problems, in.format) || !strings.Contains(problems, "cannot open") {
			t.Errorf("%s: %s %q, want refused as a %s", in.name, r.Worst(), problems, in.format)
		}
		if in.clear {
			if len(r.Rules) == 0 {
				t.Errorf("%s: EICAR in the clear, no rule named (the yara CLI names it)", in.name)
			}
			matched++
		}
		counts[in.format]++
	}
	t.Logf("opaque inputs refused: %d 7z, %d RAR, %d CAB (%d with EICAR in the clear, each naming the rule)",
		counts["7z archive"], counts["RAR archive"], counts["cabinet (CAB) archive"], matched)
}

// rar4 is a RAR 4 marker, archive header and one stored file header with data.
func rar4(data []byte) []byte {
	b := []byte("Rar!\x1a\x07\x00")
	ah := []byte{0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(ah, uint16(crc32.ChecksumIEEE(ah[2:])))
	b = append(b, ah...)
	name := []byte("p.txt")
	fh := make([]byte, 32+len(name))
	fh[2] = 0x74
	binary.LittleEndian.PutUint16(fh[3:], 0x8000)
	binary.LittleEndian.PutUint16(fh[5:], uint16(len(fh)))
	binary.LittleEndian.PutUint32(fh[7:], uint32(len(data)))
	binary.LittleEndian.PutUint32(fh[11:], uint32(len(data)))
	fh[15] = 3
	binary.LittleEndian.PutUint32(fh[16:], crc32.ChecksumIEEE(data))
	fh[24], fh[25] = 20, 0x30 // version 2.0, method store
	binary.LittleEndian.PutUint16(fh[26:], uint16(len(name)))
	copy(fh[32:], name)
	binary.LittleEndian.PutUint16(fh, uint16(crc32.ChecksumIEEE(fh[2:])))
	b = append(b, fh...)
	return append(b, data...)
}

// rar5 is a RAR 5 marker and main header, then the data (no file header: the marker alone makes
// it opaque).
func rar5(data []byte) []byte {
	h := []byte{0, 0, 0, 0, 3, 1, 0, 0} // CRC, size 3, type 1 (main), flags 0, archive flags 0
	binary.LittleEndian.PutUint32(h, crc32.ChecksumIEEE(h[4:7]))
	return append(append([]byte("Rar!\x1a\x07\x01\x00"), h[:7]...), data...)
}

// cab is a cabinet header (version 1.3, one folder, one file) followed by the data stored.
func cab(data []byte) []byte {
	h := make([]byte, 36)
	copy(h, "MSCF")
	binary.LittleEndian.PutUint32(h[8:], uint32(36+len(data)))
	h[24], h[25] = 3, 1
	binary.LittleEndian.PutUint16(h[26:], 1)
	binary.LittleEndian.PutUint16(h[28:], 1)
	return append(h, bytes.Clone(data)...)
}
