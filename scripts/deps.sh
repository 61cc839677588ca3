#!/usr/bin/env bash
# Installs what mk's tests and `make dev` need: Go (already on the
# machine), the module downloads, and the Debian packages below.
# docker.io (and a running dockerd)
# is scripts/docker.sh's, which make test and make dev run. Packages are
# installed only when missing, so a warm machine pays nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed; install Go 1.26 (https://go.dev/dl) and retry" >&2
  exit 1
fi
# command:package pairs. The e2e tests make network namespaces (ip) and
# run agents in them (nsenter); tasks that serve HTTP run busybox httpd;
# the pod network and the service proxy program iptables or nftables and
# clear conntrack entries; the multi-host tests ping and dig; the
# gpu-slurm tests run a Slurm cluster on localhost (scripts/slurm.sh:
# slurmctld, slurmd, munged) whose example jobs build their CUDA sources'
# CPU fallback with c++.
need=(curl:curl ip:iproute2 nsenter:util-linux busybox:busybox-static iptables:iptables nft:nftables
  conntrack:conntrack ping:iputils-ping dig:dnsutils slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge c++:g++)
missing=()
for pair in "${need[@]}"; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
go mod download
