#!/usr/bin/env bash
# scripts/bench-ab.sh OLD [NEW] [PAIRS]: compare the register benchmark of
# two commits (NEW defaults to the working tree) at 64 writers, in
# interleaved runs, because this machine's speed drifts by ±30 % within an
# hour and runs minutes apart cannot be compared. Prints each run and the
# mean ops/s and CPU ms per register of each side. Environment: TMPDIR
# (data dirs; /dev/shm takes the disk out), MK_BENCH_ROW (row length).
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: scripts/bench-ab.sh OLD_REV [NEW_REV] [PAIRS]}
new=${2:-}
pairs=${3:-4}
work=$(mktemp -d)
trap 'for s in old new; do git worktree remove --force "$work/src-$s" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

build() { # build REV DEST: the binary of a commit, or of the working tree
  if [ -z "$1" ]; then go build -o "$2" . ; return; fi
  local src="$work/src-$(basename "$2")"
  git worktree add -q --detach "$src" "$1"
  (cd "$src" && go build -o "$2" .)
}
build "$old" "$work/old"
build "$new" "$work/new"

for i in $(seq "$pairs"); do
  for side in old new; do
    row=$(MK_BIN="$work/$side" MK_BENCH_WRITERS=64 go test -tags bench -count=1 \
      -run '^TestBenchRegister$' -v ./bench 2>&1 | grep -E '^64 ' || true)
    echo "$side $row"
  done
done | tee "$work/runs"
awk '{ ops[$1]+=$4; cpu[$1]+=$8; n[$1]++ }
  END { for (s in n) printf "%s: %d runs, mean %.0f ops/s, %.2f cpu ms/op\n", s, n[s], ops[s]/n[s], cpu[s]/n[s] }' "$work/runs"
