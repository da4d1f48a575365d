#!/usr/bin/env bash
# What the ledger and the limits add to a request: one Switchyard binary run twice at once
# against the same upstream, with
#   on : the SQLite ledger, a key, per-tenant and per-key day/month `block` budgets and
#        requests/tokens-per-minute limits (all far too high to trigger, so every request walks
#        admission, the pre-flight estimate and settlement, and writes one row);
#   off: the same keys and prices, `ledger: {enabled: false}`, no budgets, no rate limits;
# and direct to the upstream (nginx answering a canned ~300-byte chat.completion). Rounds are
# interleaved (direct, off, on; then direct, on, off; ...) so a busy neighbour hits both
# configs alike; each figure is the median over the rounds. Printed per concurrency:
#   p50/p99 direct, off and on; on - off (what ledger + limits add); the share of the
#   gateway's whole added latency, (on - off) / (on - direct); and the CPU time each gateway
#   process spent per request (user + system from /proc/PID/stat, every thread: the ledger's
#   writer thread included), the figure that holds up on a loaded machine.
#
#   bench/ledger/overhead.sh [--duration 5s] [--rounds 5] [--connections "1 16"]
#       [--workers 1] [--switchyard build/switchyard] [--perf-on FILE]
# --perf-on records `perf record -g` of the "on" gateway during its last c=16 run.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=5s
ROUNDS=5
CONNECTIONS="1 16"
WORKERS=1
SWITCHYARD=build/switchyard
PERF_OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --switchyard) SWITCHYARD=$2; shift 2 ;;
    --perf-on) PERF_OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  echo "needs wrk and nginx (scripts/setup.sh installs them)" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
source bench/ledger/on_off_setup.sh
start_upstream
write_on_off_configs $WORKERS

start_gateway() {  # name -> sets <NAME>_PID and <NAME>_PORT
  local name=$1
  mkdir -p "$WORK/$name-data"
  "$SWITCHYARD" serve --config "$WORK/$name.yaml" --data-dir "$WORK/$name-data" \
    --log-level warn > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$!
  PIDS+=($pid)
  for _ in $(seq 100); do grep -q "listening on" "$WORK/$name.out" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/$name.out")
  [[ -n "$port" ]] || { echo "switchyard ($name) did not start:"; cat "$WORK/$name.err"; exit 1; }
  printf -v "${name^^}_PID" %s "$pid"
  printf -v "${name^^}_PORT" %s "$port"
}
start_gateway off
start_gateway on

REQ='{"model":"bench","max_tokens":16,"messages":[{"role":"user","content":"Say hello"}]}'
for name in off on; do
  port_var="${name^^}_PORT"
  curl -sf -H 'content-type: application/json' -H "authorization: Bearer $KEY" -d "$REQ" \
    "http://127.0.0.1:${!port_var}/v1/chat/completions" > "$WORK/$name.json" ||
    { echo "request through $name failed"; cat "$WORK/$name.err"; exit 1; }
done
grep -q '"content":"Hello!' "$WORK/on.json" || { echo "unexpected answer: $(cat "$WORK/on.json")"; exit 1; }

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '$REQ'
done = function(summary, latency, requests)
  io.write(string.format("RESULT p50_us=%d p99_us=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
LUA

# "all writer": CPU ticks of every thread of PID, and of its ledger writer thread ("sy-ledger").
ticks() {
  cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{ t = $14 + $15; all += t; if ($2 == "(sy-ledger)") w += t }
    END { print all + 0, w + 0 }'
}
HZ=$(getconf CLK_TCK)
# measure name port pid connections -> appends "name c p50 p99 requests errors cpu_us" to rows
measure() {
  local name=$1 port=$2 pid=$3 c=$4 threads=1 before after wbefore wafter out perf_pid=""
  (( c > 1 )) && threads=2
  [[ -n "$pid" ]] && read -r before wbefore <<<"$(ticks "$pid")"
  if [[ -n "$PERF_OUT" && "$name" == on && $c -gt 1 && $LAST_ROUND == 1 ]]; then
    perf record -g -o "$PERF_OUT" -p "$pid" 2>/dev/null & perf_pid=$!
  fi
  out=$(wrk -t"$threads" -c"$c" -d"$DURATION" -s "$WORK/post.lua" \
    "http://127.0.0.1:$port/v1/chat/completions" 2>/dev/null)
  if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  [[ -n "$pid" ]] && read -r after wafter <<<"$(ticks "$pid")"
  read -r p50 p99 requests errors <<<"$(sed -n \
    's/^RESULT p50_us=\([0-9]*\) p99_us=\([0-9]*\) requests=\([0-9]*\) errors=\([0-9]*\)/\1 \2 \3 \4/p' <<<"$out")"
  local cpu=0 wcpu=0
  if [[ -n "$pid" ]]; then
    read -r cpu wcpu <<<"$(awk -v t=$((after - before)) -v w=$((wafter - wbefore)) -v hz="$HZ" \
      -v r="$requests" 'BEGIN{ s = (r > 0 ? 1e6 / hz / r : 0); printf "%.1f %.1f", t * s, w * s }')"
  fi
  echo "$name $c $p50 $p99 $requests $errors $cpu $wcpu" >> "$WORK/rows"
  printf "  %-6s c=%-3s p50 %6sus p99 %6sus %8s requests %3s errors %7s us CPU/request (%s writer)\n" \
    "$name" "$c" "$p50" "$p99" "$requests" "$errors" "$cpu" "$wcpu"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LAST_ROUND=0
for round in $(seq "$ROUNDS"); do
  (( round == ROUNDS )) && LAST_ROUND=1
  echo "round $round"
  for c in $CONNECTIONS; do
    measure direct "$UP" "" "$c"
    if (( round % 2 )); then
      measure off "$OFF_PORT" "$OFF_PID" "$c"; measure on "$ON_PORT" "$ON_PID" "$c"
    else
      measure on "$ON_PORT" "$ON_PID" "$c"; measure off "$OFF_PORT" "$OFF_PID" "$c"
    fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Medians over the rounds, per connection count.
median() {  # name c column
  awk -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c { print $k }' "$WORK/rows" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "medians of $ROUNDS rounds, $DURATION each, $WORKERS I/O thread(s); latency in us"
printf "%-4s | %-13s | %-13s | %-13s | %-14s | %-23s\n" "c" "direct p50/99" "off p50/p99" \
  "on p50/p99" "on-off p50/p99" "share of gateway's add"
for c in $CONNECTIONS; do
  awk -v c="$c" -v d50="$(median direct "$c" 3)" -v d99="$(median direct "$c" 4)" \
    -v f50="$(median off "$c" 3)" -v f99="$(median off "$c" 4)" \
    -v n50="$(median on "$c" 3)" -v n99="$(median on "$c" 4)" 'BEGIN {
    add = n50 - d50; share = (add > 0 ? 100 * (n50 - f50) / add : 0)
    printf "%-4s | %5d %6d  | %5d %6d  | %5d %6d  | %+6d %+6d  | %5.1f%% of %5d us\n",
      c, d50, d99, f50, f99, n50, n99, n50 - f50, n99 - f99, share, add }'
done
echo
echo "CPU time of the gateway process per request (us; all threads, and the ledger writer thread)"
printf "%-4s | %-6s | %-6s | %-7s | %-9s | %-30s\n" "c" "off" "on" "on-off" "on writer" \
  "on-off without the writer thread"
for c in $CONNECTIONS; do
  awk -v c="$c" -v f="$(median off "$c" 7)" -v n="$(median on "$c" 7)" \
    -v w="$(median on "$c" 8)" 'BEGIN {
    printf "%-4s | %6.1f | %6.1f | %+7.1f | %9.1f | %+6.1f\n", c, f, n, n - f, w, n - w - f }'
done
errors=$(awk '{ s += $6 } END { print s + 0 }' "$WORK/rows")
echo "errors (all runs): $errors"
ON_ROWS=$(sqlite3 "$WORK/on-data/ledger.sqlite3" 'select count(*) from ledger' 2>/dev/null || echo "?")
echo "ledger rows written by \"on\": $ON_ROWS"
echo "target: ledger + limits add < 20 us to p50 (the c=1 row's on-off)"
