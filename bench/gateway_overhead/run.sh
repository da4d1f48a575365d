#!/usr/bin/env bash
# Gateway overhead: added latency = (through the proxy) - (direct to the same upstream), for
# Switchyard and for nginx as a plain reverse proxy, at concurrency 1, 16 and 64, in one run.
# The upstream is nginx serving a canned ~300-byte OpenAI chat.completion (no model work), so
# the figures are the proxies' own cost. Everything listens on 127.0.0.1; ports are picked free.
#
# Both proxies get the same number of workers: nginx `worker_processes N`, Switchyard
# `limits.io_threads: N` (--workers, default 1: on a 2-core machine wrk and the upstream need
# the other core).
#
#   bench/gateway_overhead/run.sh [--duration 10s] [--workers 1] [--switchyard build/switchyard]
#                                 [--busy-poll-us 0]
# --busy-poll-us sets Switchyard's limits.busy_poll_us (its default is 0, off): an idle I/O
# thread polls that long before it sleeps. nginx has no such setting.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=10s
WORKERS=1
BUSY_POLL_US=0
SWITCHYARD=build/switchyard
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --switchyard) SWITCHYARD=$2; shift 2 ;;
    --busy-poll-us) BUSY_POLL_US=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  echo "needs wrk and nginx (scripts/setup.sh installs them)" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

UP=$(free_port); PX=$(free_port)
BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'

# Two nginx instances: the upstream (never the bottleneck: a canned reply) and the proxy under
# test, each with its own workers, so the proxy's worker does only proxying.
nginx_conf() {  # name workers server-block
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/nginx.conf" <<NGX
worker_processes $2;
daemon off;
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
nginx_conf proxy "$WORKERS" "upstream fake { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$PX; location / { proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"

cat > "$WORK/switchyard.yaml" <<YAML
listen: 127.0.0.1:0
limits: {io_threads: $WORKERS, busy_poll_us: $BUSY_POLL_US}
backends:
  - name: upstream
    protocol: openai_compat
    base_url: http://127.0.0.1:$UP/v1
    retry: {max_attempts: 1}
models:
  bench: [upstream/bench-model]
YAML
"$SWITCHYARD" serve --config "$WORK/switchyard.yaml" --log-level warn > "$WORK/sy.out" 2> "$WORK/sy.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$WORK/sy.out" 2>/dev/null && break; sleep 0.1; done
SY=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/sy.out")
[[ -n "$SY" ]] || { echo "switchyard did not start:"; cat "$WORK/sy.err"; exit 1; }
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PX/" && break; sleep 0.1; done

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say hello"}]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT p50_us=%d p99_us=%d rps=%.0f errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
LUA

# Sanity: the three paths answer the same body shape.
curl -sf -H 'content-type: application/json' -d '{"model":"bench","messages":[{"role":"user","content":"x"}]}' \
  "http://127.0.0.1:$SY/v1/chat/completions" > "$WORK/sy.json" || { echo "switchyard request failed"; cat "$WORK/sy.err"; exit 1; }

measure() {  # url connections -> "p50 p99 rps errors"
  local threads=1; (( $2 > 1 )) && threads=2
  wrk -t"$threads" -c"$2" -d"$DURATION" -s "$WORK/post.lua" "$1" 2>/dev/null |
    sed -n 's/^RESULT p50_us=\([0-9]*\) p99_us=\([0-9]*\) rps=\([0-9]*\) errors=\([0-9]*\)/\1 \2 \3 \4/p'
}

printf "%-4s | %-22s | %-22s | %-22s | %s\n" "c" "direct p50/p99 rps" "nginx p50/p99 rps" "switchyard p50/p99 rps" "ratios"
for c in 1 16 64; do
  read -r d50 d99 drps derr <<<"$(measure "http://127.0.0.1:$UP/v1/chat/completions" $c)"
  read -r n50 n99 nrps nerr <<<"$(measure "http://127.0.0.1:$PX/v1/chat/completions" $c)"
  read -r s50 s99 srps serr <<<"$(measure "http://127.0.0.1:$SY/v1/chat/completions" $c)"
  nadd=$((n50 - d50)); sadd=$((s50 - d50))
  ratio_lat=$(awk -v s=$sadd -v n=$nadd 'BEGIN{ if (n<=0) n=1; printf "%.2f", s/n }')
  ratio_rps=$(awk -v s=$srps -v n=$nrps 'BEGIN{ printf "%.2f", s/n }')
  printf "%-4s | %6sus %6sus %6s | %6sus %6sus %6s | %6sus %6sus %6s | added p50 sy %dus vs nginx %dus (x%s), rps sy/nginx %s, errors %s/%s/%s\n" \
    "$c" "$d50" "$d99" "$drps" "$n50" "$n99" "$nrps" "$s50" "$s99" "$srps" "$sadd" "$nadd" "$ratio_lat" "$ratio_rps" "$derr" "$nerr" "$serr"
done
echo "workers per proxy: $WORKERS (nginx worker_processes, switchyard io_threads); switchyard busy_poll_us: $BUSY_POLL_US"
echo "targets: added p50 within 1.5x of nginx's; throughput at c=64 >= 0.7x nginx's"
