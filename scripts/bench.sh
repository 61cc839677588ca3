#!/usr/bin/env bash
# `make bench [BENCH=name]`: run every benchmark or one. Each prints a table
# and writes bench/results/NAME.json. Benchmarks are tests behind the
# "bench" build tag named TestBench<Name>; BENCH=exec_start picks
# TestBenchExecStart (case and underscores ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

export MK_BIN="$PWD/bin/mk"

# Debian tools some benchmarks drive, installed only when missing and only
# for a run that includes their benchmark: dnsperf and dnsmasq for dns
# (dnsmasq-base is the binary alone; the dnsmasq package would also start
# a system resolver on port 53).
install_missing() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if ((${#missing[@]})); then
    echo "bench: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
case "$(echo "${1:-all}" | tr -d '_' | tr '[:upper:]' '[:lower:]')" in
  all | dns) install_missing dnsperf:dnsperf dnsmasq:dnsmasq-base ;;
esac
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
