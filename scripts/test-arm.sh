#!/usr/bin/env bash
# Cross-builds the kernels and their tests (tests/kernels/standalone) for aarch64 with Debian's
# g++-aarch64-linux-gnu and runs them under qemu-aarch64: with `-cpu max` (NEON + dotprod: the
# neon table is tested against the reference) and with `-cpu cortex-a72` (no dotprod: the
# dispatcher must fall back to the reference kernels). Installs g++-aarch64-linux-gnu, qemu-user
# and googletest with apt-get (root or sudo) if missing. Safe to run again.
#   scripts/test-arm.sh            (build dir: build-arm; JOBS=N for the build, default 2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-arm}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(g++-aarch64-linux-gnu qemu-user googletest cmake ninja-build)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-arm: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S "$ROOT/tests/kernels/standalone" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/platforms/toolchains/aarch64-linux-gnu.cmake"
ninja -C "$BUILD" -j"${JOBS:-2}" test_kernels
ctest --test-dir "$BUILD" --output-on-failure --timeout 1200
