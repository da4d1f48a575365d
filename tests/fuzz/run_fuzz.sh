#!/usr/bin/env bash
# Builds the fuzz targets with AFL++ in GCC mode in a build tree of their own and fuzzes each
# for a bounded time; fails when AFL++ finds a crash. CTest runs it as the `fuzz.afl` test.
#
#   tests/fuzz/run_fuzz.sh SOURCE_DIR BUILD_DIR [TOTAL_SECONDS]
#
# TOTAL_SECONDS (default 30; SWITCHYARD_FUZZ_SECONDS overrides) is split over the targets.
# Exit 77 (CTest: skipped) when AFL++ is not installed. Findings stay in BUILD_DIR/afl/<target>/.
set -euo pipefail

src=$(cd "$1" && pwd)
build=$2
total=${SWITCHYARD_FUZZ_SECONDS:-${3:-30}}
targets=(gguf_reader llama2c_loader tokenizer)

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: AFL++ not found (scripts/setup.sh installs afl++); fuzzing skipped"
  exit 77
fi

# GCC-plugin instrumentation (afl-g++-fast) when the plugin matches the installed GCC; Debian's
# build sometimes does not ("GCC and plugin have incompatible versions"), and then AFL++'s
# classic GCC mode (afl-g++, instrumenting at the assembler) still works with the same GCC.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'int main() { return 0; }' >"$probe_dir/probe.cpp"
cxx=""
for candidate in afl-g++-fast afl-g++; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" "$probe_dir/probe.cpp" -o "$probe_dir/probe" >/dev/null 2>&1; then
    cxx=$candidate
    break
  fi
done
if [[ -z $cxx ]]; then
  echo "fuzz: no working AFL++ GCC compiler (afl-g++-fast, afl-g++); fuzzing skipped"
  exit 77
fi
persistent=OFF
[[ $cxx == afl-g++-fast ]] && persistent=ON
echo "fuzz: compiler $cxx, ${total}s over ${#targets[@]} targets"

mkdir -p "$build"
if ! AFL_QUIET=1 cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DSWITCHYARD_FUZZ=ON -DSWITCHYARD_BUILD_BENCH=OFF \
  -DSWITCHYARD_FUZZ_PERSISTENT="$persistent" \
  >"$build/fuzz-build.log" 2>&1 ||
  ! AFL_QUIET=1 cmake --build "$build" --parallel "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    --target "${targets[@]/#/fuzz_}" >>"$build/fuzz-build.log" 2>&1; then
  echo "fuzz: building the targets failed; last lines of $build/fuzz-build.log:"
  tail -n 30 "$build/fuzz-build.log"
  exit 1
fi

per=$((total / ${#targets[@]}))
((per >= 1)) || per=1
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
failed=0
for t in "${targets[@]}"; do
  out="$build/afl/$t"
  rm -rf "$out"
  mkdir -p "$out"
  # -V bounds the campaign; the outer timeout only guards against afl-fuzz itself hanging.
  if ! timeout $((per + 60)) afl-fuzz -V "$per" -t 2000 -m none -i "$src/tests/fuzz/$t/corpus" \
    -o "$out" -- "$build/fuzz_$t" >"$out/afl-fuzz.log" 2>&1; then
    echo "fuzz: $t: afl-fuzz failed; last lines of $out/afl-fuzz.log:"
    tail -n 15 "$out/afl-fuzz.log"
    failed=1
    continue
  fi
  stats="$out/default/fuzzer_stats"
  execs=$(awk -F': ' '/^execs_done/ {print $2}' "$stats" 2>/dev/null || echo "?")
  paths=$(awk -F': ' '/^corpus_count/ {print $2}' "$stats" 2>/dev/null || echo "?")
  crashes=$(find "$out/default/crashes" -type f ! -name README.txt 2>/dev/null | sort)
  echo "fuzz: $t: ${per}s, $execs executions, $paths corpus entries"
  if [[ -n $crashes ]]; then
    echo "fuzz: $t: CRASHES (reproduce: $build/fuzz_$t < FILE):"
    echo "$crashes"
    failed=1
  fi
done
exit $failed
