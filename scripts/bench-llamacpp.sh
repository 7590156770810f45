#!/usr/bin/env bash
# bench-llamacpp.sh: mote and llama.cpp side by side on one checkpoint, one machine, one run
# (issue 16).
#
#   scripts/bench-llamacpp.sh [options] LLAMA_BUILD HF_CHECKPOINT
#
# LLAMA_BUILD: a llama.cpp CMake build folder holding bin/llama-bench and bin/llama-quantize
# (its source folder, for convert_hf_to_gguf.py, is read from its CMakeCache.txt).
# HF_CHECKPOINT: a Hugging Face checkpoint folder (config.json, safetensors, tokenizer.json).
# Converts the checkpoint once for each runtime (llama.cpp: convert_hf_to_gguf.py to BF16, then
# llama-quantize; mote: mote-convert), reusing files already there (MODELS_DIR/llama.bf16.gguf,
# llama.QUANT.gguf, mote.QUANT.mote), then runs ROUNDS rounds,
# alternating which runtime goes first, of: llama-bench pp (depth 0) and tg (at depth DEPTH),
# and `mote bench --prompt PP --gen TG` (its decode starts after the PP-token prompt, i.e. at
# depth PP). Prints per thread count the median tok/s of each runtime and mote/llama.cpp.
#
# Options:
#   --threads LIST     comma-separated thread counts (default 1)
#   --quant Q          q8_0 (llama.cpp Q8_0, mote --weights q8_0) or q4 / q4_0 (llama.cpp Q4_0,
#                      mote --weights q4; lm_head Q8_0 in both) (default q8_0)
#   --rounds N         measured rounds (default 3); the median is printed
#   --pp N --tg N      prompt and generated tokens (default 512 and 64); tg runs at depth PP
#   --models-dir DIR   where the converted files go (default HF_CHECKPOINT-bench)
#   --mote-build DIR   mote's build folder (default: build/ of this repository)
#   --python PY        a Python with the converter's modules (torch, numpy, transformers,
#                      sentencepiece) (default: $PYTHON, else python3)
#   --reconvert        convert again for both; --reconvert-mote: only the .mote file (a new mote)
#   --llama-args "A B" extra llama-bench arguments (e.g. "--repack 0"); --mote-args: for mote bench
# Raw outputs go under MODELS_DIR/runs/. Numbers from a shared machine are noisy: read the ratio,
# measured in the same run, against the min..max of the rounds (printed too).
set -euo pipefail

me=bench-llamacpp
die() { echo "$me: $*" >&2; exit 1; }
usage_error() { echo "$me: $* (see --help)" >&2; exit 2; }

threads=1 quant=q8_0 rounds=3 pp=512 tg=64 models_dir="" python=${PYTHON:-python3} llama_extra="" mote_extra=""
repo=$(cd "$(dirname "$0")/.." && pwd)
mote_build=$repo/build
reconvert=0 reconvert_mote=0
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --threads | --quant | --rounds | --pp | --tg | --models-dir | --mote-build | --python | --llama-args | --mote-args)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --threads) threads=$2 ;; --quant) quant=$2 ;; --rounds) rounds=$2 ;; --pp) pp=$2 ;;
        --tg) tg=$2 ;; --models-dir) models_dir=$2 ;; --mote-build) mote_build=$2 ;; --python) python=$2 ;;
        --llama-args) llama_extra=$2 ;; --mote-args) mote_extra=$2 ;;
      esac
      shift 2 ;;
    --reconvert) reconvert=1; shift ;;
    --reconvert-mote) reconvert_mote=1; shift ;;
    -*) usage_error "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || usage_error "needs LLAMA_BUILD and HF_CHECKPOINT, got ${#positional[@]} arguments"
llama_build=${positional[0]} ckpt=${positional[1]%/}

case $quant in
  q8_0) llama_type=Q8_0 mote_args=(--weights q8_0) ;;
  q4 | q4_0) quant=q4 llama_type=Q4_0 mote_args=(--weights q4 --output-weights q8_0) ;;
  *) usage_error "--quant must be q8_0 or q4 (q4_0), not $quant" ;;
esac
for n in "$rounds" "$pp" "$tg"; do [[ $n =~ ^[1-9][0-9]*$ ]] || usage_error "--rounds, --pp and --tg take a positive integer, not $n"; done
[[ $threads =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || usage_error "--threads takes a comma-separated list of positive integers, not $threads"
IFS=, read -r -a thread_list <<< "$threads"
read -r -a llama_extra_a <<< "$llama_extra"
read -r -a mote_extra_a <<< "$mote_extra"

# Tools, each checked with a one-line message before anything runs.
command -v python3 > /dev/null || die "python3 is missing (it computes the medians)"
[ -d "$llama_build" ] || die "no llama.cpp build folder $llama_build"
for t in llama-bench llama-quantize; do
  [ -x "$llama_build/bin/$t" ] || die "no $llama_build/bin/$t (build the llama-bench and llama-quantize targets of llama.cpp)"
done
[ -f "$ckpt/config.json" ] || die "no Hugging Face checkpoint at $ckpt (config.json is missing)"
mote=$mote_build/samples/mote mote_convert=$mote_build/converter/mote-convert
[ -x "$mote" ] || die "no $mote (build mote's mote target, or give --mote-build)"
[ -x "$mote_convert" ] || die "no $mote_convert (build mote's mote-convert target, or give --mote-build)"

models_dir=${models_dir:-$ckpt-bench}
mkdir -p "$models_dir"
gguf=$models_dir/llama.$quant.gguf mote_file=$models_dir/mote.$quant.mote
if [ $reconvert = 1 ]; then rm -f "$gguf" "$mote_file" "$models_dir/llama.bf16.gguf"; fi
if [ $reconvert_mote = 1 ]; then rm -f "$mote_file"; fi

if [ ! -f "$gguf" ]; then
  llama_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$llama_build/CMakeCache.txt" 2> /dev/null || true)
  [ -f "$llama_src/convert_hf_to_gguf.py" ] || die "no convert_hf_to_gguf.py in llama.cpp's source folder '$llama_src' (from $llama_build/CMakeCache.txt)"
  "$python" -c 'import torch, numpy, transformers, sentencepiece, safetensors' 2> /dev/null ||
    die "$python lacks the converter's modules (torch numpy transformers sentencepiece safetensors): pip install -r $llama_src/requirements/requirements-convert_hf_to_gguf.txt, then give --python"
  [ -f "$ckpt/tokenizer.json" ] || [ -f "$ckpt/tokenizer.model" ] || die "no tokenizer.json or tokenizer.model in $ckpt (llama.cpp's converter needs one)"
  # The BF16 GGUF is kept for the other --quant (delete it to save space).
  bf16=$models_dir/llama.bf16.gguf
  if [ ! -f "$bf16" ]; then
    echo "$me: converting $ckpt for llama.cpp (BF16)" >&2
    "$python" "$llama_src/convert_hf_to_gguf.py" "$ckpt" --outtype bf16 --outfile "$bf16.tmp" > "$models_dir/convert-llama.log" 2>&1 ||
      die "convert_hf_to_gguf.py failed; see $models_dir/convert-llama.log"
    mv "$bf16.tmp" "$bf16"
  fi
  echo "$me: quantizing for llama.cpp ($llama_type)" >&2
  # lm_head stays Q8_0 in both runtimes (mote's q4 recipe keeps it Q8_0; llama.cpp's would pick Q6_K).
  "$llama_build/bin/llama-quantize" --output-tensor-type q8_0 "$bf16" "$gguf.tmp" "$llama_type" "$(nproc)" > "$models_dir/quantize-llama.log" 2>&1 ||
    die "llama-quantize failed; see $models_dir/quantize-llama.log"
  mv "$gguf.tmp" "$gguf"
fi
if [ ! -f "$mote_file" ]; then
  echo "$me: converting $ckpt for mote (${mote_args[*]})" >&2
  "$mote_convert" "$ckpt" -o "$mote_file.tmp" "${mote_args[@]}" --quiet > "$models_dir/convert-mote.log" 2>&1 ||
    die "mote-convert failed; see $models_dir/convert-mote.log"
  mv "$mote_file.tmp" "$mote_file"
fi

out=$models_dir/runs/$(date -u +%Y%m%dT%H%M%SZ).$quant
mkdir -p "$out"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "cpu: $cpu ($(nproc) cores available); raw outputs: $out" >&2

run_llama() {  # THREADS ROUND: pp at depth 0, tg at depth PP; JSON arrays from llama-bench.
  local t=$1 r=$2
  "$llama_build/bin/llama-bench" -m "$gguf" -t "$t" -p "$pp" -n 0 -r 1 --no-warmup -o json "${llama_extra_a[@]}" > "$out/llama.pp.t$t.r$r.json" 2> "$out/llama.pp.t$t.r$r.err" ||
    die "llama-bench failed; see $out/llama.pp.t$t.r$r.err"
  "$llama_build/bin/llama-bench" -m "$gguf" -t "$t" -p 0 -n "$tg" -d "$pp" -r 1 --no-warmup -o json "${llama_extra_a[@]}" > "$out/llama.tg.t$t.r$r.json" 2> "$out/llama.tg.t$t.r$r.err" ||
    die "llama-bench failed; see $out/llama.tg.t$t.r$r.err"
}
run_mote() {  # THREADS ROUND
  local t=$1 r=$2
  "$mote" bench "$mote_file" --threads "$t" --prompt "$pp" --gen "$tg" "${mote_extra_a[@]}" > "$out/mote.t$t.r$r.json" 2> "$out/mote.t$t.r$r.err" ||
    die "mote bench failed; see $out/mote.t$t.r$r.err"
}

# One short unmeasured run of each first: page cache, CPU frequency, lazy binding.
"$llama_build/bin/llama-bench" -m "$gguf" -t "${thread_list[0]}" -p 32 -n 4 -r 1 --no-warmup "${llama_extra_a[@]}" > /dev/null 2>&1 || die "llama-bench cannot run $gguf"
"$mote" bench "$mote_file" --threads "${thread_list[0]}" --prompt 32 --gen 4 "${mote_extra_a[@]}" > /dev/null 2>&1 || die "mote bench cannot run $mote_file"
for ((r = 1; r <= rounds; r++)); do
  for t in "${thread_list[@]}"; do
    if ((r % 2)); then run_llama "$t" "$r"; run_mote "$t" "$r"; else run_mote "$t" "$r"; run_llama "$t" "$r"; fi
    echo "round $r/$rounds, $t threads: done" >&2
  done
done

python3 - "$out" "$rounds" "$pp" "$tg" "$quant" "$ckpt" "$cpu" "$threads" <<'EOF'
import json, statistics, sys
out, rounds, pp, tg, quant, ckpt, cpu, threads = sys.argv[1:]
rounds = int(rounds)

def llama_ts(path):
    rows = json.load(open(path))
    return rows[0]["avg_ts"]

print(f"model {ckpt}, {quant}, pp{pp} (depth 0) and tg{tg} at depth {pp}, {rounds} alternating rounds")
print(f"cpu: {cpu}; tok/s medians (min..max of the rounds)")
print("| threads | llama.cpp pp | mote pp | mote/llama.cpp pp | llama.cpp tg | mote tg | mote/llama.cpp tg |")
print("|---|---|---|---|---|---|---|")
for t in threads.split(","):
    lpp = [llama_ts(f"{out}/llama.pp.t{t}.r{r}.json") for r in range(1, rounds + 1)]
    ltg = [llama_ts(f"{out}/llama.tg.t{t}.r{r}.json") for r in range(1, rounds + 1)]
    m = [json.load(open(f"{out}/mote.t{t}.r{r}.json")) for r in range(1, rounds + 1)]
    mpp = [x["prefill_tok_s"] for x in m]
    mtg = [x["decode_tok_s"] for x in m]
    def cell(v):
        return f"{statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f})"
    # Ratio of the medians, and the ratios of the same rounds (min..max) for the spread.
    def ratio(a, b):
        per = [x / y for x, y in zip(a, b)]
        return f"{statistics.median(a) / statistics.median(b):.2f} ({min(per):.2f}..{max(per):.2f})"
    print(f"| {t} | {cell(lpp)} | {cell(mpp)} | {ratio(mpp, lpp)} | {cell(ltg)} | {cell(mtg)} | {ratio(mtg, ltg)} |")
EOF
