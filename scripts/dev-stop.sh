#!/usr/bin/env bash
# `make dev-stop`: stop the agent `make dev` started (SIGTERM: graceful leave).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .dev/agent.pid ]; then
  echo "no dev agent recorded in .dev/agent.pid"
  exit 0
fi
pid=$(cat .dev/agent.pid)
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
  fi
  echo "stopped mk agent -dev (pid $pid)"
else
  echo "mk agent -dev (pid $pid) was not running"
fi
rm -f .dev/agent.pid
