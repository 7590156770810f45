#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang-16 into ./build-fuzz and runs each one for
# SECONDS_PER_TARGET seconds (default 60) from its seed corpus in tests/fuzz/corpus/<target>/ and
# its regression inputs in tests/fuzz/regressions/<target>/. Prints the executions per target.
# Fails if any target finds a crash, a leak, UB, a timeout (-timeout=10 s per input) or an input
# using more than 2 GiB (-rss_limit_mb=2048); the reproducer is left in build-fuzz/findings/.
#
#   scripts/fuzz.sh 3600                     # an hour per target
#   MOTE_FUZZ_TARGETS="fuzz_chat" scripts/fuzz.sh 600
#   MOTE_FUZZ_JOBS=2 scripts/fuzz.sh 3600    # libFuzzer -fork with 2 workers per target
#   MOTE_FUZZ_NO_BUILD=1 scripts/fuzz.sh 60  # skip the (re)build
#
# New inputs a run discovers go to build-fuzz/corpus/<target>/ (kept between runs, not in git), so
# long runs resume where the last one stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-${MOTE_FUZZ_SECONDS:-60}}"
BUILD_DIR="${MOTE_FUZZ_BUILD_DIR:-build-fuzz}"
ALL_TARGETS="fuzz_mote_file fuzz_safetensors fuzz_config fuzz_tokenizer_json fuzz_tokenizer_model fuzz_chat fuzz_session_file"
TARGETS="${MOTE_FUZZ_TARGETS:-$ALL_TARGETS}"
JOBS="${MOTE_FUZZ_JOBS:-1}"

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # -O1 -g: the usual libFuzzer setting (fast enough to fuzz, frames intact in reports).
  cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DMOTE_FUZZ=ON -DMOTE_BUILD_TESTS=OFF \
    -DMOTE_BUILD_SAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
fi
if [ "${MOTE_FUZZ_NO_BUILD:-0}" != "1" ]; then  # 1: run the binaries as they are
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target $TARGETS
fi

# detect_leaks stays on here (unlike scripts/sanitize.sh): the targets touch neither XNNPACK nor
# oneTBB's pool (one kernel thread), so a leak report is ours.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Reports name functions and lines only with a symbolizer; clang-16 ships none, any LLVM's will do.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in llvm-symbolizer-16 llvm-symbolizer llvm-symbolizer-14; do
    if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH; ASAN_SYMBOLIZER_PATH="$(command -v "$s")"; break; fi
  done
fi
FINDINGS="$BUILD_DIR/findings"
mkdir -p "$FINDINGS"
failed=()
summary=()
for target in $TARGETS; do
  corpus="$BUILD_DIR/corpus/$target"
  mkdir -p "$corpus" "$FINDINGS/$target"
  seeds=("tests/fuzz/corpus/$target")
  [ -d "tests/fuzz/regressions/$target" ] && seeds+=("tests/fuzz/regressions/$target")
  log="$BUILD_DIR/$target.log"
  fork=()
  [ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS" -ignore_crashes=0)
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  set +e
  "$BUILD_DIR/tests/fuzz/$target" "${fork[@]}" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$FINDINGS/$target/" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  summary+=("$(printf '%-22s %10s executions  exit %s' "$target" "${execs:-?}" "$rc")")
  if [ "$rc" -ne 0 ] || ls "$FINDINGS/$target"/{crash,leak,timeout,oom}-* >/dev/null 2>&1; then
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $rc); last lines of $log:"
    tail -n 40 "$log"
  fi
done
echo "fuzz: executions in ${SECONDS_PER_TARGET}s per target"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (reproducers in $FINDINGS/<target>/)"
  exit 1
fi
