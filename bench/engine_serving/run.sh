#!/usr/bin/env bash
# ServingEngine throughput and latency at 1, 4, 16, 64 concurrent streams on the synthetic
# SmolLM2-135M Q8_0, each row beside the memory ceiling of a decode step measured in this run
# (median read bandwidth at the thread count / bytes one step reads: every weight once plus each
# stream's KV cache). Prints the JSON rows, then a table.
#
#   bench/engine_serving/run.sh [--threads 2] [--streams 1,4,16,64] [--prompt-tokens 64]
#                               [--gen 32] [--build DIR] [--prefill-ratio R] [--peak-gops G]
#
# The compute ceiling is --peak-gops (default: PERF.md's int8 VNNI peak, 463 GOP/s a thread)
# over the operations of one token; --prefill-ratio 0 gives the scheduler without the
# flat-latency prefill cap (ServingOptions::prefill_ratio), for before/after in one build.
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=2
streams=1,4,16,64
prompt_tokens=64
gen=32
build=build
prefill_ratio=0.5
peak_gops=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --prompt-tokens) prompt_tokens="$2"; shift 2 ;;
    --gen) gen="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --prefill-ratio) prefill_ratio="$2"; shift 2 ;;
    --peak-gops) peak_gops="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cmake --build "$build" --target bench_engine_serving engine_bandwidth >/dev/null
[[ -n "$peak_gops" ]] || peak_gops=$((463 * threads))
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
  --weight-bytes "$weight_bytes" --kv-bytes-per-position "$kv_bytes" \
  --peak-gops "$peak_gops" --prefill-ratio "$prefill_ratio" | tee /dev/stderr)
bw_after=$("$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads")
echo "$bw_after" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$bw_before" "$bw_after" "$rows" <<'PY'
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rows = [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
print(f"bandwidth median GB/s: {before['median_gbs']:.1f} before, {after['median_gbs']:.1f} after "
      f"(ceiling uses before)")
base = next((r['aggregate_tok_s'] for r in rows if r['streams'] == 1), 0)
print(f"prefill_ratio {rows[0]['prefill_ratio'] if rows else '?'}; ceilings: memory (bandwidth / bytes "
      f"per step) and compute ({rows[0]['compute_ceiling_tok_s'] if rows else 0:.0f} tok/s: "
      f"int8 peak / operations per token); ITL cpu: process CPU time between a stream's tokens")
print(f"{'streams':>7} | {'agg tok/s':>9} {'x1':>5} {'decode':>7} {'mem ceil':>8} {'dec/mem':>7} "
      f"{'dec/cmp':>7} | {'TTFT p50':>8} {'p99':>7} | {'ITL p50':>7} {'mean':>6} {'p99':>6} "
      f"{'p99/mean':>8} | {'cpu ITL mean':>12} {'p99/mean':>8} | steps")
for r in rows:
    ratio = r['decode_tok_s'] / r['ceiling_tok_s'] if r['ceiling_tok_s'] else 0
    cratio = r['decode_tok_s'] / r['compute_ceiling_tok_s'] if r['compute_ceiling_tok_s'] else 0
    x1 = r['aggregate_tok_s'] / base if base else 0
    print(f"{r['streams']:>7} | {r['aggregate_tok_s']:9.1f} {x1:5.2f} {r['decode_tok_s']:7.1f} "
          f"{r['ceiling_tok_s']:8.1f} {ratio:7.2f} {cratio:7.2f} | {r['ttft_p50_ms']:8.0f} "
          f"{r['ttft_p99_ms']:7.0f} | {r['itl_p50_ms']:7.0f} {r['itl_mean_ms']:6.0f} "
          f"{r['itl_p99_ms']:6.0f} {r['itl_p99_over_mean']:8.2f} | {r['itl_cpu_mean_ms']:12.1f} "
          f"{r['itl_cpu_p99_over_mean']:8.2f} | {r['steps']}")
PY
