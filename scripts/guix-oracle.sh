#!/usr/bin/env bash
# The real Guix, as the oracle of airlock's Guix tests: a Debian-unstable root with Debian's guix
# 1.5.0 package (bookworm has none), built once into a cache folder, and guix-daemons running in it.
#
#   guix-oracle.sh build            make the root once (idempotent; prints how long it took)
#   guix-oracle.sh start [STATE]    start a daemon (idempotent); prints its pid
#   guix-oracle.sh run [STATE] -- CMD...
#                                   run CMD in the root, talking to that daemon
#   guix-oracle.sh stop [STATE]     stop the daemon and release its mounts
#   guix-oracle.sh root             print the root's path
#
# STATE picks the store. Without it: the root's own /gnu/store, /var/guix and /etc/guix (the
# "main" store, signing key made by `guix archive --generate-key` at build time). With a host
# directory STATE: a scratch store of its own, empty at first. Its daemon runs in a private mount
# namespace (unshare -m) in which STATE/store, STATE/var and STATE/etc are bind-mounted over
# /gnu/store, /var/guix and /etc/guix of the root; `run STATE` enters that namespace (nsenter).
# Store paths stay /gnu/store/..., so exports move between stores as they do between machines;
# STATE/etc starts with a signing key of its own (guix archive --generate-key) and an empty ACL:
# nothing is authorized, not even the store's own key. guix-daemon cannot take another store or
# state directory without a rebuild, hence the namespaces.
# Removing STATE after `stop STATE` removes the scratch store.
#
# Needs root (debootstrap, chroot, mounts). The only network it uses is the Debian mirror apt is
# configured with here (AIRLOCK_DEBIAN_MIRROR overrides it). AIRLOCK_GUIX_ROOT (default
# /var/cache/airlock/guix-root) is the root. Costs about 1.1 GB of disk.
set -euo pipefail

ROOT=${AIRLOCK_GUIX_ROOT:-/var/cache/airlock/guix-root}
STAMP=$ROOT/.airlock-oracle   # written last by build; its content names what was built
WANT="guix-oracle 1: debian unstable, guix 1.5.0"
BUILD_USERS=10

die() { printf 'guix-oracle: %s\n' "$*" >&2; exit 1; }
say() { printf 'guix-oracle: %s\n' "$*" >&2; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"; }

built() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; }

# mirror prints the Debian mirror apt uses on this host (the only one reachable here).
mirror() {
  if [ -n "${AIRLOCK_DEBIAN_MIRROR:-}" ]; then echo "$AIRLOCK_DEBIAN_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' |
    grep -E '/debian/?$' | head -n1 || true)
  [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' |
    grep -E '/debian/?$' | head -n1 || true)
  [ -n "$m" ] || m=http://deb.debian.org/debian
  echo "${m%/}"
}

# mount_api binds /proc, /dev and /dev/pts into root $1 (once).
mount_api() {
  local r=$1
  mountpoint -q "$r/proc" || mount -t proc proc "$r/proc"
  mountpoint -q "$r/dev" || mount --bind /dev "$r/dev"
  mountpoint -q "$r/dev/pts" || mount --bind /dev/pts "$r/dev/pts"
}

umount_api() {
  local r=$1 m
  for m in dev/pts dev proc; do
    if mountpoint -q "$r/$m"; then umount "$r/$m" || umount -l "$r/$m"; fi
  done
}

in_root() { # in_root ROOT CMD...: a command in the root, with the environment guix wants
  local r=$1; shift
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    GUIX_LOCPATH= "$@"
}

build() {
  need_root
  if built; then say "root ready: $ROOT"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap not installed (make deps)"
  local t0 tmp m apt
  t0=$(date +%s)
  tmp=$ROOT.tmp
  m=$(mirror)
  exec 9>"$ROOT.lock"
  flock 9
  if built; then say "root ready: $ROOT"; return; fi
  if [ -d "$tmp" ]; then umount_api "$tmp"; rm -rf "$tmp"; fi
  mkdir -p "$(dirname "$ROOT")"
  say "building $ROOT from $m (debootstrap --variant=minbase unstable, then guix)"
  # The host's Debian keyring signs unstable too; its Release file's Valid-Until has passed on the
  # mirror reached here, which debootstrap does not check but apt does (hence the -o below).
  debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    unstable "$tmp" "$m" >"$tmp.log" 2>&1 || { tail -n 20 "$tmp.log" >&2; die "debootstrap failed (log: $tmp.log)"; }
  mount_api "$tmp"
  apt="apt-get -o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0 -y -q"
  in_root "$tmp" sh -c "$apt update && DEBIAN_FRONTEND=noninteractive $apt install --no-install-recommends guix" \
    >>"$tmp.log" 2>&1 || { umount_api "$tmp"; tail -n 20 "$tmp.log" >&2; die "apt-get install guix failed (log: $tmp.log)"; }
  in_root "$tmp" apt-get clean
  # minbase has neither the build users nor the store; the Debian package expects a guix-daemon
  # user that a root daemon does not need.
  in_root "$tmp" sh -euc "
    getent group guixbuild >/dev/null || groupadd --system guixbuild
    for i in \$(seq -w 1 $BUILD_USERS); do
      id guixbuilder\$i >/dev/null 2>&1 ||
        useradd -g guixbuild -G guixbuild -d /var/empty -s /usr/sbin/nologin -c 'Guix build user' --system guixbuilder\$i
    done
    mkdir -p /gnu/store /var/guix /var/log/guix /etc/guix
    chown root:guixbuild /gnu/store && chmod 1775 /gnu/store
    [ -f /etc/guix/signing-key.sec ] || guix archive --generate-key
  " >>"$tmp.log" 2>&1 || { umount_api "$tmp"; tail -n 20 "$tmp.log" >&2; die "setting up the store failed (log: $tmp.log)"; }
  in_root "$tmp" guix --version | head -n1 | grep -q ' 1\.5\.0$' || { umount_api "$tmp"; die "guix in $tmp is not 1.5.0"; }
  umount_api "$tmp"
  echo "$WANT" >"$tmp/.airlock-oracle"
  rm -rf "$ROOT" && mv "$tmp" "$ROOT" && mv "$tmp.log" "$ROOT.log"
  say "built $ROOT in $(($(date +%s) - t0)) s ($(du -sxh "$ROOT" | cut -f1) on disk; log: $ROOT.log)"
}

# statedir STATE prints STATE as an absolute path ("" for the main store).
statedir() {
  local s=${1:-}
  [ -z "$s" ] && return
  case $s in /*) ;; *) s=$PWD/$s ;; esac
  echo "$s"
}

pidfile() { # pidfile STATE
  if [ -z "$1" ]; then echo "$ROOT/run/airlock-guix-daemon.pid"; else echo "$1/daemon.pid"; fi
}

alive() { # alive STATE: the daemon of STATE runs
  local p
  p=$(pidfile "$1")
  [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null
}

daemon_cmd="guix-daemon --build-users-group=guixbuild --disable-chroot"

start() {
  need_root
  built || die "no oracle root at $ROOT (scripts/guix-oracle.sh build)"
  local s p
  s=$(statedir "${1:-}")
  p=$(pidfile "$s")
  mkdir -p "$(dirname "$p")"
  exec 8>"$p.lock"
  flock 8
  if alive "$s"; then cat "$p"; return; fi
  mount_api "$ROOT"
  if [ -z "$s" ]; then
    setsid chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
      $daemon_cmd >"$ROOT/var/log/guix/airlock-daemon.log" 2>&1 </dev/null &
    echo $! >"$p"
  else
    mkdir -p "$s/store" "$s/var" "$s/etc" "$s/log"
    chgrp "$(stat -c %g "$ROOT/gnu/store")" "$s/store" && chmod 1775 "$s/store"
    # An explicit empty ACL: without one, Guix's ensure-acl would authorize the store's own key.
    [ -f "$s/etc/acl" ] || echo '(acl)' >"$s/etc/acl"
    # A private mount namespace holds the binds; the daemon (exec'd, so $! is its pid) keeps
    # it alive, and run/stop find it through the pid.
    setsid unshare -m --propagation private sh -c '
      r=$1 s=$2; shift 2
      mount --bind "$s/store" "$r/gnu/store"
      mount --bind "$s/var" "$r/var/guix"
      mount --bind "$s/etc" "$r/etc/guix"
      mount --bind "$s/log" "$r/var/log/guix"
      exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"
    ' sh "$ROOT" "$s" $daemon_cmd >"$s/daemon.log" 2>&1 </dev/null &
    echo $! >"$p"
  fi
  # The daemon is ready when its socket accepts a client.
  local i
  for i in $(seq 1 100); do
    if run_in "$s" guix gc --list-roots >/dev/null 2>&1; then
      # Each scratch store signs its exports with a key of its own.
      [ -z "$s" ] || [ -f "$s/etc/signing-key.sec" ] || run_in "$s" guix archive --generate-key >>"$s/daemon.log" 2>&1
      cat "$p"
      return
    fi
    alive "$s" || break
    sleep 0.1
  done
  die "guix-daemon did not come up (log: ${s:-$ROOT/var/log/guix}/$([ -n "$s" ] && echo daemon.log || echo airlock-daemon.log))"
}

run_in() { # run_in STATE CMD...
  local s=$1; shift
  if [ -z "$s" ]; then
    in_root "$ROOT" "$@"
  else
    nsenter -t "$(cat "$(pidfile "$s")")" -m -- chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LC_ALL=C.UTF-8 GUIX_LOCPATH= "$@"
  fi
}

run() {
  need_root
  local s=""
  if [ $# -gt 0 ] && [ "$1" != -- ]; then s=$(statedir "$1"); shift; fi
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || die "run: no command"
  alive "$s" || start "$s" >/dev/null
  run_in "$s" "$@"
}

stop() {
  need_root
  local s p
  s=$(statedir "${1:-}")
  p=$(pidfile "$s")
  if alive "$s"; then
    kill "$(cat "$p")"
    for _ in $(seq 1 50); do alive "$s" || break; sleep 0.1; done
  fi
  rm -f "$p"
  # The main daemon's stop also releases the root's mounts (scratch namespaces die with theirs).
  [ -n "$s" ] || umount_api "$ROOT"
}

case ${1:-} in
build) build ;;
start) start "${2:-}" ;;
run) shift; run "$@" ;;
stop) stop "${2:-}" ;;
root) echo "$ROOT" ;;
*) die "usage: guix-oracle.sh build | start [STATE] | run [STATE] -- CMD... | stop [STATE] | root" ;;
esac
