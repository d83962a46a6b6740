#!/usr/bin/env bash
# make image: the appliance's boot image under build/:
#   build/vmlinuz-airlock              the kernel (Debian linux-image-amd64, as installed)
#   build/airlock-initramfs.cpio.xz    u-root v0.16.0 initramfs with the static airlock as uinit
#   build/airlock-image.sha256         sha256sum of both
#
# Contents of the initramfs (initramfs/ holds the lists):
#   u-root's busybox with the commands in initramfs/commands.txt (init, gosh, a few file tools; no
#   network commands), /bin/airlock (bin/airlock-static, `make build-static`) started by init as
#   `/bin/airlock run --boot --config /etc/airlock/policy.toml`, /usr/bin/xorriso with its shared libraries,
#   the kernel modules of initramfs/modules.txt with their dependencies and a modules.dep for exactly
#   those files, and /etc/airlock (policy, public and appliance keys, allowlist, Guix ACL, YARA rules,
#   the module load list) from $AIRLOCK_IMAGE_ETC (default: initramfs/etc, the DEMO policy and keys).
#
# Reproducible: u-root builds its busybox with -trimpath and no build ID and writes every cpio record
# with mtime 0, uid/gid 0 and sorted names; xz runs single-threaded with fixed settings; the kernel
# copy gets SOURCE_DATE_EPOCH (default: the commit time) as its mtime. Two runs from the same commit
# (same bin/airlock-static, same installed kernel and xorriso) give the same bytes; the script prints
# the SHA-256s so that is easy to check.
#
# Works offline once the module cache holds u-root v0.16.0 and its dependencies (it fills the cache
# through the Go module proxy otherwise).
#
# Environment: AIRLOCK_STATIC_BIN (default bin/airlock-static), AIRLOCK_IMAGE_ETC (default
# initramfs/etc), KVER (default: the newest kernel with both /boot/vmlinuz-KVER and /lib/modules/KVER),
# IMAGE_MAX_BYTES (default 24 MiB), OUT (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

uroot_version=v0.16.0
out=${OUT:-build}
bin=${AIRLOCK_STATIC_BIN:-bin/airlock-static}
case $bin in /*) ;; *) bin=$root/$bin ;; esac # make exports it absolute
etc=${AIRLOCK_IMAGE_ETC:-initramfs/etc}
max=${IMAGE_MAX_BYTES:-$((24 << 20))}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export PATH="$(go env GOPATH)/bin:$PATH"

die() { echo "image: $*" >&2; exit 2; }

[ -x "$bin" ] || die "$bin missing: run make build-static"
readelf -h "$bin" >/dev/null 2>&1 || die "$bin is not an ELF executable"
if readelf -l "$bin" 2>/dev/null | grep -q 'INTERP'; then
  die "$bin is dynamically linked (the initramfs has no libc for it): make build-static"
fi
[ -f "$etc/policy.toml" ] || die "$etc/policy.toml missing (AIRLOCK_IMAGE_ETC)"
command -v u-root >/dev/null || die "u-root not on PATH: run make deps"
command -v xorriso >/dev/null || die "xorriso not installed: run make deps"

if [ -z "${KVER:-}" ]; then
  for v in $(ls /lib/modules | sort -V); do
    [ -f "/boot/vmlinuz-$v" ] && KVER=$v
  done
fi
[ -n "${KVER:-}" ] && [ -f "/boot/vmlinuz-$KVER" ] || die "no kernel: install linux-image-amd64 (make deps)"

mkdir -p "$out"
stage=$(mktemp -d "$root/$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Kernel modules: each listed module with everything modprobe would load before it (dependencies
# and soft dependencies), then depmod over exactly those files.
grep -v '^\s*#' initramfs/modules.txt | grep -v '^\s*$' >"$stage/modules.list"
mods="$stage/lib/modules/$KVER"
mkdir -p "$mods"
while read -r m; do
  modprobe -S "$KVER" --show-depends "$m" >"$stage/deps" 2>&1 || die "module $m: $(cat "$stage/deps")"
  grep -q '^insmod ' "$stage/deps" || die "module $m is built in or missing in $KVER: $(cat "$stage/deps")"
  awk '$1 == "insmod" { print $2 }' "$stage/deps" | while read -r ko; do
    rel=${ko#/lib/modules/$KVER/}
    mkdir -p "$mods/$(dirname "$rel")"
    cp "$ko" "$mods/$rel"
  done
done <"$stage/modules.list"
cp "/lib/modules/$KVER/modules.builtin" "/lib/modules/$KVER/modules.builtin.modinfo" "$mods/"
(cd "$mods" && find kernel -name '*.ko*' | sort >"$stage/ours")
grep -Fx -f "$stage/ours" "/lib/modules/$KVER/modules.order" >"$mods/modules.order" || true
depmod -b "$stage" "$KVER"
rm -f "$mods"/*.bin "$mods/modules.builtin.modinfo" "$mods/modules.symbols"
netmods=$(find "$mods" -name '*.ko*' \( -path '*/drivers/net/*' -o -path '*/kernel/net/*' \))
[ -z "$netmods" ] || die "a network module slipped in: $netmods"

nmods=$(find "$mods" -name '*.ko*' | wc -l)

# /etc/airlock: policy, keys, rules, and the module load order for the station's boot duties.
mkdir -p "$stage/etc"
cp -r "$etc" "$stage/etc/airlock"
grep -v '^\s*#' initramfs/modules.txt | grep -v '^\s*$' >"$stage/etc/airlock/modules"
# Modes as a fresh checkout would not fix them (git keeps only the x bit): 0755 dirs, 0644 files,
# 0600 secret keys.
find "$stage/etc/airlock" "$mods" -type d -exec chmod 0755 {} +
find "$stage/etc/airlock" "$mods" -type f -exec chmod 0644 {} +
find "$stage/etc/airlock" -type f \( -name '*.key' -o -name '*.sec' \) -exec chmod 0600 {} +
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# u-root resolves Go command paths with `go list` in its working directory, so it runs inside its
# own module as the module cache holds it; `go mod download -json` fills the cache if needed and
# says where it is. GOFLAGS=-mod=mod lets go fetch a missing dependency of a listed command.
src=$(go mod download -json "github.com/u-root/u-root@$uroot_version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[ -d "$src/cmds/core" ] || die "u-root $uroot_version source not found in the module cache"
cmds=()
while read -r c; do cmds+=("./cmds/core/$c"); done < <(grep -v '^\s*#' initramfs/commands.txt | grep -v '^\s*$')
(cd "$src" && GOFLAGS=-mod=mod go list -deps "${cmds[@]}" >/dev/null) || die "u-root commands do not resolve"

cpio="$root/$out/airlock-initramfs.cpio"
rm -f "$cpio"
echo "image: u-root $uroot_version (${#cmds[@]} commands), airlock $(basename "$bin"), xorriso, $nmods modules for $KVER"
(
  cd "$src"
  GOFLAGS=-mod=mod u-root -o "$cpio" \
    -files "$bin:bin/airlock" \
    -files "$(command -v xorriso):usr/bin/xorriso" \
    -files "$stage/lib/modules:lib/modules" \
    -files "$stage/etc/airlock:etc/airlock" \
    -uinitcmd "/bin/airlock run --boot --config /etc/airlock/policy.toml" \
    "${cmds[@]}"
) >"$stage/u-root.log" 2>&1 || { cat "$stage/u-root.log" >&2; die "u-root failed"; }

# Written beside and renamed, so a VM never boots a half-written image.
xz -T1 -9 --check=crc32 -c "$cpio" >"$cpio.xz.tmp"
rm -f "$cpio"
mv "$cpio.xz.tmp" "$cpio.xz"
cp "/boot/vmlinuz-$KVER" "$out/vmlinuz-airlock.tmp"
mv "$out/vmlinuz-airlock.tmp" "$out/vmlinuz-airlock"
echo "$KVER" >"$out/vmlinuz-airlock.version"
touch -d "@$SOURCE_DATE_EPOCH" "$cpio.xz" "$out/vmlinuz-airlock" "$out/vmlinuz-airlock.version"
(cd "$out" && sha256sum airlock-initramfs.cpio.xz vmlinuz-airlock >airlock-image.sha256)

size=$(stat -c %s "$cpio.xz")
awk -v f="$out/airlock-initramfs.cpio.xz" -v s="$size" -v m="$max" \
  'BEGIN { printf "image: %s  %d bytes (%.1f MiB compressed, budget %.0f MiB)\n", f, s, s / 1048576, m / 1048576 }'
printf 'image: %s  kernel %s\n' "$out/vmlinuz-airlock" "$KVER"
sed 's/^/image: sha256 /' "$out/airlock-image.sha256"
[ "$size" -le "$max" ] || die "initramfs is $size bytes, over the budget of $max"
