#!/usr/bin/env bash
# `make dev`: start `mk agent -dev` in the background, wait for its leader,
# run an example job and show its status.
set -euo pipefail
cd "$(dirname "$0")/.."

mk=bin/mk
job=jobspecs/examples/hello-exec.hcl
mkdir -p .dev
# The Engine first, so the agent's first fingerprint finds it.
docker_ok=false
if scripts/docker.sh >.dev/docker.log 2>&1; then
  docker_ok=true
fi
if [ -f .dev/agent.pid ] && kill -0 "$(cat .dev/agent.pid)" 2>/dev/null; then
  echo "==> mk agent -dev is already running (pid $(cat .dev/agent.pid)); make dev-stop stops it"
else
  if curl -fsS -o /dev/null http://127.0.0.1:6646/v1/status/leader 2>/dev/null; then
    echo "make dev: something already answers on 127.0.0.1:6646; stop it first" >&2
    exit 1
  fi
  echo "==> starting mk agent -dev (log in .dev/agent.log)"
  nohup "$mk" agent -dev >.dev/agent.log 2>&1 &
  echo $! >.dev/agent.pid
fi

echo "==> waiting for a leader"
for _ in $(seq 1 150); do
  if leader=$(curl -fsS http://127.0.0.1:6646/v1/status/leader 2>/dev/null) && [ "$leader" != '""' ] \
     && "$mk" job status >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$(cat .dev/agent.pid)" 2>/dev/null; then
    echo "make dev: the agent exited; its log:" >&2
    tail -n 20 .dev/agent.log >&2
    exit 1
  fi
  sleep 0.2
done
echo "    leader at $leader"

echo "==> mk job run $job"
"$mk" job run "$job"
echo
echo "==> mk job status hello"
"$mk" job status hello
pod=$("$mk" pod list -json -job hello | sed -n 's/^    "ID": "\([0-9a-f-]*\)",$/\1/p' | head -n 1)
echo
echo "==> mk pod logs ${pod:0:8}"
for _ in $(seq 1 25); do
  out=$("$mk" pod logs "${pod:0:8}" 2>/dev/null || true)
  [ -n "$out" ] && break
  sleep 0.2
done
echo "$out"
echo
echo "==> mk pod exec ${pod:0:8} -- ps -o pid,args   (the pod's processes only)"
"$mk" pod exec "${pod:0:8}" -- ps -o pid,args

svcjob=jobspecs/examples/http-exec.hcl
echo
echo "==> mk job run $svcjob   (a service: two pods behind one virtual IP and name)"
"$mk" job run "$svcjob"
echo
echo "==> mk service status http"
"$mk" service status http
kv() { awk -F' = ' -v k="$1" '$1 ~ "^"k" *$" {print $2; exit}'; }
status=$("$mk" service status http)
cluster_ip=$(kv "Cluster IP" <<<"$status")
port=$(kv "Ports" <<<"$status" | sed 's/^[^:]*:\([0-9]*\)->.*/\1/')
node_port=$(kv "Node Ports" <<<"$status")
node=$("$mk" node status | awk 'NR==2 {print $1}')
gateway=$("$mk" node status "$node" | kv "Pod CIDR" | sed 's/\.0\/24$/.1/')
echo
echo "==> curl http://$cluster_ip:$port/   (the ClusterIP, load-balanced)"
for _ in 1 2 3 4; do curl -fsS -m 3 "http://$cluster_ip:$port/" || true; done
echo "==> curl http://127.0.0.1:$node_port/   (the NodePort)"
curl -fsS -m 3 "http://127.0.0.1:$node_port/" || true
echo
echo "Reach the service:"
echo "  curl http://$cluster_ip:$port/                      (ClusterIP, from the node or any pod)"
echo "  curl http://127.0.0.1:$node_port/                     (NodePort, on every address of every node)"
echo "  dig @$gateway http.default.svc.mk.local           (node DNS; pods resolve plain \"http\")"
echo "  bin/mk pod exec ${pod:0:8} -- busybox wget -qO- http://http:$port/   (from inside another pod)"
echo
if $docker_ok; then
  # An agent that was already running sees the Engine at its next
  # fingerprint (every 15s).
  for _ in $(seq 1 100); do
    "$mk" node status "$node" | kv "Drivers" | grep -q docker && break
    sleep 0.2
  done
  webjob=jobspecs/examples/web.hcl
  echo "==> mk job run $webjob   (DESIGN's web job: docker web server + exec sidecar per pod, NodePort service, ingress, autoscaling, rolling updates)"
  "$mk" job run "$webjob"
  web=$("$mk" service status web)
  web_ip=$(kv "Cluster IP" <<<"$web")
  web_port=$(kv "Ports" <<<"$web" | sed 's/^[^:]*:\([0-9]*\)->.*/\1/')
  web_node_port=$(kv "Node Ports" <<<"$web")
  echo "==> curl http://$web_ip:$web_port/index.html   (the docker pods behind the ClusterIP)"
  for _ in 1 2; do curl -fsS -m 3 "http://$web_ip:$web_port/index.html" || true; done
  echo "==> curl -H 'Host: shop.local' http://127.0.0.1:8080/index.html   (the same pods through the ingress)"
  curl -fsS -m 3 -H 'Host: shop.local' "http://127.0.0.1:8080/index.html" || true
  echo "    NodePort: curl http://127.0.0.1:$web_node_port/index.html; containers: docker ps --filter label=mk.job=web"
  echo "    Roll out a change (edit GREETING in $webjob, then bin/mk job run $webjob), roll back (bin/mk job revert web 0),"
  echo "    scale (bin/mk job scale web frontend 4) and follow it all: bin/mk event stream"
else
  echo "==> no Docker Engine here ($(tail -n 1 .dev/docker.log)); the docker example is skipped, the exec ones run"
fi
echo
echo "mk agent -dev is running at http://127.0.0.1:6646 (pid $(cat .dev/agent.pid)), with its pods."
echo "Try: bin/mk pod list, bin/mk pod status ${pod:0:8}, bin/mk node status, bin/mk server members"
echo "End a task (bin/mk pod exec ${pod:0:8} -- kill 1) and watch bin/mk pod list: it restarts."
echo "Stop a pod (bin/mk pod stop ${pod:0:8}): its replica set replaces it."
echo "Stop it all with: make dev-stop (stops the pods too)"
