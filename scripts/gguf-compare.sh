#!/usr/bin/env bash
# gguf-compare.sh: llama.cpp and mote on the same weights (issue 17, item 5). Writes MODEL.gguf
# from MODEL.mote with mote-to-gguf (tools/gguf, kept when already there), builds
# tools/gguf/llama_logits.c against a llama.cpp build, then for each prompt checks that both
# tokenize it alike and compares the logits of every position (one prefill batch on each side):
# greedy (argmax) agreement, the lowest cosine similarity and the largest |difference|.
#
#   scripts/gguf-compare.sh [options] LLAMA_BUILD MODEL.mote
#
# LLAMA_BUILD: a llama.cpp CMake build folder with bin/libllama.so (its source folder, for llama.h,
# is read from its CMakeCache.txt). On this machine llama.cpp's AMX kernels stop with SIGILL: put
# the no-AMX ggml-cpu first, e.g. LD_LIBRARY_PATH=/work/llama.cpp-build/build-noamx/bin (README
# "Side by side with llama.cpp").
# Options:
#   --threads N        threads for both (default 2)
#   --prompt TEXT      a prompt (repeatable; default: three built-in ones)
#   --mote-build DIR   mote's build folder (default: build/ of this repository)
#   --gguf PATH        where the GGUF goes (default: MODEL.mote with .gguf)
# Needs python3 (no numpy). Exit status 1 when the tokenizers disagree or a tool fails.
#
# Running llama.cpp on the result (e.g. in scripts/bench-experts.sh, same memory limit as mote):
#   llama-bench -m MODEL.gguf -t 2 -p 0 -n 64 -r 1 --no-warmup -o json           # mmap (default)
#   llama-bench ... --repack 0    # keep the weights in the mapping: with repacking (the default on
#                                 # x86 for Q4_0/Q8_0) llama.cpp copies them into anonymous memory
#                                 # at load, which a limit below the model's size cannot hold
# under a cgroup v1 memory limit as bench-experts.sh sets one up:
#   sync; echo 3 > /proc/sys/vm/drop_caches
#   sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" llama-bench -m MODEL.gguf ... --repack 0
set -euo pipefail

me=gguf-compare
die() { echo "$me: $*" >&2; exit 1; }
usage_error() { echo "$me: $* (see --help)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
threads=2 mote_build=$repo/build gguf="" prompts=()
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --threads | --prompt | --mote-build | --gguf)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --threads) threads=$2 ;; --prompt) prompts+=("$2") ;; --mote-build) mote_build=$2 ;; --gguf) gguf=$2 ;;
      esac
      shift 2 ;;
    -*) usage_error "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || usage_error "needs LLAMA_BUILD and MODEL.mote, got ${#positional[@]} arguments"
llama_build=${positional[0]} model=${positional[1]}
[[ $threads =~ ^[1-9][0-9]*$ ]] || usage_error "--threads takes a positive integer, not $threads"
[ ${#prompts[@]} -gt 0 ] || prompts=(
  "The quick brown fox jumps over the lazy dog. Photosynthesis converts light into chemical energy;"
  "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) +"
  "In 1969, the Apollo 11 mission landed the first humans on the Moon. The commander was")

command -v python3 > /dev/null || die "python3 is missing (it compares the logits)"
command -v cc > /dev/null || die "no C compiler (cc) to build tools/gguf/llama_logits.c"
[ -f "$model" ] || die "no .mote file $model"
mote=$mote_build/samples/mote to_gguf=$mote_build/tools/gguf/mote-to-gguf
[ -x "$mote" ] || die "no $mote (build mote's mote target, or give --mote-build)"
[ -x "$to_gguf" ] || die "no $to_gguf (build the mote-to-gguf target)"
[ -f "$llama_build/bin/libllama.so" ] || die "no $llama_build/bin/libllama.so (a llama.cpp build folder with shared libraries)"
llama_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$llama_build/CMakeCache.txt" 2> /dev/null || true)
[ -f "$llama_src/include/llama.h" ] || die "no llama.h in llama.cpp's source folder '$llama_src' (from $llama_build/CMakeCache.txt)"

gguf=${gguf:-${model%.mote}.gguf}
if [ ! -f "$gguf" ]; then
  "$to_gguf" "$model" "$gguf" --quiet || die "mote-to-gguf failed"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/llama-logits" "$repo/tools/gguf/llama_logits.c" -I"$llama_src/include" -I"$llama_src/ggml/include" \
  -L"$llama_build/bin" -lllama -Wl,-rpath,"$llama_build/bin" 2> "$work/cc.log" || die "cannot build llama_logits.c; see: $(head -3 "$work/cc.log")"

vocab=$("$mote" inspect "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hyperparameters"]["vocab_size"])')
status=0
i=0
for p in "${prompts[@]}"; do
  i=$((i + 1))
  text=$(printf '%b' "$p")
  ids_llama=$("$work/llama-logits" -m "$gguf" --tokenize "$text") || die "llama.cpp cannot tokenize prompt $i"
  ids_mote=$("$mote" tokenize "$model" --text "$text" --no-special) || die "mote cannot tokenize prompt $i"
  if [ "$ids_llama" != "$ids_mote" ]; then
    echo "prompt $i: tokenizers disagree: llama.cpp $ids_llama / mote $ids_mote"
    status=1
  fi
  "$work/llama-logits" -m "$gguf" --ids "$ids_mote" --out "$work/llama.f32" -t "$threads" 2> "$work/llama.err" ||
    die "llama.cpp failed on prompt $i: $(tail -2 "$work/llama.err")"
  "$mote" logits "$model" --ids "$ids_mote" --out "$work/mote.f32" --threads "$threads" 2> "$work/mote.err" ||
    die "mote logits failed on prompt $i: $(tail -2 "$work/mote.err")"
  python3 - "$work/mote.f32" "$work/llama.f32" "$vocab" "$i" <<'PY'
import array, math, sys
a, b = array.array("f"), array.array("f")
with open(sys.argv[1], "rb") as f: a.frombytes(f.read())
with open(sys.argv[2], "rb") as f: b.frombytes(f.read())
V = int(sys.argv[3]); n = len(a) // V
assert len(a) == len(b), "different logit counts"
agree, cos_min, diff_max = 0, 1.0, 0.0
for p in range(n):
    x, y = a[p * V:(p + 1) * V], b[p * V:(p + 1) * V]
    agree += max(range(V), key=x.__getitem__) == max(range(V), key=y.__getitem__)
    dot = sum(u * v for u, v in zip(x, y))
    cos_min = min(cos_min, dot / math.sqrt(sum(u * u for u in x) * sum(v * v for v in y)))
    diff_max = max(diff_max, max(abs(u - v) for u, v in zip(x, y)))
print(f"prompt {sys.argv[4]}: {n} positions, greedy agreement {agree}/{n}, cosine min {cos_min:.6f}, max |logit diff| {diff_max:.4f}")
PY
done
exit $status
