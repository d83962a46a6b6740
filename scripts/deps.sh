#!/usr/bin/env bash
# Idempotent installation of everything airlock needs on a Debian bookworm machine, as root.
# Runs apt only when a listed package is missing, and works with empty apt lists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/debian-packages.txt" | grep -v '^\s*$')
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Go tools at pinned versions, installed into $GOBIN (default: $(go env GOPATH)/bin).
gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
declare -A tools=(
  [u-root]="github.com/u-root/u-root@v0.16.0"
  [staticcheck]="honnef.co/go/tools/cmd/staticcheck@v0.8.2"
)
for t in "${!tools[@]}"; do
  want=${tools[$t]}
  stamp="$gobin/.airlock-$t-${want##*@}"
  if [ ! -x "$gobin/$t" ] || [ ! -e "$stamp" ]; then
    echo "deps: go install $want"
    CGO_ENABLED=0 go install "$want"
    touch "$stamp"
  fi
done
