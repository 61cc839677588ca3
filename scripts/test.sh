#!/usr/bin/env bash
# The whole test suite, as CI runs it. Packages with concurrency run under
# the race detector; the fuzz targets run briefly on top of their committed
# corpus (which also runs as plain tests).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
echo "==> go vet"
go vet ./...

export MK_BIN="$PWD/bin/mk"
echo "==> Docker Engine (installed and started when missing; mk/busybox:test built)"
# dockerd is stopped at the end only when this run started it.
started_dockerd=
docker version >/dev/null 2>&1 || started_dockerd=1
scripts/docker.sh
if [ -n "$started_dockerd" ]; then
  trap 'scripts/docker.sh stop' EXIT
fi
echo "==> unit and cluster tests (race detector on the concurrent packages)"
go test -count=1 -race -timeout 10m ./server/... ./client/... ./drivers/... ./testutil/... ./api/...
echo "==> end-to-end tests, race detector on (real processes: needs root and cgroups)"
go test -count=1 -race -timeout 15m ./e2e/...
echo "==> parser, validation and CLI tests"
go test -count=1 -timeout 10m ./structs/... ./jobspecs/... ./command/...
echo "==> fuzzing (brief)"
# Counted runs, not timed ones: a timed run can end while a worker is
# minimizing an input and fail with "context deadline exceeded".
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 50000x -fuzzminimizetime 200x ./jobspecs
go test -run '^$' -fuzz '^FuzzValidate$' -fuzztime 150000x -fuzzminimizetime 200x ./structs
go test -run '^$' -fuzz '^FuzzSplitBatch$' -fuzztime 20000x -fuzzminimizetime 200x ./structs
