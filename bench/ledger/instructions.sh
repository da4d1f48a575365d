#!/usr/bin/env bash
# Instructions per request that the ledger and the limits add, counted by callgrind: the
# figure that does not move with the machine's load (this machine has no hardware counters for
# `perf stat`). Same two configs as overhead.sh ("on": SQLite ledger + budgets + rate limits;
# "off": neither). Each config serves N1 and then, in a fresh process, N2 sequential keep-alive
# requests under callgrind (--separate-threads); (Ir(N2) - Ir(N1)) / (N2 - N1) is the marginal
# count per request, so start-up and shutdown cancel out. Printed per thread group: the request
# path (every thread but the ledger writer) and the ledger writer thread.
#
#   bench/ledger/instructions.sh [--requests "300 1300"] [--switchyard build/switchyard]
#       [--keep DIR]
# --keep copies the callgrind files into DIR (callgrind_annotate --inclusive=yes FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS="300 1300"
SWITCHYARD=build/switchyard
KEEP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) REQUESTS=$2; shift 2 ;;
    --switchyard) SWITCHYARD=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
read -r N1 N2 <<<"$REQUESTS"
command -v valgrind >/dev/null && command -v nginx >/dev/null || {
  echo "needs valgrind and nginx" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
# run() executes in a subshell ($(...)), so its valgrind pids are kept in a file.
cleanup() {
  for p in "${PIDS[@]}" $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true; rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

UP=$(free_port)
BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
mkdir -p "$WORK/upstream"
cat > "$WORK/upstream/nginx.conf" <<NGX
worker_processes 1;
daemon off;
master_process off;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/upstream/body;
  proxy_temp_path $WORK/upstream/proxy;
  fastcgi_temp_path $WORK/upstream/fcgi;
  uwsgi_temp_path $WORK/upstream/uwsgi;
  scgi_temp_path $WORK/upstream/scgi;
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$BODY'; } }
}
NGX
nginx -c "$WORK/upstream/nginx.conf" -p "$WORK/upstream" &
PIDS+=($!)

KEY=sk-bench-ledger-overhead
common_yaml() {
  cat <<YAML
listen: 127.0.0.1:0
limits: {io_threads: 1}
backends:
  - name: upstream
    protocol: openai_compat
    base_url: http://127.0.0.1:$UP/v1
    retry: {max_attempts: 1}
    price_catalog: none
    prices:
      models:
        bench-model: {input: "2.5", output: "10"}
models:
  bench: [upstream/bench-model]
tenants:
  - name: acme
keys:
  - id: k-bench
    tenant: acme
    key: $KEY
YAML
}
{ common_yaml; echo "ledger: {enabled: false}"; } > "$WORK/off.yaml"
{ common_yaml; cat <<YAML
ledger: {enabled: true}
budgets:
  - {tenant: acme, period: day, limit_usd: "1000000", action: block, alert_at: 0.8}
  - {tenant: acme, period: month, limit_usd: "1000000", action: block}
  - {key: k-bench, period: day, limit_usd: "1000000", action: block}
rate_limits:
  - {tenant: acme, requests_per_minute: 100000000, tokens_per_minute: 1000000000}
  - {key: k-bench, requests_per_minute: 100000000, tokens_per_minute: 1000000000}
YAML
} > "$WORK/on.yaml"

cat > "$WORK/client.py" <<PY
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = '{"model":"bench","max_tokens":16,"messages":[{"role":"user","content":"Say hello"}]}'
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    conn.request("POST", "/v1/chat/completions", body,
                 {"content-type": "application/json", "authorization": "Bearer $KEY"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("status %d" % r.status)
PY

# run config requests -> "request_path_Ir writer_Ir"
run() {
  local name=$1 n=$2 dir="$WORK/$1-$2"
  mkdir -p "$dir/data"
  # Instrumentation starts with the first request (start-up, under valgrind, takes minutes).
  valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no \
    --callgrind-out-file="$dir/cg.%p" \
    "$SWITCHYARD" serve --config "$WORK/$name.yaml" --data-dir "$dir/data" --log-level warn \
    > "$dir/out" 2> "$dir/err" &
  local pid=$!
  echo "$pid" >> "$WORK/pids"
  for _ in $(seq 3000); do grep -q "listening on" "$dir/out" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/out")
  [[ -n "$port" ]] || { echo "switchyard ($name) did not start:" >&2; tail "$dir/err" >&2; exit 1; }
  callgrind_control -i on "$pid" > /dev/null 2>&1
  python3 "$WORK/client.py" "$port" "$n"
  kill -TERM "$pid"; wait "$pid" || true
  # One file per thread; the writer thread is the one whose own costs (an `fn=` record, not
  # only a `cfn=` callee) include BatchingLedgerWriter::run. Names are compressed to "(id)".
  local all=0 writer=0 f ir id
  for f in "$dir"/cg.*; do
    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f")
    [[ -n "$ir" ]] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f")
    all=$((all + ${ir:-0}))
    id=$(sed -n 's/^c\{0,1\}fn=(\([0-9]*\)) sy::gateway::BatchingLedgerWriter::run().*/\1/p' "$f" |
      head -1)
    [[ -n "$id" ]] && grep -q "^fn=($id)" "$f" && writer=$((writer + ${ir:-0}))
  done
  if [[ -n "$KEEP" ]]; then mkdir -p "$KEEP/$name-$n" && cp "$dir"/cg.* "$KEEP/$name-$n/"; fi
  echo "$((all - writer)) $writer"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A R
for name in off on; do
  for n in "$N1" "$N2"; do
    read -r path writer <<<"$(run "$name" "$n")"
    R[$name-$n-path]=$path; R[$name-$n-writer]=$writer
    printf "  %-3s %5d requests: request path %12d Ir, ledger writer thread %12d Ir\n" \
      "$name" "$n" "$path" "$writer"
  done
done
per() { echo $(( (R[$1-$N2-$2] - R[$1-$N1-$2]) / (N2 - N1) )); }
off_path=$(per off path); on_path=$(per on path); on_writer=$(per on writer)
echo
echo "instructions per request (marginal, $N1 -> $N2 requests):"
printf "  request path: off %d, on %d, on-off %+d\n" "$off_path" "$on_path" $((on_path - off_path))
printf "  ledger writer thread (on): %d\n" "$on_writer"
