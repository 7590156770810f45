#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite, then the kernel
# tests cross-built for aarch64 under qemu (NEON + dotprod; set MOTE_SKIP_ARM=1 to skip), the
# ASan+UBSan suite (scripts/sanitize.sh) and the fuzz targets (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
if [ "${MOTE_SKIP_ARM:-0}" != "1" ]; then
  bash scripts/test-arm.sh
fi
# The suite again under ASan+UBSan (build-asan), then every fuzz target for MOTE_FUZZ_SECONDS
# (default 30) each (build-fuzz). MOTE_SKIP_SANITIZERS=1 / MOTE_SKIP_FUZZ=1 skip them.
if [ "${MOTE_SKIP_SANITIZERS:-0}" != "1" ]; then
  bash scripts/sanitize.sh
fi
if [ "${MOTE_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh "${MOTE_FUZZ_SECONDS:-30}"
fi
