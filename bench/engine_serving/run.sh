#!/usr/bin/env bash
# Serving throughput and latency at 1, 4, 16, 64 concurrent streams on the synthetic
# SmolLM2-135M Q8_0, three ways, each row beside the ceilings measured in this run:
#   in-proc  ServingEngine driven in-process (bench_engine_serving)
#   http     a real `switchyard serve` of the same file, N streaming /v1/chat/completions
#            clients (http_client.mjs; times from SSE chunk arrival at the client)
#   peer     node-llama-cpp serving the same N streams as sequences of one context (peer.mjs)
# Ceilings: memory = N x median read bandwidth at the thread count / bytes one decode step reads
# (every weight once plus each stream's F16 KV at the mean position); compute = the int8 peak
# measured at the thread count (engine_peak, wall, this run's load included) / the operations
# of one token (2 x the weight multiply-adds). Prints the JSON rows on stderr (not through
# `tee /dev/stderr`, which truncates a redirected log), then a table.
#
#   bench/engine_serving/run.sh [--threads 2] [--streams 1,4,16,64] [--prompt-tokens 64]
#       [--gen 128] [--build DIR] [--prefill-ratio R] [--only in-proc,http,peer]
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=2
streams=1,4,16,64
prompt_tokens=64
gen=128  # long enough that the aggregate is not mostly the prefill of every prompt
build=build
prefill_ratio=0.5
only=in-proc,http,peer
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --prompt-tokens) prompt_tokens="$2"; shift 2 ;;
    --gen) gen="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --prefill-ratio) prefill_ratio="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

cmake --build "$build" --target bench_engine_serving engine_bandwidth engine_peak switchyard \
  >/dev/null
tokenizer=../shared/models/smollm2-135m-instruct/tokenizer.json
[[ -f "$tokenizer" ]] || tokenizer=/work/shared/models/smollm2-135m-instruct/tokenizer.json
cache="${SY_BENCH_MODELS:-/tmp/sy-bench-models}"
mkdir -p "$cache"
model="$cache/smollm2-135m-q8_0.gguf"  # the same file bench/engine/run.sh makes and caches
if [[ ! -f "$model" ]]; then
  "$build/switchyard" model synth --like smollm2-135m --tokenizer "$tokenizer" --type q8_0 \
    --seed 1 -o "$model.tmp" >&2
  mv "$model.tmp" "$model"
fi

summary=$(python3 bench/engine/gguf_summary.py "$model")
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
weight_bytes=$(json "$summary" read_bytes_per_token)
kv_bytes=$((2 * $(json "$summary" kv_elements_per_position)))
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bw_before=$("$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads")
peak_before=$("$build/bench/engine_serving/engine_peak" --threads "$threads")
echo "$bw_before" >&2
echo "$peak_before" >&2
peak_gops=$(json "$peak_before" gops_wall)

inproc= http= peer=
if wants in-proc; then
  inproc=$("$build/bench/engine_serving/bench_engine_serving" --model "$model" \
    --streams "$streams" --prompt-tokens "$prompt_tokens" --gen "$gen" --threads "$threads" \
    --bandwidth-gbs "$(json "$bw_before" median_gbs)" --weight-bytes "$weight_bytes" \
    --kv-bytes-per-position "$kv_bytes" --peak-gops "$peak_gops" \
    --prefill-ratio "$prefill_ratio")
  echo "$inproc" >&2
fi
vocab=$("$build/switchyard" model info "$model" 2>/dev/null | sed -n 's/.*vocab_size": u32 = \([0-9]*\).*/\1/p' | head -1)
[[ "$vocab" =~ ^[0-9]+$ ]] || vocab=49152

if wants http; then
  dir=$(mktemp -d)
  cat >"$dir/switchyard.yaml" <<EOF
limits:
  io_threads: 1
backends:
  - name: local
    protocol: local
    models:
      - name: bench
        path: $model
        chat_template: plain
        kv_budget: 512MiB   # 64 streams of 64 + 128 tokens (F16 KV, ~23 KB a position) and blocks' slack
        threads: $threads
        max_running: 64
models:
  default: local/bench
EOF
  "$build/switchyard" serve --config "$dir/switchyard.yaml" --listen 127.0.0.1:0 \
    --data-dir "$dir" --log-level warn >"$dir/stdout" 2>"$dir/stderr" &
  server=$!
  for _ in $(seq 100); do
    grep -q '^listening on' "$dir/stdout" 2>/dev/null && break
    sleep 0.2
  done
  origin=$(sed -n 's/^listening on //p' "$dir/stdout")
  if [[ -z "$origin" ]]; then
    cat "$dir/stderr" >&2
    kill "$server" 2>/dev/null || true
    exit 1
  fi
  # Prompt words chosen so that "user: <words>\nassistant:" is about --prompt-tokens tokens.
  http=$(node bench/engine_serving/http_client.mjs --origin "$origin" --model bench \
    --streams "$streams" --prompt-words $((prompt_tokens - 6)) --gen "$gen")
  echo "$http" >&2
  kill "$server"
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
fi

if wants peer; then
  peer=$(node bench/engine_serving/peer.mjs --model "$model" --streams "$streams" \
    --prompt-tokens "$prompt_tokens" --gen "$gen" --threads "$threads" --vocab "$vocab")
  echo "$peer" >&2
fi

bw_after=$("$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads")
peak_after=$("$build/bench/engine_serving/engine_peak" --threads "$threads")
echo "$bw_after" >&2
echo "$peak_after" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 bench/engine_serving/table.py --weight-bytes "$weight_bytes" --kv-bytes "$kv_bytes" \
  --prompt-tokens "$prompt_tokens" --gen "$gen" --macs "$(json "$summary" matmul_elements_per_token)" \
  "$bw_before" "$bw_after" "$peak_before" "$peak_after" "$inproc" "$http" "$peer"
