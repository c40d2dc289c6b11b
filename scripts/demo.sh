#!/usr/bin/env bash
# The main job: installs dependencies, builds, imports the bundled sample
# (WordNet-derived nodes) into an embedded database, prints a subtree and runs
# a lookup, then serves the database over HTTP until Ctrl-C.
# NODESPACE_PORT picks the port (default 7700); NODESPACE_DEMO_NO_SERVE=1
# stops after the tour.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release -j "$(nproc)" --target nodespace

# The sample is made from Debian's wordnet-base by our own script.
[ -s sample/wordnet-sample.jsonl ] || python3 scripts/make_sample.py

NS=build/release/nodespace
DB="${NODESPACE_DB:-./nodespace-data}"
export NODESPACE_DB="$DB"
if [ -e "$DB/nodespace.db" ]; then
  echo "using the existing database in $DB"
else
  $NS init
  $NS import sample/wordnet-sample.jsonl
fi
echo
echo "== stats"
$NS stats
echo
echo "== the subtree under 'musical instrument' (one level)"
$NS tree wn-03800933 --depth 1
echo
echo "== lookup of one node and its path from the root"
ID=wn-03467517  # guitar
$NS get "$ID"
$NS ancestors "$ID"
echo
echo "== full-text search (BM25, stemmed): stringed instruments"
$NS search "stringed instrument" -n 5
echo
echo "== search by meaning (the built-in embedder is fitted on first use)"
$NS search --semantic "a large cat that hunts" -n 5
echo
echo "== one query: words and meaning fused (RRF), shallow nodes only, with a facet"
$NS query --text "cat" --semantic "a large cat that hunts" --where 'properties.depth<=12' \
  --facet properties.depth:3 -n 5
echo
echo "== automatic scaling: the engine's own metrics, phase and what fires next"
$NS scaling status
echo
echo "database: $DB (try: $NS --db $DB tree --depth 1)"
[ "${NODESPACE_DEMO_NO_SERVE:-}" = "1" ] && exit 0
echo
echo "== serving it: the dashboard, the /v1 API, change feed, MCP and /metrics (Ctrl-C stops)"
PORT="${NODESPACE_PORT:-7700}"
echo "open http://127.0.0.1:$PORT/ (the dashboard), or try: curl http://127.0.0.1:$PORT/v1/nodes/$ID"
exec $NS serve --port "$PORT" --no-access-log
