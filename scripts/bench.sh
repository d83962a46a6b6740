#!/usr/bin/env bash
# Runs every benchmark (tests named TestBench* in files tagged `bench`) and prints one table:
# what, peer, ratio (ours/peer, same run), target, our throughput, our peak RSS; a row that misses
# its target fails its test, so the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -tags bench -run '^TestBench' -p 1 -count 1 -timeout 80m -v ./... >"$log" 2>&1 || status=$?
grep -v '^BENCHROW' "$log" | grep -E '^(--- FAIL|FAIL|ok|panic)' || true
echo
{
  printf 'what\tpeer\tratio (ours/peer)\ttarget\tour throughput\tour peak RSS\tnote\n'
  grep '^BENCHROW' "$log" | cut -f2-
} | column -t -s $'\t'
if [ "$status" -ne 0 ]; then
  echo "bench: some benchmarks failed (exit $status); full log:" >&2
  grep -E -B5 -A20 -- '--- FAIL' "$log" >&2 || tail -50 "$log" >&2
fi
exit "$status"
