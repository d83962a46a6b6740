package fat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// kernelOpts are the mount options of a stock Linux desktop reading a stick (UTF-8 names,
// code page 437 short names, the default shortname=mixed), spelled out so that the kernel's
// build defaults do not change the test.
const kernelOpts = "ro,loop,utf8,codepage=437,shortname=mixed"

// oracle is a stock reader of FAT volumes: list extracts or mounts img and lists every entry as
// path -> SHA-256 ("dir" for directories, "EIO" for a file it cannot read); a volume it refuses
// gives an error.
type oracle struct {
	name string
	list func(t *testing.T, img string) (map[string]string, error)
}

// oracles are the stock readers available here: the kernel's vfat (root, a kernel with vfat),
// mtools and 7z.
func oracles(t *testing.T) []oracle {
	var out []oracle
	if os.Geteuid() == 0 && hasVFAT() {
		// Only when a loop mount of a fresh volume works here (a container may forbid it).
		img := filepath.Join(t.TempDir(), "probe.img")
		if exec.Command("mkfs.fat", "-C", img, "1024").Run() == nil {
			if _, err := kernelList(t, img); err == nil {
				out = append(out, oracle{"kernel vfat", kernelList})
			} else {
				t.Logf("the kernel's vfat is not a reader here: %v", err)
			}
		}
	}
	if _, err := exec.LookPath("mcopy"); err == nil {
		out = append(out, oracle{"mtools", func(t *testing.T, img string) (map[string]string, error) {
			dir := t.TempDir()
			out, err := exec.Command("mcopy", "-s", "-n", "-i", img, "::*", dir).CombinedOutput()
			got := listDir(dir)
			if err != nil && len(got) == 0 {
				return nil, fmt.Errorf("mcopy: %v: %s", err, out)
			}
			return got, nil // mcopy exits 1 after partial extraction: what it wrote still counts
		}})
	}
	if _, err := exec.LookPath("7z"); err == nil {
		out = append(out, oracle{"7z", func(t *testing.T, img string) (map[string]string, error) {
			dir := t.TempDir()
			out, err := exec.Command("7z", "x", "-y", "-tFAT", "-o"+dir, img).CombinedOutput()
			got := listDir(dir)
			if err != nil && len(got) == 0 {
				return nil, fmt.Errorf("7z: %v: %.200s", err, out)
			}
			return got, nil
		}})
	}
	if testenv.InCI() && len(out) < 2 {
		t.Fatalf("only %d FAT oracles here (mtools, 7z)", len(out))
	}
	return out
}

func hasVFAT() bool {
	b, _ := os.ReadFile("/proc/filesystems")
	if bytes.Contains(b, []byte("\tvfat\n")) {
		return true
	}
	return exec.Command("modprobe", "vfat").Run() == nil
}

func listDir(root string) map[string]string {
	got := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			got[rel] = "EIO"
			return nil
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			got[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			got[rel] = "EIO"
			return nil
		}
		s := sha256.Sum256(b)
		got[rel] = hex.EncodeToString(s[:])
		return nil
	})
	return got
}

// kernelList mounts img with the kernel's vfat read-only.
func kernelList(t *testing.T, img string) (map[string]string, error) {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "vfat", "-o", kernelOpts, img, mnt).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount: %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v: %s", err, out)
		}
	}()
	return listDir(mnt), nil
}

// airlockList lists the volume as kernelList does, through Open.
func airlockList(v *vol) (map[string]string, error) {
	vl, err := v.open()
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	err = fs.WalkDir(vl.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			got[p] = "dir"
			return nil
		}
		f, err := vl.FS.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		got[p] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return got, err
}

// missing lists what the kernel shows and airlock does not (or with other bytes): a scan bypass.
func missing(kernel, airlock map[string]string) []string {
	var out []string
	for p, k := range kernel {
		a, ok := airlock[p]
		if !ok || (k != a && k != "EIO") {
			out = append(out, fmt.Sprintf("%s (kernel %.12s, airlock %.12s)", p, k, a))
		}
	}
	sort.Strings(out)
	return out
}

// TestOraclesAgree: the undamaged volumes list the same in airlock and every stock reader; for
// each hostile class airlock refuses, the log says what each reader shows instead (the record of
// why airlock cannot list it).
func TestOraclesAgree(t *testing.T) {
	ors := oracles(t)
	for _, bits := range []int{12, 16, 32} {
		t.Run(fmt.Sprintf("fat%d", bits), func(t *testing.T) {
			base := newVol(t, bits)
			a, err := airlockList(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ors {
				k, err := o.list(t, base.save())
				if err != nil {
					t.Fatalf("%s: %v", o.name, err)
				}
				if m := missing(k, a); len(m) > 0 || len(k) != len(a) {
					t.Fatalf("%s %v\nairlock %v", o.name, k, a)
				}
			}
			if bits == 32 {
				return // the classes are the same as in FAT12/16, and 34 MiB images are slow under -race
			}
			for _, tc := range hostileCases() {
				v := base.clone()
				tc.patch(v)
				if _, aerr := v.open(); aerr == nil {
					t.Errorf("%s: airlock lists it", tc.name)
				}
				for _, o := range ors {
					k, err := o.list(t, v.save())
					var extra []string
					for p := range k {
						if _, ok := a[p]; !ok {
							extra = append(extra, p)
						}
					}
					sort.Strings(extra)
					t.Logf("%s: %s: err=%.80v, %d entries, not in the undamaged volume: %.200q", tc.name, o.name, err, len(k), extra)
				}
			}
		})
	}
}

// TestDifferentialMutations mutates the metadata of real volumes at random (the boot sector, the
// FAT, the directory entries) for AIRLOCK_FAT_DIFF_SECONDS (default 5; the hwtest run gives it
// 30), or exactly AIRLOCK_FAT_DIFF_MUTATIONS mutations, and compares what airlock lists with what
// every stock reader extracts: airlock may refuse, but whatever it accepts must include every
// file a reader shows, with the same bytes. AIRLOCK_FAT_DIFF_SEED replays a printed seed (the
// base volumes are the same bytes on every run).
func TestDifferentialMutations(t *testing.T) { differential(t, 5*time.Second, 12, 16) }

// differential runs the mutation differential for budget over volumes of the given FAT types.
func differential(t *testing.T, budget time.Duration, types ...int) {
	ors := oracles(t)
	if s := os.Getenv("AIRLOCK_FAT_DIFF_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			t.Fatal(err)
		}
		budget = d
	}
	count := 0 // 0: until the budget is spent
	if s := os.Getenv("AIRLOCK_FAT_DIFF_MUTATIONS"); s != "" {
		if _, err := fmt.Sscan(s, &count); err != nil || count < 1 {
			t.Fatalf("AIRLOCK_FAT_DIFF_MUTATIONS=%q: want a positive count", s)
		}
	}
	var bases []*vol
	for _, bits := range types {
		bases = append(bases, newVol(t, bits))
	}
	// CI runs one fixed sequence, so that its verdict is reproducible; elsewhere every run
	// explores new mutations. A failing seed is printed and can be replayed.
	seed := uint64(time.Now().UnixNano())
	if testenv.InCI() {
		seed = 1
	}
	if s := os.Getenv("AIRLOCK_FAT_DIFF_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatalf("AIRLOCK_FAT_DIFF_SEED=%q: %v", s, err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d (AIRLOCK_FAT_DIFF_SEED)", seed)
	deadline := time.Now().Add(budget)
	var tries, accepted int
	refused := map[string]int{}
	for (count > 0 && tries < count) || (count == 0 && time.Now().Before(deadline)) {
		v := bases[rng.IntN(len(bases))].clone()
		desc := mutate(v, rng)
		tries++
		a, aerr := airlockList(v)
		if aerr != nil {
			if !errors.Is(aerr, mediaerr.ErrCorrupt) && !errors.Is(aerr, mediaerr.ErrUnsupported) {
				t.Fatalf("mutation %d: FAT%d %v: refusal of an unknown class: %v", tries, v.bits, desc, aerr)
			}
			reason := quoted.ReplaceAllString(strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return '#'
				}
				return r
			}, aerr.Error()), `"…"`)
			if i := strings.LastIndex(reason, ": "); i > 0 {
				reason = reason[i+2:]
			}
			reason = strings.ToValidUTF8(reason[:min(len(reason), 48)], "")
			refused[reason]++
			continue
		}
		accepted++
		img := v.save()
		for _, o := range ors {
			k, err := o.list(t, img)
			if err != nil {
				continue // the reader refuses it: nothing to compare
			}
			if m := missing(k, a); len(m) > 0 {
				t.Errorf("mutation %d: FAT%d %v: %s shows what airlock does not list: %v", tries, v.bits, desc, o.name, m)
			}
		}
		os.Remove(img)
	}
	t.Logf("%d mutations, %d accepted and compared with %d readers; refusals: %v", tries, accepted, len(ors), refused)
	if accepted == 0 {
		t.Fatal("no mutation was accepted: the comparison never ran")
	}
}

// quoted matches a quoted name in a refusal, so that the summary counts reasons, not names.
var quoted = regexp.MustCompile(`"(\\.|[^"\\])*"`)

// mutate changes one to three places of v's metadata and describes each change as b[offset]=value
// (a foundDivergences entry replays it). The places: the root directory, the subdirectories'
// clusters, the data clusters after the root, the start of the FAT and the BPB; the changes: a
// random byte, one flipped bit (near-valid values reach deeper), a random UTF-16 character in a
// long-name slot, or a whole entry of the root copied over another or swapped with it, then
// perhaps every long name's checksum made to match the entry after it.
func mutate(v *vol, rng *rand.Rand) []string {
	root := v.rootOff()
	fat := int(v.p.ReservedSectors) * 512
	sub := v.clusterOff(v.cluster(v.entry("SUB        ")))
	regions := [][2]int{{root, root + 32*16}, {v.clusterOff(2), v.clusterOff(2) + 8*512},
		{fat, fat + 64}, {0, 62}, {sub, sub + 32*8}}
	if v.bits == 32 { // the extended BPB and FSInfo
		regions = append(regions, [2]int{62, 90}, [2]int{512, 1024})
	}
	var desc []string
	set := func(off int, val byte) {
		desc = append(desc, fmt.Sprintf("b[%d]=%#02x", off, val))
		v.b[off] = val
	}
	for n := 1 + rng.IntN(3); n > 0; n-- {
		r := regions[rng.IntN(len(regions))]
		off := r[0] + rng.IntN(r[1]-r[0])
		switch k := rng.IntN(10); {
		case k < 3:
			set(off, byte(rng.Uint32()))
		case k < 6:
			set(off, v.b[off]^1<<rng.IntN(8))
		case k < 7: // a character of a long-name slot: ASCII, Latin-1, anything
			e := off &^ 31
			slots := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
			o := e + slots[rng.IntN(len(slots))]
			c := []uint16{uint16(rng.IntN(0x80)), uint16(rng.IntN(0x100)), uint16(rng.Uint32())}[rng.IntN(3)]
			set(o, byte(c))
			set(o+1, byte(c>>8))
		default: // an entry of the root copied over another or swapped with it
			from, to := root+32*rng.IntN(16), root+32*rng.IntN(16)
			a, b := append([]byte(nil), v.b[from:from+32]...), append([]byte(nil), v.b[to:to+32]...)
			for j := 0; j < 32; j++ {
				if b[j] != a[j] {
					set(to+j, a[j])
					if k == 9 {
						set(from+j, b[j])
					}
				}
			}
			if k == 8 { // long names re-attached: their checksums made to match the entry after them
				for e := root + 32*15; e >= root; e -= 32 {
					if v.b[e+11] == 0x0f {
						continue
					}
					sum := shortSum(v.b[e:])
					for l := e - 32; l >= root && v.b[l+11] == 0x0f; l -= 32 {
						if v.b[l+13] != sum {
							set(l+13, sum)
						}
					}
				}
			}
		}
	}
	return desc
}

// foundDivergences are mutations (as differential prints them) of the standard FAT12/16
// volumes after which a stock reader showed a file that airlock, accepting the volume, did not
// list. Each is now refused with the reason in want, or (want "") accepted and listed whole.
var foundDivergences = []struct {
	bits     int
	mutation string
	reader   string // what the reader showed
	want     string
}{
	// An altered long-name character: '?' ("a long nam?.txt"), which mtools extracts as '_'.
	{16, "b[33432]=0x3f b[33548]=0x04 b[33304]=0x93", `mtools: "a long nam_.txt"`, `long name with '?'`},
}

// TestFoundDivergences replays foundDivergences against airlock and every stock reader.
func TestFoundDivergences(t *testing.T) {
	ors := oracles(t)
	bases := map[int]*vol{}
	for _, tc := range foundDivergences {
		t.Run(fmt.Sprintf("fat%d %s", tc.bits, tc.mutation), func(t *testing.T) {
			if bases[tc.bits] == nil {
				bases[tc.bits] = newVol(t, tc.bits)
			}
			v := bases[tc.bits].clone()
			for _, m := range strings.Fields(tc.mutation) {
				var off int
				var val byte
				if _, err := fmt.Sscanf(m, "b[%d]=%v", &off, &val); err != nil || off >= len(v.b) {
					t.Fatalf("mutation %q: %v", m, err)
				}
				v.b[off] = val
			}
			a, aerr := airlockList(v)
			switch {
			case tc.want != "" && (!errors.Is(aerr, mediaerr.ErrCorrupt) || !strings.Contains(aerr.Error(), tc.want)):
				t.Errorf("got %v (listing %v), want a refusal with %q (before: %s)", aerr, a, tc.want, tc.reader)
			case tc.want == "" && aerr != nil:
				t.Errorf("refused: %v", aerr)
			}
			for _, o := range ors {
				k, err := o.list(t, v.save())
				if aerr == nil && err == nil {
					if m := missing(k, a); len(m) > 0 {
						t.Errorf("%s shows what airlock does not list: %v", o.name, m)
					}
				}
				t.Logf("%s: err=%.80v, %d entries", o.name, err, len(k))
			}
		})
	}
}
