#!/usr/bin/env bash
# CPU time the proxy process spends per request (user + system, from /proc/PID/stat), for
# Switchyard and nginx as a reverse proxy, same upstream and load as run.sh. On a shared, loaded
# machine latency and requests/s swing with the neighbours; CPU per request barely does, so it
# is the figure to compare builds with. nginx runs as one process whatever --workers says (its
# CPU time per request does not depend on the worker count); --workers sets Switchyard's
# io_threads. --perf records `perf record -g` of Switchyard's run into the given file; --strace
# writes `strace -c -f` of it (system calls per request = count / requests; the CPU figure is
# then meaningless).
#
#   bench/gateway_overhead/cpu_per_request.sh [--duration 5s] [--connections 16]
#       [--workers 1] [--switchyard build/switchyard] [--perf perf.data] [--strace FILE]
#       [--no-ledger]
# --no-ledger turns Switchyard's SQLite ledger off (nginx keeps no such record): the proxy
# path's own cost, without the ledger thread's inserts.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=5s
CONNS=16
WORKERS=1
SWITCHYARD=build/switchyard
PERF_OUT=""
STRACE_OUT=""
LEDGER=true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --switchyard) SWITCHYARD=$2; shift 2 ;;
    --perf) PERF_OUT=$2; shift 2 ;;
    --strace) STRACE_OUT=$2; shift 2 ;;
    --no-ledger) LEDGER=false; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

UP=$(free_port); PX=$(free_port)
BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
nginx_conf() {  # name workers server-block
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/nginx.conf" <<NGX
worker_processes $2;
daemon off;
master_process off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1/body;
  proxy_temp_path $WORK/$1/proxy;
  fastcgi_temp_path $WORK/$1/fcgi;
  uwsgi_temp_path $WORK/$1/uwsgi;
  scgi_temp_path $WORK/$1/scgi;
  $3
}
NGX
  nginx -c "$WORK/$1/nginx.conf" -p "$WORK/$1" &
  PIDS+=($!)
}
nginx_conf upstream 1 "server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$BODY'; } }"
# master_process off: one process does the proxying, so its /proc/PID/stat is the whole cost.
nginx_conf proxy 1 "upstream fake { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$PX; location / { proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
NGINX_PID=${PIDS[-1]}

cat > "$WORK/switchyard.yaml" <<YAML
listen: 127.0.0.1:0
limits: {io_threads: $WORKERS}
ledger: {enabled: $LEDGER}
backends:
  - name: upstream
    protocol: openai_compat
    base_url: http://127.0.0.1:$UP/v1
    retry: {max_attempts: 1}
models:
  bench: [upstream/bench-model]
YAML
"$SWITCHYARD" serve --config "$WORK/switchyard.yaml" --log-level warn > "$WORK/sy.out" 2> "$WORK/sy.err" &
SY_PID=$!
PIDS+=($SY_PID)
for _ in $(seq 100); do grep -q "listening on" "$WORK/sy.out" 2>/dev/null && break; sleep 0.1; done
SY=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/sy.out")
[[ -n "$SY" ]] || { echo "switchyard did not start:"; cat "$WORK/sy.err"; exit 1; }
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PX/" && break; sleep 0.1; done

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say hello"}]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
LUA

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
measure() {  # name pid port
  local before after out requests errors
  before=$(ticks "$2")
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" -s "$WORK/post.lua" "http://127.0.0.1:$3/v1/chat/completions" 2>/dev/null)
  after=$(ticks "$2")
  requests=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' <<<"$out")
  errors=$(sed -n 's/^RESULT.*errors=\([0-9]*\)/\1/p' <<<"$out")
  # busy: the proxy's CPU time over the run's wall time (100% = one core saturated, so with
  # one worker the proxy, not the clients or the upstream, is what limits requests/s).
  awk -v n="$1" -v t=$((after - before)) -v hz="$HZ" -v r="$requests" -v e="$errors" \
    -v d="${DURATION%s}" \
    'BEGIN{ printf "%-10s %8d requests %4d errors  %6.1f us CPU/request  busy %3.0f%%\n", n, r, e, t * 1e6 / hz / r, t * 100 / hz / d }'
}
measure nginx "$NGINX_PID" "$PX"
if [[ -n "$PERF_OUT" ]]; then
  perf record -g -o "$PERF_OUT" -p "$SY_PID" 2>/dev/null & PERF_PID=$!
  measure switchyard "$SY_PID" "$SY"
  kill -INT "$PERF_PID"; wait "$PERF_PID" || true
elif [[ -n "$STRACE_OUT" ]]; then
  strace -c -f -o "$STRACE_OUT" -p "$SY_PID" 2>/dev/null & STRACE_PID=$!
  sleep 0.5
  measure switchyard "$SY_PID" "$SY"
  kill -INT "$STRACE_PID"; wait "$STRACE_PID" || true
else
  measure switchyard "$SY_PID" "$SY"
fi
