#!/usr/bin/env bash
# MTP speculative decoding benchmark (issues 7 and 17), numbers from one run on this machine.
# Every row is `mote bench --mtp-compare --repeat R`: plain decoding, adaptive drafting (the
# default, session/draft_policy.h) and drafting every step (MOTE_MTP_ALWAYS), R interleaved rounds,
# medians; ratios are taken within a round (the machine may be shared and noisy).
#  1. the bundled demo model (trained; its MTP module drafts well), Q8_0, resident and with a
#     routed-expert budget of a quarter of the experts;
#  2. a synthetic model of DeepSeek-V3 width (hidden 7168, MLA, q-LoRA, MTP layer; LAYERS layers,
#     8 routed experts of 2048, top-2, vocabulary 8192 so that it stays small; random weights, Q4)
#     with the acceptance forced to 0, 50, 80 and 100% (test hook MOTE_TEST_FORCED_ACCEPTANCE: the
#     drafts of a random MTP head never agree; forcing measures what drafting costs and gains);
#  3. the same model with a routed-expert budget of half and of three quarters of the experts,
#     acceptance forced to 100% and 80%, with the per-step draft gate (families/draft_gate.h) on
#     and off (measurement hook MOTE_TEST_DRAFT_GATE=0).
# Columns: tok/s plain, adaptive, always; adaptive/plain; always/plain (the measured speed-up of
# drafting); the speed-up the adaptive policy predicted from its own measurements; measured /
# predicted; the acceptance of the always run; the fraction of steps the adaptive run drafted; the
# adaptive run's draft steps whose draft row the gate dropped.
# Usage: bash scripts/bench-mtp.sh   (env: GEN=1024 SYN_GEN=128 PROMPT=16 REPEAT=5 SYN_REPEAT=3
#                                      LAYERS=4 WORK=/tmp/mote-bench-mtp)
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=${GEN:-1024}
SYN_GEN=${SYN_GEN:-128}
PROMPT=${PROMPT:-16}
REPEAT=${REPEAT:-5}
SYN_REPEAT=${SYN_REPEAT:-3}
LAYERS=${LAYERS:-4}
WORK=${WORK:-/tmp/mote-bench-mtp}
MOTE=build/samples/mote
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[ -x "$MOTE" ] && [ -x build/tools/synth/mote-synth ] || bash scripts/build.sh
mkdir -p "$WORK"

row() {  # name json
  jq -r --arg n "$1" '[$n, (.decode_tok_s * 10 | round / 10), (.decode_tok_s_mtp * 10 | round / 10),
      (.decode_tok_s_mtp_always * 10 | round / 10), (.mtp_speedup * 100 | round / 100),
      (.mtp_speedup_always * 100 | round / 100), (.mtp_speedup_predicted * 100 | round / 100),
      (if .mtp_speedup_predicted > 0 then (.mtp_speedup_always / .mtp_speedup_predicted * 100 | round / 100) else "-" end),
      (.mtp_acceptance * 100 | round / 100), (.mtp_drafted_fraction * 100 | round / 100),
      .mtp_dropped_drafts] | @tsv' "$2" |
    awk -F'\t' '{printf "%-34s %8s %8s %8s %8s %8s %8s %8s %6s %7s %7s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11}'
}
printf '%-34s %8s %8s %8s %8s %8s %8s %8s %6s %7s %7s\n' run plain adaptive always ad/plain al/plain predicted meas/pred accept drafted dropped

M="$WORK/demo-q8_0.mote"
[ -f "$M" ] || build/converter/mote-convert samples/models/mote-demo -o "$M" --weights q8_0 --quiet >/dev/null
"$MOTE" bench "$M" --mtp-compare --prompt "$PROMPT" --gen "$GEN" --repeat "$REPEAT" >"$WORK/demo.json"
row "demo q8_0" "$WORK/demo.json"
EXPERTS=$("$MOTE" inspect "$M" --json | jq '.bytes.routed_experts')
"$MOTE" bench "$M" --mtp-compare --prompt "$PROMPT" --gen "$GEN" --repeat "$REPEAT" --expert-budget $((EXPERTS / 4)) \
  >"$WORK/demo-budget25.json"
row "demo q8_0 25% budget" "$WORK/demo-budget25.json"

SYN="$WORK/v3width-${LAYERS}l-q4.mote"
if [ ! -f "$SYN" ]; then
  build/tools/synth/mote-synth --config tools/synth/configs/deepseek-v3.json --layers "$LAYERS" \
    --set first_k_dense_replace=0 --set n_routed_experts=8 --set num_experts_per_tok=2 --set n_group=1 \
    --set topk_group=1 --set vocab_size=8192 --seed 1 -o "$WORK/hf" --quiet
  build/converter/mote-convert "$WORK/hf" -o "$SYN" --weights q4 --quiet >/dev/null
  rm -rf "$WORK/hf"
fi
for r in 0 0.5 0.8 1; do
  MOTE_TEST_FORCED_ACCEPTANCE=$r "$MOTE" bench "$SYN" --mtp-compare --prompt "$PROMPT" --gen "$SYN_GEN" \
    --repeat "$SYN_REPEAT" >"$WORK/v3width-$r.json"
  row "V3 width, accept $r" "$WORK/v3width-$r.json"
done
SYN_EXPERTS=$("$MOTE" inspect "$SYN" --json | jq '.bytes.routed_experts')
for share in 2 3; do  # budgets of 2/4 and 3/4 of the routed experts
  for r in 1 0.8; do
    for gate in 1 0; do
      MOTE_TEST_DRAFT_GATE=$gate MOTE_TEST_FORCED_ACCEPTANCE=$r "$MOTE" bench "$SYN" --mtp-compare --prompt "$PROMPT" \
        --gen "$SYN_GEN" --repeat "$SYN_REPEAT" --expert-budget $((SYN_EXPERTS * share / 4)) \
        >"$WORK/v3width-b$share-$r-gate$gate.json"
      row "V3, $share/4 budget, accept $r, gate $gate" "$WORK/v3width-b$share-$r-gate$gate.json"
    done
  done
done
echo "JSON of every run: $WORK/*.json"
