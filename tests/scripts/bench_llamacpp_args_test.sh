#!/usr/bin/env bash
# scripts/bench-llamacpp.sh refuses bad arguments and missing tools with one line on stderr and a
# non-zero status, before converting or running anything. No llama.cpp needed.
#
#   tests/scripts/bench_llamacpp_args_test.sh SCRIPT
set -u
script=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect STATUS PATTERN ARGS...: exit status STATUS, exactly one stderr line matching PATTERN.
expect() {
  local want=$1 pattern=$2
  shift 2
  bash "$script" "$@" > "$tmp/out" 2> "$tmp/err"
  local got=$?
  local lines
  lines=$(wc -l < "$tmp/err")
  if [ "$got" != "$want" ] || [ "$lines" != 1 ] || ! grep -q -- "$pattern" "$tmp/err"; then
    echo "FAIL: bench-llamacpp.sh $* -> status $got (want $want), stderr ($lines lines):" >&2
    cat "$tmp/err" >&2
    failures=$((failures + 1))
  else
    echo "ok: $* -> $(cat "$tmp/err")"
  fi
}

mkdir -p "$tmp/ckpt" "$tmp/llama/bin"
echo '{}' > "$tmp/ckpt/config.json"

expect 2 "needs LLAMA_BUILD and HF_CHECKPOINT"
expect 2 "needs LLAMA_BUILD and HF_CHECKPOINT" /nonexistent
expect 2 "unknown option --bogus" --bogus /nonexistent "$tmp/ckpt"
expect 2 "--quant must be q8_0 or q4" --quant q5_k /nonexistent "$tmp/ckpt"
expect 2 "--threads takes" --threads 1,x /nonexistent "$tmp/ckpt"
expect 2 "--rounds, --pp and --tg take a positive integer" --rounds 0 /nonexistent "$tmp/ckpt"
expect 2 "--threads needs a value" /nonexistent "$tmp/ckpt" --threads
expect 1 "no llama.cpp build folder /nonexistent" /nonexistent "$tmp/ckpt"
expect 1 "no $tmp/llama/bin/llama-bench" "$tmp/llama" "$tmp/ckpt"
printf '#!/bin/sh\n' > "$tmp/llama/bin/llama-bench"
printf '#!/bin/sh\n' > "$tmp/llama/bin/llama-quantize"
chmod +x "$tmp/llama/bin/llama-bench" "$tmp/llama/bin/llama-quantize"
expect 1 "no Hugging Face checkpoint at $tmp/nockpt" "$tmp/llama" "$tmp/nockpt"
expect 1 "no $tmp/nomote/samples/mote" --mote-build "$tmp/nomote" "$tmp/llama" "$tmp/ckpt"

# --help prints the usage and succeeds.
if ! bash "$script" --help | grep -q "LLAMA_BUILD HF_CHECKPOINT"; then
  echo "FAIL: --help" >&2
  failures=$((failures + 1))
fi
[ "$failures" = 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "all passed"
