#!/usr/bin/env bash
# Configures and builds mote into ./build (Release). Extra arguments go to cmake's configure step.
# Where a CUDA toolkit is installed (nvcc in PATH or /usr/local/cuda/bin) the CUDA backend is built
# too (MOTE_CUDA=ON), so CI compiles it and runs every test that needs no GPU; MOTE_CUDA=OFF in the
# environment (or -DMOTE_CUDA=OFF as an argument) turns that off. The ASan and fuzz builds
# (sanitize.sh, fuzz.sh) never build it.
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
CUDA=()
if [ "${MOTE_CUDA:-auto}" != "OFF" ] && { command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }; then
  CUDA=(-DMOTE_CUDA=ON)
fi
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release "${CUDA[@]}" "$@"
fi
cmake --build build -j "$(nproc)"
