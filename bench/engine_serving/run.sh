#!/usr/bin/env bash
# ServingEngine throughput and latency at 1, 4, 16, 64 concurrent streams on the synthetic
# SmolLM2-135M Q8_0, each row beside the memory ceiling of a decode step measured in this run
# (median read bandwidth at the thread count / bytes one step reads: every weight once plus each
# stream's KV cache). Prints the JSON rows, then a table.
#
#   bench/engine_serving/run.sh [--threads 2] [--streams 1,4,16,64] [--prompt-tokens 64]
#                               [--gen 32] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=2
streams=1,4,16,64
prompt_tokens=64
gen=32
build=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --prompt-tokens) prompt_tokens="$2"; shift 2 ;;
    --gen) gen="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cmake --build "$build" --target bench_engine_serving engine_bandwidth >/dev/null
tokenizer=../shared/models/smollm2-135m-instruct/tokenizer.json
[[ -f "$tokenizer" ]] || tokenizer=/work/shared/models/smollm2-135m-instruct/tokenizer.json
cache="${SY_BENCH_MODELS:-/tmp/sy-bench-models}"
mkdir -p "$cache"
model="$cache/smollm2-135m-q8_0.gguf"  # the same file bench/engine/run.sh makes and caches
if [[ ! -f "$model" ]]; then
  cmake --build "$build" --target switchyard >/dev/null
  "$build/switchyard" model synth --like smollm2-135m --tokenizer "$tokenizer" --type q8_0 \
    --seed 1 -o "$model.tmp" >&2
  mv "$model.tmp" "$model"
fi

summary=$(python3 bench/engine/gguf_summary.py "$model")
weight_bytes=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['read_bytes_per_token'])" "$summary")
kv_bytes=$(python3 -c "import json,sys; print(2 * json.loads(sys.argv[1])['kv_elements_per_position'])" "$summary")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bw_before=$("$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads")
echo "$bw_before" >&2
rows=$("$build/bench/engine_serving/bench_engine_serving" --model "$model" --streams "$streams" \
  --prompt-tokens "$prompt_tokens" --gen "$gen" --threads "$threads" \
  --bandwidth-gbs "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['median_gbs'])" "$bw_before")" \
  --weight-bytes "$weight_bytes" --kv-bytes-per-position "$kv_bytes" | tee /dev/stderr)
bw_after=$("$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads")
echo "$bw_after" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$bw_before" "$bw_after" "$rows" <<'PY'
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rows = [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
print(f"bandwidth median GB/s: {before['median_gbs']:.1f} before, {after['median_gbs']:.1f} after "
      f"(ceiling uses before)")
print(f"{'streams':>7} | {'agg tok/s':>9} {'decode tok/s':>12} {'ceiling':>8} {'dec/ceil':>8} | "
      f"{'TTFT p50':>8} {'p99':>8} | {'ITL p50':>7} {'p99':>7} (ms) | steps")
for r in rows:
    ratio = r['decode_tok_s'] / r['ceiling_tok_s'] if r['ceiling_tok_s'] else 0
    print(f"{r['streams']:>7} | {r['aggregate_tok_s']:9.1f} {r['decode_tok_s']:12.1f} "
          f"{r['ceiling_tok_s']:8.1f} {ratio:8.2f} | {r['ttft_p50_ms']:8.0f} {r['ttft_p99_ms']:8.0f} | "
          f"{r['itl_p50_ms']:7.0f} {r['itl_p99_ms']:7.0f}      | {r['steps']}")
PY
