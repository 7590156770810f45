#!/usr/bin/env bash
# MTP speculative decoding benchmark (issue 7), numbers from one run on this machine:
#  1. the bundled demo model (trained; its MTP module drafts well): `mote bench --mtp-compare`
#     for F32 and Q8_0, resident and with a routed-expert budget of a quarter of the experts;
#  2. a real-width synthetic DeepSeek-V3-architecture model (DeepSeek-V2-Lite widths: hidden 2048,
#     64 experts of 1408, top-6, plus an MTP layer; random weights, so drafts are rarely right):
#     the same comparison, to show what verifying two tokens costs in expert bytes per token.
# Usage: bash scripts/bench-mtp.sh   (env: GEN=64 PROMPT=16 WORK=/tmp/mote-bench-mtp LAYERS=4)
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=${GEN:-64}
PROMPT=${PROMPT:-16}
LAYERS=${LAYERS:-4}
WORK=${WORK:-/tmp/mote-bench-mtp}
MOTE=build/samples/mote
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[ -x "$MOTE" ] && [ -x build/tools/synth/mote-synth ] || bash scripts/build.sh
mkdir -p "$WORK"

row() {  # name json
  jq -r --arg n "$1" '[$n, (.decode_tok_s * 10 | round / 10), (.decode_tok_s_mtp * 10 | round / 10),
      (.mtp_speedup * 100 | round / 100), (.mtp_acceptance * 1000 | round / 1000),
      (.bytes_read_per_token / 1048576 * 100 | round / 100), (.bytes_read_per_token_mtp / 1048576 * 100 | round / 100),
      (.expert_accesses_per_token * 10 | round / 10), (.expert_accesses_per_token_mtp * 10 | round / 10)] | @tsv' "$2" |
    awk -F'\t' '{printf "%-22s %9s %9s %8s %10s %11s %11s %9s %9s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9}'
}
printf '%-22s %9s %9s %8s %10s %11s %11s %9s %9s\n' run tok/s tok/s_mtp speedup acceptance MiB/tok MiB/tok_mtp exp/tok exp/tok_mtp

for w in f32 q8_0; do
  M="$WORK/demo-$w.mote"
  [ -f "$M" ] || build/converter/mote-convert samples/models/mote-demo -o "$M" --weights "$w" --quiet >/dev/null
  "$MOTE" bench "$M" --mtp-compare --prompt "$PROMPT" --gen "$GEN" >"$WORK/demo-$w.json"
  row "demo $w" "$WORK/demo-$w.json"
  EXPERTS=$("$MOTE" inspect "$M" --json | jq '.bytes.routed_experts')
  "$MOTE" bench "$M" --mtp-compare --prompt "$PROMPT" --gen "$GEN" --expert-budget $((EXPERTS / 4)) \
    >"$WORK/demo-$w-budget25.json"
  row "demo $w 25% budget" "$WORK/demo-$w-budget25.json"
done

SYN="$WORK/v3arch-v2lite-${LAYERS}l-q8_0.mote"
if [ ! -f "$SYN" ]; then
  jq '.model_type = "deepseek_v3" | .architectures = ["DeepseekV3ForCausalLM"] | .num_nextn_predict_layers = 1
      | .topk_method = "noaux_tc" | .scoring_func = "sigmoid" | .n_group = 8 | .topk_group = 4
      | .norm_topk_prob = true | .routed_scaling_factor = 2.5 | .q_lora_rank = 1536' \
    tools/synth/configs/deepseek-v2-lite.json >"$WORK/config-v3arch.json"
  build/tools/synth/mote-synth --config "$WORK/config-v3arch.json" --layers "$LAYERS" --seed 1 -o "$WORK/hf" --quiet
  build/converter/mote-convert "$WORK/hf" -o "$SYN" --weights q8_0 --quiet >/dev/null
  rm -rf "$WORK/hf"
fi
"$MOTE" bench "$SYN" --mtp-compare --prompt "$PROMPT" --gen "$GEN" >"$WORK/synthetic.json"
row "synthetic V3-arch" "$WORK/synthetic.json"
EXPERTS=$("$MOTE" inspect "$SYN" --json | jq '.bytes.routed_experts')
"$MOTE" bench "$SYN" --mtp-compare --prompt "$PROMPT" --gen "$GEN" --expert-budget $((EXPERTS / 4)) \
  >"$WORK/synthetic-budget25.json"
row "synthetic 25% budget" "$WORK/synthetic-budget25.json"
echo "JSON of every run: $WORK/*.json"
