#!/usr/bin/env bash
# The QEMU demo: the real boot image, a hot-plugged stick, a "burn" onto a file-backed disk.
#
#   1. the boot image (make image: build/vmlinuz-airlock + build/airlock-initramfs.cpio.xz, with
#      the DEMO policy and keys of initramfs/etc),
#   2. a demo low-side stick: FAT image with a Guix export signed by the key of the image's ACL
#      (guix/testdata/vectors/p2-only.export) and the source tarball of the image's
#      approver-signed allowlist (initramfs/etc/allowlist, signed with initramfs/demo/approver.key),
#   3. QEMU (TCG) boots the image with a zeroed target disk (guest /dev/vda, the burn drive of
#      the demo policy) and a FAT audit log disk (/dev/vdb, label AIRLOCK-LOG); the stick is
#      hot-plugged through QMP and the operator prompts are answered on the serial console
#      (hwtest/cmd/qemudemo),
#   4. on the host: the target disk is checked with airlock verify and with stock xorriso
#      (extract, no mount) + minisign + sha256sum -c,
#   5. the demo boot medium (make boot-medium: build/boot-medium/airlock-demo.iso) booted by
#      QEMU's UEFI firmware from a CD, not handed to QEMU as a kernel, until the station is READY.
#
# Ends with PASS and the artifact paths, or stops with exit 1 naming the step that failed.
# DEMO_DIR (default build/demo-qemu) keeps everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

bin=$top/bin/airlock
[ -x "$bin" ] || die "$bin missing (make build)"
vec=${AIRLOCK_VECTORS:-$top/guix/testdata/vectors}
[ -r "$vec/p2-only.export" ] && [ -r "$vec/quux-3.1.tar.xz" ] || die "Guix vectors not found in $vec"
for t in qemu-system-x86_64 mkfs.fat mcopy xorriso minisign sha256sum; do
  command -v "$t" >/dev/null || die "$t not installed (make deps)"
done

say "1/4 the boot image"
if [ ! -f build/airlock-initramfs.cpio.xz ] || [ ! -f build/vmlinuz-airlock ]; then
  bash scripts/image.sh || die "make image failed"
fi
ls -l build/vmlinuz-airlock build/airlock-initramfs.cpio.xz | sed 's/^/  image   | /'

W=${DEMO_DIR:-$top/build/demo-qemu}
rm -rf "$W"
mkdir -p "$W/stick"
W=$(cd "$W" && pwd)

say "2/4 the demo stick: quux-3.1.export (Guix, signed by signer1) and quux-3.1.tar.xz (allowlisted)"
cp "$vec/p2-only.export" "$W/stick/quux-3.1.export"
cp "$vec/quux-3.1.tar.xz" "$W/stick/quux-3.1.tar.xz"
truncate -s 32M "$W/stick.img"
mkfs.fat -n LOWSIDE "$W/stick.img" >/dev/null
mcopy -i "$W/stick.img" "$W/stick/quux-3.1.export" "$W/stick/quux-3.1.tar.xz" ::
truncate -s 64M "$W/target.img"
truncate -s 32M "$W/auditlog.img"
mkfs.fat -n AIRLOCK-LOG "$W/auditlog.img" >/dev/null

say "3/4 QEMU: boot, hot-plug the stick, answer the prompts"
go build -o "$W/qemudemo" ./hwtest/cmd/qemudemo || die "building hwtest/cmd/qemudemo"
"$W/qemudemo" -kernel build/vmlinuz-airlock -initrd build/airlock-initramfs.cpio.xz \
  -stick "$W/stick.img" -target "$W/target.img" -log "$W/auditlog.img" ||
  die "the station did not PASS the import (its lines are above)"

say "4/4 checking the burned target on the host"
pub=$top/initramfs/etc/keys/seal.pub
x=$W/disc
xorriso -osirrox on -indev "$W/target.img" -extract / "$x" >/dev/null 2>&1 || die "xorriso could not extract $W/target.img"
(cd "$x" && minisign -Vm SHA256SUMS -p "$pub" && sha256sum -c SHA256SUMS) 2>&1 | sed 's/^/  check   | /'
[ "${PIPESTATUS[0]}" = 0 ] || die "the disc does not verify with minisign + sha256sum"
"$bin" verify --pub "$pub" "$W/target.img" 2>&1 | sed 's/^/  check   | /'
[ "${PIPESTATUS[0]}" = 0 ] || die "airlock verify refuses the disc"
iso=build/boot-medium/airlock-demo.iso
say "boot medium: $iso (make boot-medium) booted by QEMU's firmware from a CD, UEFI (OVMF)"
[ -f "$iso" ] || bash scripts/boot-medium.sh || die "make boot-medium failed"
go run ./bootmedium/cmd/mediumboot -as cd -firmware ovmf "$iso" || die "the boot medium did not boot to READY"
say "PASS"
say "  burned image (target disk): $W/target.img"
say "  extracted disc:             $x"
say "  audit log disk:             $W/auditlog.img"
