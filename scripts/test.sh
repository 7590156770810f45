#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite, then the whole
# stack cross-built for aarch64 and run under qemu (scripts/test-arm.sh ci: the demo model, F32
# greedy = x86's, the expert store, the edge-chat sample and a ctest subset at -cpu max and
# cortex-a72; MOTE_ARM_MODE=suite runs every test at max with the heavy tests' data cut, =full at
# full sizes; MOTE_SKIP_ARM=1 skips ARM), the
# ASan+UBSan suite (scripts/sanitize.sh) and the fuzz targets (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
if [ "${MOTE_SKIP_ARM:-0}" != "1" ]; then
  arm_start=$SECONDS
  bash scripts/test-arm.sh "${MOTE_ARM_MODE:-ci}"
  echo "test.sh: aarch64 stage took $((SECONDS - arm_start)) s"
fi
# The suite again under ASan+UBSan (build-asan), then every fuzz target for MOTE_FUZZ_SECONDS
# (default 10) each (build-fuzz). MOTE_SKIP_SANITIZERS=1 / MOTE_SKIP_FUZZ=1 skip them.
if [ "${MOTE_SKIP_SANITIZERS:-0}" != "1" ]; then
  bash scripts/sanitize.sh
fi
if [ "${MOTE_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh "${MOTE_FUZZ_SECONDS:-10}"
fi
