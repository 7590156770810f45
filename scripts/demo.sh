#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, converts the bundled DeepSeek-V3-architecture
# checkpoint (tests/fixtures/ds3_tiny: tiny, random weights, with an MTP layer) to .mote and
# generates a greedy continuation and streamed text with the CPU runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p build/demo
./build/converter/mote-convert tests/fixtures/ds3_tiny -o build/demo/ds3_tiny.mote --weights q8_0
./build/samples/mote inspect build/demo/ds3_tiny.mote | head -n 12
echo "greedy continuation of ids 0,5,17,42:"
./build/samples/mote run build/demo/ds3_tiny.mote --ids 0,5,17,42 -n 16
echo "text through the byte-level tokenizer (random weights: the text is noise until a trained model lands):"
./build/samples/mote run build/demo/ds3_tiny.mote -p "Hello" -n 16 --ignore-eos --stats
