#!/usr/bin/env bash
# A short run ($FUZZTIME each, default 10s) of every fuzz target of every package.
set -euo pipefail
cd "$(dirname "$0")/.."
n=0
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $f"
    go test -run '^$' -fuzz "^${f}\$" -fuzztime "${FUZZTIME:-10s}" "$pkg"
    n=$((n + 1))
  done
done
echo "fuzz: $n targets run"
