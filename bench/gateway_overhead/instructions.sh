#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: the figure that does not move with the
# machine's load (no hardware counters here for `perf stat`), for A/B runs of builds. Same
# upstream and gateway config as run.sh (the SQLite ledger on, as by default; --no-ledger turns
# it off). The gateway serves a warm-up, then callgrind counts exactly N sequential keep-alive
# requests (instrumentation is switched on just before and off just after them), so start-up
# and shutdown are not in the count. Printed: the request path (every thread but the ledger
# writer) and the ledger writer thread, per request. User-space only: system calls are counted
# by cpu_per_request.sh --strace.
#
#   bench/gateway_overhead/instructions.sh [--requests 500] [--switchyard build/switchyard]
#       [--no-ledger] [--keep DIR]
# --keep copies the callgrind files into DIR (callgrind_annotate --inclusive=yes FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=500
SWITCHYARD=build/switchyard
LEDGER=true
KEEP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) REQUESTS=$2; shift 2 ;;
    --switchyard) SWITCHYARD=$2; shift 2 ;;
    --no-ledger) LEDGER=false; shift ;;
    --keep) KEEP=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null && command -v nginx >/dev/null || {
  echo "needs valgrind and nginx" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# The upstream nginx of the ledger bench (same canned chat.completion as run.sh's).
source bench/ledger/on_off_setup.sh
start_upstream

cat > "$WORK/switchyard.yaml" <<YAML
listen: 127.0.0.1:0
limits: {io_threads: 1}
ledger: {enabled: $LEDGER}
backends:
  - name: upstream
    protocol: openai_compat
    base_url: http://127.0.0.1:$UP/v1
    retry: {max_attempts: 1}
models:
  bench: [upstream/bench-model]
YAML

cat > "$WORK/client.py" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = '{"model":"bench","messages":[{"role":"user","content":"Say hello"}]}'
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for _ in range(n):
    conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("status %d" % r.status)
PY

mkdir -p "$WORK/data" "$WORK/cg"
valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no \
  --callgrind-out-file="$WORK/cg/cg.%p" \
  "$SWITCHYARD" serve --config "$WORK/switchyard.yaml" --data-dir "$WORK/data" --log-level warn \
  > "$WORK/out" 2> "$WORK/err" &
PID=$!
PIDS+=($PID)
for _ in $(seq 3000); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/out")
[[ -n "$PORT" ]] || { echo "switchyard did not start:" >&2; tail "$WORK/err" >&2; exit 1; }
python3 "$WORK/client.py" "$PORT" 50  # warm-up: pooled connections, caches, first allocations
callgrind_control -i on "$PID" > /dev/null 2>&1
python3 "$WORK/client.py" "$PORT" "$REQUESTS"
callgrind_control -i off "$PID" > /dev/null 2>&1
kill -TERM "$PID"; wait "$PID" || true

# One file per thread; the writer thread is the one whose own costs (an `fn=` record, not only
# a `cfn=` callee) include BatchingLedgerWriter::run. Names are compressed to "(id)".
all=0 writer=0
for f in "$WORK"/cg/cg.*; do
  ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f")
  [[ -n "$ir" ]] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f")
  all=$((all + ${ir:-0}))
  id=$(sed -n 's/^c\{0,1\}fn=(\([0-9]*\)) sy::gateway::BatchingLedgerWriter::run().*/\1/p' "$f" |
    head -1)
  [[ -n "$id" ]] && grep -q "^fn=($id)" "$f" && writer=$((writer + ${ir:-0}))
done
[[ -n "$KEEP" ]] && mkdir -p "$KEEP" && cp "$WORK"/cg/cg.* "$KEEP/"
echo "$SWITCHYARD, ledger $LEDGER, $REQUESTS requests (load average $(cut -d' ' -f1 /proc/loadavg))"
printf "  request path:         %8d instructions/request\n" $(((all - writer) / REQUESTS))
printf "  ledger writer thread: %8d instructions/request\n" $((writer / REQUESTS))
