#!/usr/bin/env bash
# make demo: the main job on a built-in demo, with the real station (`airlock run` in host mode).
#
#   1. make the appliance's and the approver's keys (airlock keygen),
#   2. make a source tarball and sign an allowlist holding it (airlock allow),
#   3. make a demo USB stick image (FAT, mkfs.vfat + mcopy) with a signed Guix export from the
#      Guix vectors (guix/testdata/vectors) and the tarball, and attach it to a loop device (the "insert"),
#   4. run the station, answer its prompts as an operator would (operator ID, mode, then
#      sanitize the stick after the import and confirm the wipe), printing every line it shows,
#   5. end with PASS and the paths of the burned image, the audit log and the certificate.
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
vec=${AIRLOCK_VECTORS:-$top/guix/testdata/vectors}
[ -r "$vec/p2-only.export" ] && [ -r "$vec/one-acl" ] || die "Guix vectors not found in $vec"
for t in losetup mkfs.vfat mcopy xorriso minisign sha256sum; do
  command -v "$t" >/dev/null || die "$t not installed (make deps)"
done

W=${DEMO_DIR:-$top/build/demo}
rm -rf "$W"
mkdir -p "$W"/{keys,rules,stick,discs,spool}
W=$(cd "$W" && pwd)
loop=""
st_pid=""
cleanup() {
  [ -n "$st_pid" ] && kill "$st_pid" 2>/dev/null || true
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
}
trap cleanup EXIT

say "1/5 keys: airlock keygen --role appliance and --role approver in $W/keys"
"$bin" keygen --dir "$W/keys" --role appliance >/dev/null 2>"$W/keygen.err" ||
  die "airlock keygen --role appliance: $(cat "$W/keygen.err")"
"$bin" keygen --dir "$W/keys" --role approver >/dev/null 2>"$W/keygen.err" ||
  die "airlock keygen --role approver: $(cat "$W/keygen.err")"

say "2/5 a source tarball and the approver's signed allowlist"
mkdir -p "$W/src/hello-1.0"
printf 'hello, high side\n' >"$W/src/hello-1.0/README"
printf 'int main(void) { return 0; }\n' >"$W/src/hello-1.0/main.c"
tar -C "$W/src" --sort=name --mtime=@0 --owner=0 --group=0 -czf "$W/stick/hello-1.0.tar.gz" hello-1.0
"$bin" allow --key "$W/keys/approver.key" --out "$W/allowlist" "$W/stick/hello-1.0.tar.gz" 2>"$W/allow.err" ||
  die "airlock allow: $(cat "$W/allow.err")"
cp "$vec/p2-only.export" "$W/stick/quux-3.1.export"
cp "$vec/one-acl" "$W/acl"
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

say "3/5 the demo stick: FAT image with quux-3.1.export (Guix, signed by signer1) and hello-1.0.tar.gz"
img=$W/sticks/demo-stick.img
mkdir -p "$W/sticks"
truncate -s 64M "$img"
mkfs.vfat -n LOWSIDE "$img" >/dev/null
mcopy -i "$img" "$W/stick/quux-3.1.export" "$W/stick/hello-1.0.tar.gz" ::
size=$(stat -c %s "$img")

say "4/5 the station: airlock run --config $W/policy.toml --root $W --allow-loop"
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

say "5/5 checking: the disc with stock tools (xorriso extract, no mount; minisign; sha256sum -c), airlock verify, the log, the certificate"
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
say "PASS"
say "  image:       $image"
say "  audit log:   $log"
say "  certificate: $cert"
