#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, converts the bundled demo model
# (samples/models/mote-demo: a small DeepSeek-V3-architecture MoE with MLA, 16 routed experts and
# an MTP module, trained here on Shakespeare and War and Peace by tools/train/train_demo.py) to
# .mote, and generates text with it on the CPU, drafting with the MTP module.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p build/demo
./build/converter/mote-convert samples/models/mote-demo -o build/demo/mote-demo.mote --weights q8_0
./build/samples/mote inspect build/demo/mote-demo.mote | head -n 12
echo
echo "== sampled (temperature 0.7, repetition penalty 1.15, seed 3), MTP speculative decoding on:"
./build/samples/mote run build/demo/mote-demo.mote -p "ROMEO:
But soft, what light" -n 120 --temp 0.7 --repeat-penalty 1.15 --seed 3 --stats
echo
echo "== sampled (temperature 0.8, top-p 0.95, seed 7), with a 1 MiB routed-expert budget:"
./build/samples/mote run build/demo/mote-demo.mote -p "It was in the year 1812, and the Emperor" -n 120 \
  --temp 0.8 --top-p 0.95 --seed 7 --expert-budget 1M --stats
