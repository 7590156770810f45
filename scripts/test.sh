#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite, then the kernel
# tests cross-built for aarch64 under qemu (NEON + dotprod; set MOTE_SKIP_ARM=1 to skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
if [ "${MOTE_SKIP_ARM:-0}" != "1" ]; then
  bash scripts/test-arm.sh
fi
