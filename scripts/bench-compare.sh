#!/usr/bin/env bash
# bench-compare.sh: before/after speed of two builds on one machine in one run (issue 15, item 7).
#
#   scripts/bench-compare.sh BEFORE_BUILD AFTER_BUILD MODEL [MODEL ...]
#
# BEFORE_BUILD / AFTER_BUILD: CMake build directories holding samples/mote and
# samples/mote-bench-kernels. For each round (ROUNDS, default 3) it runs, alternating the builds
# so that drift of the machine (thermal, other load) hits both alike:
#   `mote bench MODEL` of each build (prefill and decode tok/s; BENCH_ARGS, default
#   "--prompt 64 --gen 64"), for every MODEL;
#   mote-bench-kernels of each build (decode GB/s per kernel table, weight type, layout and thread
#   count; KERNEL_ARGS, default "--size-mb 64 --benchmark_filter=^decode/").
# One unmeasured warm-up run of each build per model comes first.
# Then prints the CPU model, the median of the rounds per figure and build, after/before of the
# medians and of the best rounds (the least disturbed on a shared machine).
# Ratios near 1.0 are unchanged; on a shared machine read them against the spread of the rounds
# (min..max, printed too). Needs python3. Writes raw outputs under OUT_DIR (default a temp dir);
# REPORT_ONLY=1 with OUT_DIR of an earlier run prints its report again without running anything.
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
before=$1 after=$2
shift 2
models=("$@")
rounds=${ROUNDS:-3}
bench_args=${BENCH_ARGS:---prompt 64 --gen 64}
kernel_args=${KERNEL_ARGS:---size-mb 64 --benchmark_filter=^decode/}
out=${OUT_DIR:-$(mktemp -d /tmp/bench-compare.XXXXXX)}
mkdir -p "$out"

for build in "$before" "$after"; do
  for bin in samples/mote samples/mote-bench-kernels; do
    [ -x "$build/$bin" ] || { echo "bench-compare: $build/$bin is missing (build the mote and mote-bench-kernels targets)" >&2; exit 1; }
  done
done
for m in "${models[@]}"; do [ -f "$m" ] || { echo "bench-compare: no model file $m" >&2; exit 1; }; done

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores available)"
echo "raw outputs: $out"
if [ -z "${REPORT_ONLY:-}" ]; then
# One unmeasured run per build and model first: page cache, CPU frequency, lazy binding.
for build in "$before" "$after"; do
  for m in "${models[@]}"; do
    # shellcheck disable=SC2086
    "$build/samples/mote" bench "$m" $bench_args > /dev/null 2>&1 || true
  done
done
for ((r = 1; r <= rounds; r++)); do
  # Alternate which build goes first each round.
  if ((r % 2)); then order=(before after); else order=(after before); fi
  for which in "${order[@]}"; do
    build=$before; [ "$which" = after ] && build=$after
    for i in "${!models[@]}"; do
      # shellcheck disable=SC2086
      "$build/samples/mote" bench "${models[$i]}" $bench_args > "$out/bench.$which.m$i.r$r.json" 2> "$out/bench.$which.m$i.r$r.err" ||
        { echo "bench-compare: mote bench failed ($which, ${models[$i]}); see $out/bench.$which.m$i.r$r.err" >&2; exit 1; }
    done
    # shellcheck disable=SC2086
    "$build/samples/mote-bench-kernels" $kernel_args > "$out/kernels.$which.r$r.txt" 2> "$out/kernels.$which.r$r.err" ||
      { echo "bench-compare: mote-bench-kernels failed ($which); see $out/kernels.$which.r$r.err" >&2; exit 1; }
    echo "round $r/$rounds: $which done" >&2
  done
done
fi

python3 - "$out" "$rounds" "${models[@]}" <<'EOF'
import json, statistics, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def kernel_rows(path):
    # The summary table of mote-bench-kernels: "what... threads GB/s ratio cpu_ratio".
    rows, in_summary = {}, False
    for line in open(path):
        if line.startswith("what"):
            in_summary = True
            continue
        if in_summary:
            parts = line.split()
            if len(parts) < 5 or line.startswith("prefill"):
                break
            rows[" ".join(parts[:-4]) + " @" + parts[-4] + "t"] = float(parts[-3])
    return rows

def line(name, b, a):
    mb, ma = statistics.median(b), statistics.median(a)
    ratio = ma / mb if mb > 0 else float("nan")
    best = max(a) / max(b) if max(b) > 0 else float("nan")
    print(f"{name:36s} {mb:10.2f} {ma:10.2f} {ratio:8.3f} {best:8.3f}   ({min(b):.2f}..{max(b):.2f} | {min(a):.2f}..{max(a):.2f})")

# Medians, and the ratio of the best rounds: on a loaded machine other work only ever slows a run
# down, so the fastest round is the least disturbed one.
print(f"\n{rounds} rounds {'median before':>39s} {'after':>10s} {'ratio':>8s} {'best':>8s}   (before min..max | after min..max)")
for i, m in enumerate(models):
    print(f"\nmote bench {m}")
    for key, label in (("prefill_tok_s", "prefill tok/s"), ("decode_tok_s", "decode tok/s")):
        vals = {w: [json.load(open(f"{out}/bench.{w}.m{i}.r{r}.json"))[key] for r in range(1, rounds + 1)]
                for w in ("before", "after")}
        line(label, vals["before"], vals["after"])
print("\nmote-bench-kernels (weight GB/s)")
runs = {w: [kernel_rows(f"{out}/kernels.{w}.r{r}.txt") for r in range(1, rounds + 1)] for w in ("before", "after")}
for key in runs["before"][0]:
    b = [x[key] for x in runs["before"] if key in x]
    a = [x[key] for x in runs["after"] if key in x]
    if len(b) == rounds and len(a) == rounds:
        line(key, b, a)
EOF
