#!/usr/bin/env bash
# Installs what mk's tests and `make dev` need. Today that is Go (already
# on the machine) and the module downloads; later issues add Debian
# packages (docker.io, slurm-wlm, munge, iptables) here, installed only when
# missing so a warm machine pays nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed; install Go 1.26 (https://go.dev/dl) and retry" >&2
  exit 1
fi
need=(curl)
missing=()
for pkg in "${need[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
go mod download
