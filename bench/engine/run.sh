#!/usr/bin/env bash
# Engine speed and memory against the memory-bandwidth ceiling and the node-llama-cpp peer, all
# measured in this one run (issue 4, "Speed and memory"; method in ../shared/PERF.md).
#
#   bench/engine/run.sh [--models "135m:q8_0 135m:q4_0 360m:q8_0 360m:q4_0 1.7b:q4_k"]
#                       [--threads "1 2"] [--prompt-tokens 512] [--gen 128] [--no-peer]
#                       [--build DIR] [--no-build] [--keep-models] [--baseline OTHER_SWITCHYARD]
#                       [--repeat 3]
#
# For each synthetic model (SmolLM2 shapes, real tokenizer, seeded random weights; written at
# bench time under $SY_BENCH_MODELS, default /tmp/sy-bench-models, and deleted at the end unless
# --keep-models: the full set is ~1.9 GB; files already there are used and left alone) and
# thread count it runs
# `switchyard generate --stats-json` and bench/engine/peer.mjs on the same file with the same
# prompt length and token count, then prints one table. Ceiling = median read bandwidth at the
# row's thread count / bytes of weights read per generated token (gguf_summary.py). The file
# set adds 1.7b:q4_k when `switchyard model synth` and Q4_K weights are both available.
# --no-build uses the binaries already in DIR (switchyard, bench/engine/engine_bandwidth) as
# they are, e.g. a copy taken before editing the sources while the run goes on.
# --baseline runs another switchyard binary (an older build) on every row too, right after
# ours, and prints its speeds beside ours: a before/after measured under the same load.
# --repeat N runs ours (and the baseline) N times a row, each time right after its own
# bandwidth probe at the row's thread count, and the table gives the medians: the VM's memory
# bandwidth swings between runs minutes apart (46 to 80 GB/s at 2 threads in one session), so
# one probe at the start can be far from what a row met. The peer runs once a row.
set -euo pipefail
cd "$(dirname "$0")/../.."

models="135m:q8_0 135m:q4_0 360m:q8_0 360m:q4_0"
models_given=0
thread_counts="1 2"
prompt_tokens=512
gen=128
peer=1
build=build
rebuild=1
keep_models=0
baseline=""
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) models="$2"; models_given=1; shift 2 ;;
    --threads) thread_counts="$2"; shift 2 ;;
    --prompt-tokens) prompt_tokens="$2"; shift 2 ;;
    --gen) gen="$2"; shift 2 ;;
    --no-peer) peer=0; shift ;;
    --build) build="$2"; shift 2 ;;
    --no-build) rebuild=0; shift ;;
    --keep-models) keep_models=1; shift ;;
    --baseline) baseline="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [[ $rebuild == 1 ]]; then
  cmake --build "$build" --target switchyard engine_bandwidth engine_synth_smollm2 >/dev/null
fi
sy="$build/switchyard"
tokenizer=../shared/models/smollm2-135m-instruct/tokenizer.json
[[ -f "$tokenizer" ]] || tokenizer=/work/shared/models/smollm2-135m-instruct/tokenizer.json
cache="${SY_BENCH_MODELS:-/tmp/sy-bench-models}"
mkdir -p "$cache"
work=$(mktemp -d)
# Model files this run wrote (one per line), deleted on exit unless --keep-models.
: > "$work/generated"
cleanup() {
  if [[ $keep_models == 0 ]]; then
    while read -r f; do rm -f "$f" "$f.tmp"; done < "$work/generated"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

has_synth=0
"$sy" model --help 2>/dev/null | grep -qE "^ +synth " && has_synth=1
if [[ $has_synth == 1 && $models_given == 0 ]]; then
  models="$models 1.7b:q4_k"
fi

# The model file for "135m:q8_0": `model synth` when the CLI has it, else this folder's writer
# (F16) followed by `model quantize`.
model_file() {
  local size=${1%%:*} type=${1##*:}
  local out="$cache/smollm2-$size-$type.gguf"
  if [[ ! -f "$out" ]]; then
    echo "$out" >> "$work/generated"
    if [[ $has_synth == 1 ]]; then
      "$sy" model synth --like "smollm2-$size" --tokenizer "$tokenizer" --type "$type" \
        --seed 1 -o "$out.tmp" >&2
    else
      local f16="$cache/smollm2-$size-f16.gguf"
      [[ -f "$f16" ]] || echo "$f16" >> "$work/generated"
      [[ -f "$f16" ]] || "$build/bench/engine/engine_synth_smollm2" --like "smollm2-$size" \
        --tokenizer "$tokenizer" --seed 1 -o "$f16"
      "$sy" model quantize "$f16" "$out.tmp" --type "$type" >&2
    fi
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

# " the" is one token in SmolLM2's vocabulary (and no BOS is added), so the prompt is exactly
# $prompt_tokens tokens; both engines report the count they saw.
prompt="the$(printf ' the%.0s' $(seq 2 "$prompt_tokens"))"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
threads_csv=$(echo "$thread_counts" | tr ' ' ',')
"$build/bench/engine/engine_bandwidth" --runs 10 --threads "$threads_csv" > "$work/bandwidth"
cat "$work/bandwidth" >&2

rows="$work/rows"
: > "$rows"
for m in $models; do
  file=$(model_file "$m")
  summary=$(python3 bench/engine/gguf_summary.py "$file")
  for t in $thread_counts; do
    ours="" before="" probes=""
    for _ in $(seq "$repeat"); do
      probes+=,$("$build/bench/engine/engine_bandwidth" --mib 512 --runs 5 --threads "$t" | tail -n 1)
      ours+=,$("$sy" generate -m "$file" -p "$prompt" -n "$gen" --ignore-eos --threads "$t" \
        --stats-json 2>&1 >/dev/null | tail -n 1)
      if [[ -n "$baseline" ]]; then
        before+=,$("$baseline" generate -m "$file" -p "$prompt" -n "$gen" --ignore-eos \
          --threads "$t" --stats-json 2>&1 >/dev/null | tail -n 1)
      fi
    done
    theirs='{}'
    if [[ $peer == 1 ]]; then
      theirs=$(node bench/engine/peer.mjs --model "$file" --prompt "$prompt" --gen "$gen" \
        --threads "$t" 2>/dev/null | tail -n 1)
    fi
    # The generated tokens and log-probabilities are left out of the row: the table does not
    # read them.
    echo "{\"model\":\"$m\",\"threads\":$t,\"summary\":$summary,\"probes\":[${probes#,}],\"ours\":[${ours#,}],\"baseline\":[${before#,}],\"peer\":$theirs}" \
      | python3 -c 'import json, sys
row = json.load(sys.stdin)
for run in row["ours"] + row["baseline"] + [row["peer"]]:
    run.pop("tokens", None), run.pop("logprobs", None)
print(json.dumps(row))' | tee -a "$rows" >&2
  done
  # One generated model on disk at a time.
  if [[ $keep_models == 0 ]] && grep -qxF "$file" "$work/generated"; then rm -f "$file"; fi
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 bench/engine/table.py "$work/bandwidth" "$rows" "$gen" "$prompt_tokens"
