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
source bench/ledger/on_off_setup.sh
start_upstream
write_on_off_configs 1

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
