#!/usr/bin/env bash
# `make bench [BENCH=name]`: run every benchmark or one. Each prints a table
# and writes bench/results/NAME.json. Benchmarks are tests behind the
# "bench" build tag named TestBench<Name>; BENCH=exec_start picks
# TestBenchExecStart (case and underscores ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

export MK_BIN="$PWD/bin/mk"
pattern='^TestBench'
if [ -n "${1:-}" ]; then
  want=$(echo "$1" | tr -d '_' | tr '[:upper:]' '[:lower:]')
  match=""
  for t in $(go test -tags bench -list '^TestBench' ./bench | grep '^TestBench'); do
    name=$(echo "${t#TestBench}" | tr '[:upper:]' '[:lower:]')
    [ "$name" = "$want" ] && match=$t
  done
  if [ -z "$match" ]; then
    echo "no benchmark named $1; there are: $(go test -tags bench -list '^TestBench' ./bench | grep '^TestBench' | sed 's/^TestBench//' | tr '\n' ' ')" >&2
    exit 1
  fi
  pattern="^${match}\$"
fi
out=$(mktemp)
status=0
go test -tags bench -count=1 -timeout 30m -run "$pattern" -v ./bench >"$out" 2>&1 || status=$?
grep -vE '^(=== RUN|--- PASS|PASS$|ok )|^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$out" || true
rm -f "$out"
exit $status
