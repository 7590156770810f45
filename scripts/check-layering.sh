#!/usr/bin/env bash
# Checks the runtime's include order (README "Layout"): a file includes only files of its own
# level or of lower levels. Prints each violation as "FILE: includes HEADER (A is above B)" and
# exits 1 if there is any. model/ spans two levels: the hyper-parameters, weight views and family
# registry sit below backend/ and experts/; the Model, which owns its backend and expert store,
# and its device weights sit above them. Usage: scripts/check-layering.sh [RUNTIME_DIR]
set -euo pipefail
runtime="${1:-$(dirname "$0")/../runtime}"
levels=(core kernels loader format model-low backend experts model-high blocks families tokenizer chat
        sampling session c_api)

# level PATH: index of a runtime-relative path ("model/model.h") in levels, or -1.
level() {
  local folder="${1%%/*}" base="${1##*/}"
  [[ "$1" == */* ]] || { echo -1; return; }
  case "$folder" in
    model) case "$base" in
             model.h|model.cpp|device_weights.h|device_weights.cpp|device_placement.cpp|active_weights.h|active_weights.cpp)
               folder=model-high ;;
             *) folder=model-low ;;
           esac ;;
    include) folder=c_api ;;
  esac
  local i
  for i in "${!levels[@]}"; do [[ "${levels[$i]}" == "$folder" ]] && { echo "$i"; return; }; done
  echo -1
}

bad=0
while IFS= read -r file; do
  rel="${file#"$runtime"/}"
  own=$(level "$rel")
  (( own >= 0 )) || continue
  while IFS= read -r header; do
    target=$(level "$header")
    if (( target > own )); then
      echo "runtime/$rel: includes $header (${levels[$target]} is above ${levels[$own]})"
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find "$runtime" -name '*.h' -o -name '*.cpp')
exit "$bad"
