#!/usr/bin/env bash
# make boot-medium [SITE=DIR]: the appliance's boot medium for real machines, one hybrid ISO image
# that boots
#   - from an optical disc (El Torito: a BIOS no-emulation entry and a UEFI entry), and
#   - from a USB stick written with dd (isohybrid: an MBR whose code loads GRUB, a protective GPT
#     with the EFI system partition, and an MBR partition table xorriso marks as such),
# on BIOS and on UEFI machines, with GRUB 2 from Debian's grub-pc-bin and grub-efi-amd64-bin.
#
# On the medium (an ISO 9660 + Rock Ridge file system, readable with any stock tool):
#   /boot/vmlinuz               the kernel (make image: build/vmlinuz-airlock)
#   /boot/initramfs.cpio.xz     the initramfs, with the site's folder installed as /etc/airlock
#   /boot/grub/grub.cfg         the one boot entry (serial and screen console)
#   /boot/grub/i386-pc/eltorito.img   GRUB's BIOS core (all modules built in)
#   /efi.img                    a FAT image with /EFI/BOOT/BOOTX64.EFI, GRUB's UEFI core
#   /SHA256SUMS                 sha256sum of the other files (not eltorito.img, which xorriso
#                               patches as it writes), for checking a written stick
# Both GRUB cores carry the same embedded config: find the file system whose ISO volume UUID
# (its fixed creation date) is this medium's, then read /boot/grub/grub.cfg from it. No module
# is loaded from the medium, so GRUB never reads a file other than grub.cfg, the kernel and the
# initramfs.
#
# Reproducible: grub-mkrescue is not (the FAT image gets a random serial and the build's times,
# the GPT a random disk GUID, the ISO the build's dates), so the image is assembled here from the
# same parts with every such value fixed: the FAT serial is derived from SOURCE_DATE_EPOCH and its
# times are SOURCE_DATE_EPOCH (mkfs.fat --invariant, mtools honours SOURCE_DATE_EPOCH), the ISO's
# dates and volume UUID are SOURCE_DATE_EPOCH (xorriso honours it too, and it is also given
# explicitly), the GPT disk GUID is derived from the volume UUID, and the cores are made with
# grub-mkimage, which writes no time. Two builds from the same inputs give the same bytes; the
# script prints the image's SHA-256 so that is easy to check.
#
# The site: SITE=DIR is the folder installed as /etc/airlock (as AIRLOCK_IMAGE_ETC for make image).
# Its secret keys must be passphrase-encrypted (airlock keygen --passphrase-file): the build
# refuses plaintext ones (go run ./bootmedium/cmd/checksecrets) unless DEMO=1. Without SITE it
# builds the demo medium from initramfs/etc (make image's DEMO policy and keys, plaintext, in
# the public tree) using make image's initramfs as it is; with SITE it builds a new initramfs
# (scripts/image.sh with AIRLOCK_IMAGE_ETC=SITE) under $OUT/initramfs.
#
# Environment: SITE, DEMO (1: allow plaintext secret keys), OUT (default build/boot-medium),
# NAME (default airlock-demo.iso or airlock-<basename of SITE>.iso), APPEND (more kernel
# parameters), SOURCE_DATE_EPOCH (default: the commit time), KERNEL and INITRAMFS (default
# make image's outputs, for the demo medium only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

die() { echo "boot-medium: $*" >&2; exit 2; }
say() { echo "boot-medium: $*"; }

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export PATH="$(go env GOPATH)/bin:$PATH"
export LC_ALL=C TZ=UTC
out=${OUT:-build/boot-medium}
grub_pc=/usr/lib/grub/i386-pc
grub_efi=/usr/lib/grub/x86_64-efi
for t in grub-mkimage xorriso mkfs.fat mmd mcopy sha256sum; do
  command -v "$t" >/dev/null || die "$t not installed: run make deps"
done
[ -f "$grub_pc/boot_hybrid.img" ] || die "$grub_pc missing: install grub-pc-bin (make deps)"
[ -f "$grub_efi/kernel.img" ] || die "$grub_efi missing: install grub-efi-amd64-bin (make deps)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

if [ -z "${SITE:-}" ]; then
  site=initramfs/etc
  demo=1
  name=${NAME:-airlock-demo.iso}
  kernel=${KERNEL:-build/vmlinuz-airlock}
  initramfs=${INITRAMFS:-build/airlock-initramfs.cpio.xz}
  if [ -n "${AIRLOCK_IMAGE_ETC:-}" ] && [ "$(realpath "$AIRLOCK_IMAGE_ETC")" != "$(realpath "$site")" ]; then
    die "AIRLOCK_IMAGE_ETC is set: build/ may hold a site's initramfs, not the demo's (use SITE=$AIRLOCK_IMAGE_ETC)"
  fi
  [ -f "$kernel" ] && [ -f "$initramfs" ] || die "$kernel or $initramfs missing: run make image"
else
  [ -d "$SITE" ] || die "SITE=$SITE is not a folder"
  [ -f "$SITE/policy.toml" ] || die "SITE=$SITE has no policy.toml"
  site=$SITE
  demo=${DEMO:-0}
  name=${NAME:-airlock-$(basename "$(realpath "$SITE")").iso}
fi

# Secret keys: refused in plaintext unless this is a demo.
go build -o "$stage/checksecrets" ./bootmedium/cmd/checksecrets || die "building bootmedium/cmd/checksecrets"
check=("$stage/checksecrets")
[ "$demo" = 1 ] && check+=(-demo)
"${check[@]}" "$site" || die "refusing $site (see above)"

if [ -n "${SITE:-}" ]; then
  say "initramfs with $site as /etc/airlock (scripts/image.sh)"
  AIRLOCK_IMAGE_ETC=$site OUT=$out/initramfs bash scripts/image.sh || die "make image for $site failed"
  kernel=$out/initramfs/vmlinuz-airlock
  initramfs=$out/initramfs/airlock-initramfs.cpio.xz
fi

# The medium's identity: an ISO volume UUID is its creation time as YYYYMMDDhhmmsscc; GRUB spells
# it YYYY-MM-DD-hh-mm-ss-cc. The GPT disk GUID and the FAT serial are derived from it.
vdate=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)00
guuid=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d-%H-%M-%S)-00
serial=$(printf '%08X' $((SOURCE_DATE_EPOCH & 0xffffffff)))
# The station's line view is on /dev/console, the last console= (the serial line); the kernel's
# own messages go to the screen too. quiet: they cost boot time (APPEND=loglevel=7 to see them).
# airlock.medium: the station refuses the disk with this volume UUID (its own boot stick) as an
# import or wipe target.
cmdline="console=tty0 console=ttyS0,115200 panic=-1 quiet airlock.medium=$guuid${APPEND:+ $APPEND}"

iso=$stage/iso
mkdir -p "$iso/boot/grub/i386-pc"
cp "$kernel" "$iso/boot/vmlinuz"
cp "$initramfs" "$iso/boot/initramfs.cpio.xz"

cat >"$stage/embedded.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $guuid
set prefix=(\$root)/boot/grub
configfile \$prefix/grub.cfg
EOF
cat >"$iso/boot/grub/grub.cfg" <<EOF
# airlock boot medium (scripts/boot-medium.sh): one entry, no menu.
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
echo "airlock: loading the kernel and initramfs from (\$root)"
linux /boot/vmlinuz $cmdline
initrd /boot/initramfs.cpio.xz
boot
EOF

# GRUB cores with every module they need built in (no /boot/grub/*/ module folders on the medium).
common_mods="iso9660 part_msdos part_gpt search search_fs_uuid configfile normal linux echo test serial terminal boot"
grub-mkimage -O i386-pc-eltorito -d "$grub_pc" -c "$stage/embedded.cfg" -p /boot/grub \
  -o "$iso/boot/grub/i386-pc/eltorito.img" biosdisk $common_mods ||
  die "grub-mkimage i386-pc-eltorito failed"
grub-mkimage -O x86_64-efi -d "$grub_efi" -c "$stage/embedded.cfg" -p /boot/grub \
  -o "$stage/BOOTX64.EFI" fat efi_gop efi_uga $common_mods ||
  die "grub-mkimage x86_64-efi failed"

# The EFI system partition image: FAT12, size rounded up to whole 64 KiB, fixed serial and times.
efisize=$(( ($(stat -c %s "$stage/BOOTX64.EFI") + 256 * 1024 + 65535) / 65536 * 64 ))
mkfs.fat --invariant -i "$serial" -n EFIBOOT -C "$iso/efi.img" "$efisize" >/dev/null || die "mkfs.fat efi.img failed"
touch -d "@$SOURCE_DATE_EPOCH" "$stage/BOOTX64.EFI"
mmd -i "$iso/efi.img" ::/EFI ::/EFI/BOOT || die "mmd efi.img failed"
mcopy -m -i "$iso/efi.img" "$stage/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI || die "mcopy efi.img failed"

# Every file but eltorito.img, which xorriso patches (its boot info table) while writing.
(cd "$iso" && find . -type f ! -name SHA256SUMS ! -name eltorito.img -printf '%P\n' | sort | xargs sha256sum >SHA256SUMS)
find "$iso" -type d -exec chmod 0755 {} +
find "$iso" -type f -exec chmod 0644 {} +
find "$iso" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# grub-mkrescue's xorriso layout (without its HFS+ part for Macs), every date and id fixed.
img=$out/$name
xorriso -as mkisofs -graft-points \
  -V AIRLOCK -volset AIRLOCK -publisher airlock -sysid LINUX \
  --modification-date="$vdate" \
  -b boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table \
  --grub2-boot-info --grub2-mbr "$grub_pc/boot_hybrid.img" \
  --efi-boot efi.img -efi-boot-part --efi-boot-image \
  --protective-msdos-label \
  -r -o "$img.tmp" "$iso" \
  -- \
  -volume_date c "$vdate" -volume_date m "$vdate" -volume_date x "$vdate" -volume_date f "$vdate" \
  -volume_date uuid "$vdate" -volume_date all_file_dates "=$SOURCE_DATE_EPOCH" \
  -boot_image any gpt_disk_guid=volume_date_uuid \
  >"$stage/xorriso.log" 2>&1 || { cat "$stage/xorriso.log" >&2; die "xorriso failed"; }
mv "$img.tmp" "$img"
touch -d "@$SOURCE_DATE_EPOCH" "$img"

size=$(stat -c %s "$img")
sum=$(sha256sum "$img" | cut -d' ' -f1)
echo "$sum  $name" >"$img.sha256"
awk -v f="$img" -v s="$size" 'BEGIN { printf "boot-medium: %s  %d bytes (%.1f MiB)\n", f, s, s / 1048576 }'
say "volume UUID $guuid (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH), kernel command line: $cmdline"
say "sha256 $sum  $name"
say "write it to a stick with: dd if=$img of=/dev/sdX bs=4M conv=fsync (then set the stick's write-protect switch)"
