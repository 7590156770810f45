#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, converts the bundled DeepSeek-V3-architecture
# checkpoint (tests/fixtures/ds3_tiny: tiny, random weights, with an MTP layer) to .mote and
# generates a greedy continuation with the CPU runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p build/demo
./build/converter/mote-convert tests/fixtures/ds3_tiny -o build/demo/ds3_tiny.mote --weights q8_0
./build/samples/mote inspect build/demo/ds3_tiny.mote | head -n 12
echo "greedy continuation of ids 0,5,17,42:"
./build/samples/mote run build/demo/ds3_tiny.mote --ids 0,5,17,42 -n 16
