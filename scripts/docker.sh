#!/usr/bin/env bash
# Readies the Docker Engine for the docker driver's tests and `make dev`:
# installs docker.io when dockerd is missing, starts dockerd when it does
# not answer (logging to .dev/dockerd.log, its PID in .dev/dockerd.pid so
# `scripts/docker.sh stop` stops only a dockerd this script started), and
# builds the test image mk/busybox:test when it is absent.
#
#   scripts/docker.sh          ensure: install, start, build the image
#   scripts/docker.sh stop     stop the dockerd this script started
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .dev
pidfile=.dev/dockerd.pid

if [ "${1:-}" = stop ]; then
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker: installing docker.io"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
fi
if ! docker version >/dev/null 2>&1; then
  echo "docker: starting dockerd (log in .dev/dockerd.log)"
  nohup dockerd >.dev/dockerd.log 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 300); do
    docker version >/dev/null 2>&1 && break
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "docker: dockerd exited; its log:" >&2
      tail -n 20 .dev/dockerd.log >&2
      exit 1
    fi
    sleep 0.1
  done
  docker version >/dev/null
fi
scripts/busybox-image.sh
