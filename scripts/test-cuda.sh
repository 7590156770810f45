#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in one prepared run (issue 19 item 5; budget: under 8 minutes
# on a 16-core machine with one H100/H200). Needs the repository and a CUDA toolkit (nvcc in PATH
# or /usr/local/cuda/bin) and driver; no network. Steps:
#   1. report the GPU, driver and nvcc;
#   2. check the build dependencies (the Debian packages scripts/install-deps.sh installs that the
#      build needs); a missing one stops here with their list (install them with install-deps.sh
#      where there is a network);
#   3. configure ./build-cuda with MOTE_CUDA=ON for this GPU's architecture only (nvidia-smi's
#      compute capability; the default list otherwise) and build test_cuda, test_cuda_device,
#      mote-convert and mote-synth;
#   4. test_cuda: the kernels' __host__ __device__ arithmetic on the CPU;
#   5. test_cuda_device CudaOps.* and CudaAttention.*: every CUDA op against the CPU backend's
#      scalar reference on odd shapes;
#   6. test_cuda_device Fixtures/CudaModel.*: whole-model logits CUDA vs CPU on every fixture (F32
#      relative error <= 1e-4 and identical greedy continuations, Q8_0 / Q4 cosine >= 0.999 / 0.99;
#      on three MoE fixtures also with a VRAM budget whose expert cache holds 25% of the experts,
#      in each tier mode: upload, CPU, auto);
#   7. test_cuda_device CudaBench.*: synthetic OLMoE-1B-7B and DeepSeek-V2-Lite widths (Q4,
#      MOTE_CUDA_BENCH_LAYERS layers, default 4): device bandwidth, the decode GEMV's roofline
#      ratio, prefill and decode tok/s, decode / HBM roofline, each fully resident and with a
#      VRAM budget of 25% of the experts (with the share of expert accesses per tier).
# Every step runs even if an earlier test step failed (one run should tell everything); the exit
# status is non-zero if any failed or skipped (a machine without a usable device). The log is build-cuda/test-cuda.log (and $OUT/test-cuda.log
# when $OUT is set, as on the device runner), with each step's time.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${MOTE_CUDA_BUILD_DIR:-build-cuda}"
mkdir -p "$BUILD"
LOG="$BUILD/test-cuda.log"
: > "$LOG"
start=$SECONDS
failed=()
say() { echo "test-cuda: $*" | tee -a "$LOG"; }
step() {  # step NAME TIMEOUT_S COMMAND...: runs it with a time limit, logs its output and time
  local name="$1" limit="$2"
  shift 2
  local t0=$SECONDS out="$BUILD/step-$name.log"
  say "== $name"
  timeout "$limit" "$@" > "$out" 2>&1
  local rc=$?
  cat "$out" | tee -a "$LOG"
  # A GoogleTest step that skipped (no usable device) has not tested anything: that fails too.
  if [ "$rc" -eq 0 ] && grep -q '^\[  SKIPPED \]' "$out"; then
    say "== $name: tests were skipped (no usable CUDA device?)"
    rc=1
  fi
  say "== $name: exit $rc after $((SECONDS - t0)) s (total $((SECONDS - start)) s)"
  [ "$rc" -eq 0 ] || failed+=("$name")
  return "$rc"
}
finish() {
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then cp "$LOG" "$OUT/test-cuda.log"; fi
  if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]} (total $((SECONDS - start)) s)"
    exit 1
  fi
  say "all steps passed (total $((SECONDS - start)) s)"
  exit 0
}

# 1. Machine.
export PATH="$PATH:/usr/local/cuda/bin"
if ! command -v nvcc >/dev/null; then
  say "no nvcc in PATH or /usr/local/cuda/bin"
  failed+=(toolkit)
  finish
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader 2>&1 | tee -a "$LOG" || say "nvidia-smi failed or is missing"
nvcc --version | tail -2 | tee -a "$LOG"
say "cores: $(nproc)"

# 2. Build dependencies (what cmake/Dependencies.cmake requires; optional ones are not needed).
missing=()
for p in cmake g++ pkg-config libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev libgtest-dev libtbb-dev \
         libpcre2-dev libicu-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && ! command -v dpkg-query >/dev/null; then missing=(); fi  # not Debian: let cmake say
if [ "${#missing[@]}" -gt 0 ]; then
  say "missing Debian packages: ${missing[*]} (scripts/install-deps.sh installs them; this machine has no network)"
  failed+=(dependencies)
  finish
fi
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)

# 3. Configure and build, for this GPU's architecture (e.g. compute_cap 9.0 -> 90).
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
ARCH=()
[[ "$cap" =~ ^[0-9]+$ ]] && ARCH=(-DCMAKE_CUDA_ARCHITECTURES="$cap")
step configure 120 cmake -S . -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DMOTE_CUDA=ON "${ARCH[@]}" ||
  finish
step build 360 cmake --build "$BUILD" -j "$(nproc)" --target test_cuda test_cuda_device mote-convert mote-synth ||
  finish

# 4-7. Tests.
export MOTE_EXPERT_STATS=off
step cpu-arithmetic 60 "$BUILD/tests/test_cuda"
step ops 120 "$BUILD/tests/test_cuda_device" --gtest_filter='CudaOps.*:CudaAttention.*'
step models 240 "$BUILD/tests/test_cuda_device" --gtest_filter='Fixtures/CudaModel.*'
step bench 240 "$BUILD/tests/test_cuda_device" --gtest_filter='CudaBench.*'
grep '^\[cuda bench\]' "$LOG" | sed 's/^/test-cuda: /'
finish
