// Package initramfs describes the appliance's boot image and reads it back for checks.
//
// The image is built by scripts/image.sh (`make image`) with u-root v0.16.0 from the lists in this
// folder:
//
//   - commands.txt: the u-root core commands of the busybox (no network command);
//   - modules.txt: the kernel modules, in load order, copied with their dependencies from Debian's
//     linux-image-amd64 with a modules.dep for exactly those files, and installed as
//     /etc/airlock/modules for the station's boot duties;
//   - etc/: the DEMO /etc/airlock (policy, keys, allowlist, Guix ACL, YARA rules; its secret keys
//     are public: a site builds with AIRLOCK_IMAGE_ETC=its-own-folder);
//   - demo/: the demo approver's secret key, which signs demo allowlists and never enters the image.
//
// Layout of the image (newc cpio, xz-compressed with CRC32 checks as the kernel requires):
//
//	/init -> bbin/init                 u-root's init: mounts, then runs /bin/uinit
//	/bin/uinit -> airlock              with /etc/uinit.flags: run --config /etc/airlock/policy.toml
//	/bin/airlock                       the static airlock (make build-static)
//	/bbin/*                            u-root busybox and its command links
//	/usr/bin/xorriso + its libraries   burning
//	/lib/modules/KVER/...              modules, modules.dep, modules.alias, modules.builtin
//	/etc/airlock/...                   policy, keys, rules, modules (load order)
//
// Read opens a built image so tests can check what is in it without booting it.
package initramfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

// MaxImageBytes bounds the uncompressed image Read accepts (the budget is 24 MiB compressed).
const MaxImageBytes = 512 << 20

// maxEntries bounds the number of records Read accepts.
const maxEntries = 100_000

// ErrTooLarge is returned by Read for an image over MaxImageBytes or maxEntries records.
var ErrTooLarge = errors.New("initramfs: image too large")

// Entry is one record of an image.
type Entry struct {
	Path string
	Mode uint64 // Linux st_mode: type and permission bits
	Size int64
	Link string // symlink target
	Data []byte // contents of a regular file
}

// IsDir reports whether e is a directory.
func (e Entry) IsDir() bool { return e.Mode&0o170000 == 0o040000 }

// IsSymlink reports whether e is a symbolic link.
func (e Entry) IsSymlink() bool { return e.Mode&0o170000 == 0o120000 }

// Image is a read initramfs: its entries by path (no leading slash) in archive order.
type Image struct {
	Entries map[string]Entry
	Order   []string
}

// Read reads an initramfs: one newc cpio archive, xz-compressed or not, up to its trailer
// (a later record of the same path replaces an earlier one, as when the kernel unpacks it).
func Read(r io.Reader) (*Image, error) { return read(r, MaxImageBytes) }

func read(r io.Reader, maxBytes int) (*Image, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(6); bytes.Equal(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("initramfs: xz: %w", err)
		}
		src = xr
	}
	raw, err := io.ReadAll(io.LimitReader(src, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("initramfs: decompress: %w", err)
	}
	if len(raw) > maxBytes {
		return nil, fmt.Errorf("%w: over %d bytes uncompressed", ErrTooLarge, maxBytes)
	}
	img := &Image{Entries: map[string]Entry{}}
	rr := cpio.Newc.Reader(bytes.NewReader(raw))
	for n := 0; ; n++ {
		if n > maxEntries {
			return nil, fmt.Errorf("%w: over %d records", ErrTooLarge, maxEntries)
		}
		rec, err := rr.ReadRecord()
		if err == io.EOF { // the reader's answer to the trailer record
			if n == 0 {
				return nil, fmt.Errorf("initramfs: empty archive")
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("initramfs: record %d: %w", n, err)
		}
		if rec.FileSize > uint64(len(raw)) {
			return nil, fmt.Errorf("initramfs: %s: size %d beyond the archive", rec.Name, rec.FileSize)
		}
		data := make([]byte, rec.FileSize)
		if _, err := rec.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && rec.FileSize == 0) {
			return nil, fmt.Errorf("initramfs: %s: %w", rec.Name, err)
		}
		e := Entry{Path: rec.Name, Mode: rec.Mode, Size: int64(rec.FileSize)}
		if e.IsSymlink() {
			e.Link = string(data)
		} else if !e.IsDir() {
			e.Data = data
		}
		if _, seen := img.Entries[e.Path]; !seen {
			img.Order = append(img.Order, e.Path)
		}
		img.Entries[e.Path] = e
	}
	return img, nil
}

// ReadFile reads the image at path.
func ReadFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	img, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// ModuleList reads a list file of this folder (modules.txt, commands.txt): one name a line,
// blank lines and # comments ignored.
func ModuleList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, line)
	}
	return names, nil
}

// ModulesDep parses a modules.dep ("path: dep dep ...") into module file paths (relative to
// /lib/modules/KVER) and their dependencies.
func ModulesDep(data []byte) (map[string][]string, error) {
	deps := map[string][]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok || mod == "" {
			return nil, fmt.Errorf("initramfs: modules.dep line %d: no \"module:\" in %q", i+1, line)
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, nil
}

// ModuleName is the module name of a .ko path as modprobe compares them: base name without the
// .ko (and compression) suffix, '-' and '_' equivalent (normalized to '_').
func ModuleName(path string) string {
	base := path[strings.LastIndex(path, "/")+1:]
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}
