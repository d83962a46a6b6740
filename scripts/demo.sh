#!/usr/bin/env bash
# make demo: the main job on a built-in demo, with the real station (`airlock run` in host mode).
#
#   1. make the appliance's and the approver's keys (airlock keygen),
#   2. make a source tarball and sign an allowlist holding it (airlock allow),
#   3. on the low side, a real Guix (scripts/guix-oracle.sh: guix-daemon 1.5.0 on a scratch store)
#      adds the tarball (guix download file://) and an item referencing it (guix repl) to its store
#      and exports the closure (guix archive --export -r); the policy's Guix ACL authorizes that
#      daemon's key (airlock guix acl add); a demo USB stick image (FAT, mkfs.vfat + mcopy) gets the
#      export and the tarball, and is attached to a loop device (the "insert"),
#   4. run the station, answer its prompts as an operator would (operator ID, mode, then
#      sanitize the stick after the import and confirm the wipe), printing every line it shows,
#   5. check the disc, the log and the certificate with stock tools and airlock verify,
#   6. on the high side, a fresh Guix store authorizes the appliance's Guix key and imports the
#      export read from the disc (guix archive --import), then guix gc --verify=contents,
#   then end with PASS and the paths of the burned image, the audit log and the certificate.
#
# It never pretends: a step whose part is missing or fails stops the demo with exit 1 and says
# which. Needs root (loop devices). DEMO_DIR (default build/demo) keeps everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
bin=$top/bin/airlock
say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (loop devices): run make demo as root"
[ -x "$bin" ] || die "$bin missing (make build)"
G=$top/scripts/guix-oracle.sh
groot=$(bash "$G" root)
[ -f "$groot/.airlock-oracle" ] || die "no real Guix at $groot (make guix-oracle builds it)"
for t in losetup mkfs.vfat mcopy xorriso minisign sha256sum; do
  command -v "$t" >/dev/null || die "$t not installed (make deps)"
done

W=${DEMO_DIR:-$top/build/demo}
for s in "$W/guix-low" "$W/guix-high"; do [ -d "$s" ] && bash "$G" stop "$s"; done
chmod -R u+w "$W" 2>/dev/null || true # store items are read-only
rm -rf "$W"
mkdir -p "$W"/{keys,rules,stick,discs,spool}
W=$(cd "$W" && pwd)
loop=""
st_pid=""
gx=""
cleanup() {
  [ -n "$st_pid" ] && kill "$st_pid" 2>/dev/null || true
  for s in "$W/guix-low" "$W/guix-high"; do [ -d "$s" ] && bash "$G" stop "$s"; done
  [ -n "$gx" ] && rm -rf "$gx"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
}
trap cleanup EXIT

say "1/6 keys: airlock keygen --role appliance and --role approver in $W/keys"
"$bin" keygen --dir "$W/keys" --role appliance >/dev/null 2>"$W/keygen.err" ||
  die "airlock keygen --role appliance: $(cat "$W/keygen.err")"
"$bin" keygen --dir "$W/keys" --role approver >/dev/null 2>"$W/keygen.err" ||
  die "airlock keygen --role approver: $(cat "$W/keygen.err")"

say "2/6 a source tarball and the approver's signed allowlist"
mkdir -p "$W/src/hello-1.0"
printf 'hello, high side\n' >"$W/src/hello-1.0/README"
printf 'int main(void) { return 0; }\n' >"$W/src/hello-1.0/main.c"
tar -C "$W/src" --sort=name --mtime=@0 --owner=0 --group=0 -czf "$W/stick/hello-1.0.tar.gz" hello-1.0
"$bin" allow --key "$W/keys/approver.key" --out "$W/allowlist" "$W/stick/hello-1.0.tar.gz" 2>"$W/allow.err" ||
  die "airlock allow: $(cat "$W/allow.err")"

say "3/6 the low side: a real Guix stores the tarball and an item referencing it, and exports them"
gx=$(mktemp -d "$groot/tmp/airlock-demo-XXXXXX") # a directory the guix commands see as $gin
gin=/tmp/${gx##*/}
guix_low() { bash "$G" run "$W/guix-low" -- "$@"; }
guix_high() { bash "$G" run "$W/guix-high" -- "$@"; }
bash "$G" start "$W/guix-low" >/dev/null || die "guix-daemon (low side) did not start"
cp "$W/stick/hello-1.0.tar.gz" "$gx/"
gsrc=$(guix_low guix download "file://$gin/hello-1.0.tar.gz" 2>"$W/guix.err" | head -n1)
[ -n "$gsrc" ] || die "guix download: $(cat "$W/guix.err")"
cat >"$gx/make.scm" <<EOF
(use-modules (guix store))
(with-store s
  (display (add-text-to-store s "hello-1.0-manifest" "built from $gsrc\n" (list "$gsrc"))))
EOF
gtop=$(guix_low guix repl -- "$gin/make.scm" 2>"$W/guix.err") || die "guix repl: $(cat "$W/guix.err")"
guix_low guix archive --export -r "$gtop" >"$W/stick/hello-1.0.export" 2>"$W/guix.err" ||
  die "guix archive --export: $(cat "$W/guix.err")"
printf '  guix    | %s\n' "$gsrc" "$gtop" "guix archive --export -r: $(stat -c %s "$W/stick/hello-1.0.export") bytes"
"$bin" guix acl --acl "$W/acl" add "$W/guix-low/etc/signing-key.pub" 2>"$W/guix.err" ||
  die "airlock guix acl add: $(cat "$W/guix.err")"
cat >"$W/rules/eicar.yar" <<'EOF'
rule EICAR_test_file {
  strings: $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition: $eicar
}
EOF
cat >"$W/policy.toml" <<EOF
# Demo policy (scripts/demo.sh): every path is relative to this file.
station = "airlock-demo"
modes   = ["import", "sanitize", "check"]
[keys]
dir = "keys"
[import]
allowlist     = "allowlist"
approver_keys = ["keys/approver.pub"]
guix_acl      = "acl"
resign_guix   = true
yara_rules    = ["rules/eicar.yar"]
spool_dir     = "spool"
spool_max     = "1GiB"
[sanitize]
method       = "zero"
verify       = "full"
after_import = "ask"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
state_dir = "state"
[leds]
ready     = "demo::ready"
busy      = "demo::busy"
attention = "demo::attention"
pass      = "demo::pass"
fail      = "demo::fail"
EOF

say "   the demo stick: FAT image with hello-1.0.export (signed by the low side's guix-daemon) and hello-1.0.tar.gz"
img=$W/sticks/demo-stick.img
mkdir -p "$W/sticks"
truncate -s 64M "$img"
mkfs.vfat -n LOWSIDE "$img" >/dev/null
mcopy -i "$img" "$W/stick/hello-1.0.export" "$W/stick/hello-1.0.tar.gz" ::
size=$(stat -c %s "$img")

say "4/6 the station: airlock run --config $W/policy.toml --root $W --allow-loop"
coproc ST { exec "$bin" run --config "$W/policy.toml" --root "$W" --allow-loop 2>&1; }
st_pid=$ST_PID
exec {st_out}<&"${ST[0]}" {st_in}>&"${ST[1]}"
image="" log="" cert="" passes=0 fail=""
answer() { printf '%s\n' "$1" >&"$st_in"; printf '          > %s\n' "$1"; }
while IFS= read -r -t 300 line <&"$st_out"; do
  line=${line//$'\a'/}
  case "$line" in
    "airlock: led "*|"airlock: progress "*) ;;    # shown on LEDs and the full-screen view
    *) printf '  station | %s\n' "$line" ;;
  esac
  case "$line" in
    "airlock: state READY")
      if [ -z "$loop" ]; then
        loop=$(losetup -f --show "$img")
        say "   inserting the stick: $loop"
      elif [ "$passes" -ge 2 ] || [ -n "$fail" ]; then
        break
      fi ;;
    "airlock: prompt operator:"*) answer demo-operator ;;
    "airlock: prompt mode:"*) answer import ;;
    "airlock: prompt sanitize-after-import:"*) answer yes ;;
    "airlock: prompt confirm-wipe:"*) answer "${size: -4}" ;;
    "airlock: output image "*) image=${line#airlock: output image } ;;
    "airlock: output log "*) log=${line#airlock: output log } ;;
    "airlock: output certificate "*) cert=${line#airlock: output certificate } ;;
    "airlock: PASS "*) passes=$((passes + 1)) ;;
    "airlock: FAIL "*) fail=${line#airlock: FAIL } ;;
  esac
done
kill "$st_pid" 2>/dev/null || true
wait "$st_pid" 2>/dev/null || true
st_pid=""
[ -z "$fail" ] || die "the station said FAIL: $fail"
[ "$passes" -ge 2 ] && [ -n "$image" ] && [ -n "$cert" ] || die "the station stopped before PASS (see its lines above)"

say "5/6 checking: the disc with stock tools (xorriso extract, no mount; minisign; sha256sum -c), airlock verify, the log, the certificate"
x=$W/disc
rm -rf "$x"
xorriso -osirrox on -indev "$image" -extract / "$x" >/dev/null 2>&1 || die "xorriso could not extract $image"
(cd "$x" && minisign -Vm SHA256SUMS -p "$W/keys/seal.pub" && sha256sum -c SHA256SUMS) >"$W/check.out" 2>&1 ||
  { sed 's/^/  check   | /' "$W/check.out"; die "the disc does not verify with minisign + sha256sum"; }
sed 's/^/  check   | /' "$W/check.out"
"$bin" verify --pub "$W/keys/seal.pub" --log-vkey "$W/keys/log.vkey" --state "$W/verify-state" "$image" | sed 's/^/  check   | /' ||
  die "airlock verify refuses the disc"
"$bin" log verify --dir "$log" --vkey "$W/keys/log.vkey" | sed 's/^/  check   | /' || die "the audit log does not verify"
minisign -Vm "$cert" -p "$W/keys/seal.pub" | sed 's/^/  check   | /' || die "the certificate does not verify with minisign"

say "6/6 the high side: a fresh Guix store imports the export read from the disc"
bash "$G" start "$W/guix-high" >/dev/null || die "guix-daemon (high side) did not start"
from_disc=$x/bundle/hello-1.0.export
[ -r "$from_disc" ] || die "the disc has no bundle/hello-1.0.export"
key=$W/keys/guix-signing-key.pub
if cmp -s "$from_disc" "$W/stick/hello-1.0.export"; then
  # Not pretended away: the station burned the export as the low side signed it.
  say "   NOTE: the disc carries the export as the low side signed it (the station did not re-sign it"
  say "   with the appliance's Guix key), so the high side authorizes the low side's key instead"
  key=$W/guix-low/etc/signing-key.pub
fi
guix_high guix archive --authorize <"$key" 2>"$W/guix.err" || die "guix archive --authorize: $(cat "$W/guix.err")"
guix_high guix archive --import <"$from_disc" 2>&1 | sed 's/^/  guix    | /' ||
  die "guix archive --import refuses the export from the disc"
guix_high guix gc --verify=contents 2>&1 | sed 's/^/  guix    | /' || die "guix gc --verify=contents fails after the import"
guix_high guix gc --requisites "$gtop" | sed 's/^/  guix    | imported /' || die "$gtop is not in the high side's store"
say "PASS"
say "  image:       $image"
say "  audit log:   $log"
say "  certificate: $cert"
