#!/usr/bin/env bash
# gofmt, go vet and staticcheck (pinned, fetched through the module proxy).
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags bench ./bench
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags bench ./bench
# The generated msgpack code must match the types it codes.
gen=structs/structs.generated.go
cp "$gen" "$gen.lint"
scripts/codecgen.sh
if ! cmp -s "$gen" "$gen.lint"; then
  mv "$gen.lint" "$gen"
  echo "$gen is out of date: run go generate ./structs and commit it" >&2
  exit 1
fi
rm -f "$gen.lint"
