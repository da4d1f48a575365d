#!/usr/bin/env bash
# Builds the fuzz targets with AFL++ in GCC mode in a build tree of their own and fuzzes each
# for a bounded time; fails when AFL++ finds a crash. CTest runs it as the `fuzz.afl` test.
#
#   tests/fuzz/run_fuzz.sh SOURCE_DIR BUILD_DIR [TOTAL_SECONDS]
#
# TOTAL_SECONDS (default 30; SWITCHYARD_FUZZ_SECONDS overrides) is split over the targets.
# Exit 77 (CTest: skipped) when AFL++ is not installed. Findings stay in BUILD_DIR/afl/<target>/.
# SWITCHYARD_FUZZ_STARTUP_SECONDS (default 300): how long afl-fuzz may take beyond its fuzzing
# time (startup and seed calibration, slow on a loaded machine) before it is stopped.
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
# The test must pass on a loaded machine (CI shares 2 cores with parallel builds: load 10-20),
# where one execution of a target can take a second or more and afl-fuzz's startup (fork server,
# then calibrating every seed) takes minutes, none of which -V counts. So:
# - AFL_FAST_CAL: 3 calibration runs per seed, not 8;
# - AFL_FORKSRV_INIT_TMOUT: a minute for the fork server to come up;
# - -t 10000: a slow execution is load, not a hang (hangs are not what this test fails on); a
#   seed must still run within it. Not '10000+': AFL++ 4.04c then picks its own timeout after
#   calibration, capped at 1 s, and a loaded machine's every second run counts as a hang;
# - the outer guard only stops an afl-fuzz that never ends, and it stops it with SIGINT so the
#   findings are written; reaching it is reported, not failed: findings are checked either way.
# What still fails: the build, afl-fuzz aborting by itself (a seed that crashes, a broken setup),
# and any crash found.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export AFL_FAST_CAL=1 AFL_FORKSRV_INIT_TMOUT=60000
exec_timeout=10000
guard=$((per + ${SWITCHYARD_FUZZ_STARTUP_SECONDS:-300}))
failed=0
for t in "${targets[@]}"; do
  out="$build/afl/$t"
  rm -rf "$out"
  mkdir -p "$out"
  rc=0
  timeout -s INT -k 30 "$guard" afl-fuzz -V "$per" -t "$exec_timeout" -m none \
    -i "$src/tests/fuzz/$t/corpus" -o "$out" -- "$build/fuzz_$t" >"$out/afl-fuzz.log" 2>&1 ||
    rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "fuzz: $t: WARNING: afl-fuzz still running after ${guard}s (machine under load?);" \
      "stopped, its findings checked below"
  elif ((rc != 0)); then
    echo "fuzz: $t: afl-fuzz failed (exit $rc); last lines of $out/afl-fuzz.log:"
    tail -n 15 "$out/afl-fuzz.log"
    failed=1
  fi
  stats="$out/default/fuzzer_stats"
  execs=$(awk -F': ' '/^execs_done/ {print $2}' "$stats" 2>/dev/null || echo "?")
  paths=$(awk -F': ' '/^corpus_count/ {print $2}' "$stats" 2>/dev/null || echo "?")
  crashes=$(find "$out/default/crashes" -type f ! -name README.txt 2>/dev/null | sort)
  ((rc == 0)) && echo "fuzz: $t: ${per}s, ${execs:-0} executions, ${paths:-0} corpus entries"
  if [[ -n $crashes ]]; then
    echo "fuzz: $t: CRASHES (reproduce: $build/fuzz_$t < FILE):"
    echo "$crashes"
    failed=1
  fi
done
exit $failed
