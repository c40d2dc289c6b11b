#!/usr/bin/env bash
# A real Prometheus server (Debian's `prometheus`) scrapes a real
# `nodespace serve` on loopback; the test passes when Prometheus has stored
# the engine's scaling gauges and HTTP counters and reports the target up.
# Usage: prometheus_scrape_test.sh NODESPACE_BINARY
set -euo pipefail
BIN=$1
command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/install-deps.sh)"; exit 1; }
WORK=$(mktemp -d)
SERVER_PID=""
PROM_PID=""
cleanup() {
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" --db "$WORK/db" init >/dev/null
"$BIN" --db "$WORK/db" add --content "# scraped" >/dev/null
"$BIN" --db "$WORK/db" serve --port 0 --port-file "$WORK/port" --no-access-log 2>"$WORK/serve.log" >/dev/null &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

# A free port for Prometheus: ask the kernel for one.
PROM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: nodespace
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prom.log" 2>&1 &
PROM_PID=$!

query() {  # prints the first sample value of a PromQL query, or nothing
  curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
for _ in $(seq 120); do
  up=$(query 'up{job="nodespace"}' 2>/dev/null || true)
  nodes=$(query 'nodespace_node_count' 2>/dev/null || true)
  requests=$(query 'sum(nodespace_http_requests_total{route="/metrics"})' 2>/dev/null || true)
  if [ "$up" = "1" ] && [ "$nodes" = "1" ] && [ -n "$requests" ]; then
    echo "prometheus scraped nodespace: up=$up node_count=$nodes metrics requests=$requests"
    exit 0
  fi
  sleep 0.5
done
echo "prometheus did not scrape nodespace: up='$up' node_count='$nodes' requests='$requests'"
cat "$WORK/prom.log" | tail -20
exit 1
