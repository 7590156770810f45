#!/usr/bin/env bash
# Runs the edge-chat sample on a model the way CI checks it, natively or under an emulator:
#
#   run-demo.sh EDGE_CHAT MODEL.mote [RUNNER...]
#
#   EDGE_CHAT   the edge-chat binary (it must find libmote.so: RUNPATH, LD_LIBRARY_PATH, or the
#               runner's own setting)
#   MODEL.mote  a model with a chat template: the bundled demo model converted with mote-convert
#   RUNNER...   optional command prefix, e.g. `qemu-aarch64 -cpu max` (every run is
#               `RUNNER... EDGE_CHAT ...`)
#
# Environment: EDGE_CHAT_DEMO_DIR keeps the logs there (default: a temporary directory, removed
# at the end); EDGE_CHAT_DEMO_TIMEOUT seconds per run (default 300).
# Exit status: 0 every check passed; 1 a check failed (one "run-demo: FAIL:" line, then the logs of
# that run); 2 bad arguments.
#
# The checks, one run each:
#   1. --version answers, an unknown flag is one line on stderr and exit 2;
#   2. the detected memory (MemAvailable or the cgroup limit): the plan is printed, one turn answered;
#   3. a 3-turn conversation under --mem-limit chosen so that the experts do NOT all fit (a real
#      expert cache): every turn answered, the context grows each turn and each later turn reuses
#      the earlier ones (the conversation is kept), the expert figures show fewer experts resident
#      than there are;
#   4. --cancel-after-tokens 4 (a watchdog thread): the reply stops early, exit 3;
#   5. --cancel-after-ms 20: the same by time, exit 3;
#   6. SIGTERM while edge-chat waits for the next line: exit 3 (the Ctrl-C path).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 EDGE_CHAT MODEL.mote [RUNNER...]" >&2
  exit 2
fi
BIN=$1 MODEL=$2
shift 2
RUNNER=("$@")
[ -x "$BIN" ] || { echo "run-demo: $BIN: not an executable" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "run-demo: $MODEL: no such file" >&2; exit 2; }
TIMEOUT=${EDGE_CHAT_DEMO_TIMEOUT:-300}
if [ -n "${EDGE_CHAT_DEMO_DIR:-}" ]; then
  WORK=$EDGE_CHAT_DEMO_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

LAST=""  # prefix of the last run's logs: $LAST.out (stdout), $LAST.err (stderr), $LAST.rc
fail() {
  echo "run-demo: FAIL: $*"
  if [ -n "$LAST" ]; then
    echo "--- stdout of $(basename "$LAST")"; cat "$LAST.out" 2>/dev/null || true
    echo "--- stderr"; cat "$LAST.err" 2>/dev/null || true
  fi
  exit 1
}
pass() { echo "run-demo: ok: $*"; }

# run NAME INPUT ARGS...: edge-chat with INPUT on stdin; sets $LAST and $RC.
run() {
  local name=$1 input=$2
  shift 2
  LAST=$WORK/$name
  set +e
  printf '%s' "$input" | timeout "$TIMEOUT" "${RUNNER[@]}" "$BIN" "$@" >"$LAST.out" 2>"$LAST.err"
  RC=$?
  set -e
  echo "$RC" >"$LAST.rc"
  [ "$RC" != 124 ] || fail "$name: no answer within $TIMEOUT s"
}

# turn_field N FIELD: a figure of the line
#   [turn N] reply: R tokens, stopped by S; context: C tokens (U reused, W new); X tok/s
# FIELD: reply (R), stop (S), context (C), reused (U) or new (W). Empty if there is no such line.
turn_field() {
  local expr
  case $2 in
    reply) expr='s/^\[turn [0-9]*\] reply: \([0-9]*\) tokens.*/\1/p' ;;
    stop) expr='s/.*, stopped by \([^;]*\);.*/\1/p' ;;
    context) expr='s/.*; context: \([0-9]*\) tokens.*/\1/p' ;;
    reused) expr='s/.* tokens (\([0-9]*\) reused,.*/\1/p' ;;
    new) expr='s/.* reused, \([0-9]*\) new).*/\1/p' ;;
  esac
  grep "^\[turn $1\] " "$LAST.err" | sed -n "$expr" | head -1
}

# 1. --version and a bad flag.
run version "" --version
[ "$RC" = 0 ] && grep -q '^edge-chat .*libmote' "$LAST.out" || fail "--version: exit $RC"
run badflag "" --no-such-flag "$MODEL"
[ "$RC" = 2 ] || fail "an unknown flag: exit $RC, expected 2"
[ "$(wc -l <"$LAST.err")" = 1 ] && grep -q "unknown option '--no-such-flag'" "$LAST.err" || fail "an unknown flag: not one line"
pass "--version; an unknown flag is one line and exit 2"

# 2. The memory this machine has: the plan is printed and one turn answered.
run auto $'Hello, who are you?\n' -n 8 "$MODEL"
[ "$RC" = 0 ] || fail "auto: exit $RC"
grep -q '^\[memory\] available ' "$LAST.err" && grep -q '^\[memory\] expert budget' "$LAST.err" || fail "auto: no memory plan"
[ "$(turn_field 1 reply)" -ge 1 ] 2>/dev/null || fail "auto: turn 1 not answered"
pass "detected memory: $(sed -n 's/^\[memory\] \(available .*\)/\1/p' "$LAST.err")"

# 3. A conversation under a memory limit that leaves the experts about 1 MiB of cache. mote.h
# (MOTE_EXPERT_BUDGET_AUTO) documents the plan: limit - dense - KV - scratch - margin, with the
# margin 64 MiB + limit / 32; the fixed terms are read from the plan printed in run 2 (MiB, one
# decimal: +1 MiB covers the rounding).
fixed=$(sed -n 's/^\[memory\] kept for: dense weights \([0-9.]*\) MiB, KV cache \([0-9.]*\) MiB ([0-9]* tokens), scratch \([0-9.]*\) MiB.*/\1 \2 \3/p' \
  "$LAST.err" | awk '{ print $1 + $2 + $3 }')
[ -n "$fixed" ] || fail "auto: no 'kept for' line in the plan"
limit_mib=$(awk -v f="$fixed" 'BEGIN { m = (f + 64 + 1 + 1) * 32 / 31; print int(m) + 1 }')
run chat $'Hello, who are you?\nWhat did I just ask you?\nTell me about the king.\n' -n 24 -m "${limit_mib}M" "$MODEL"
[ "$RC" = 0 ] || fail "chat (--mem-limit ${limit_mib}M): exit $RC"
[ "$(grep -c '^> ' "$LAST.out")" = 3 ] || fail "chat: the 3 input lines are not all echoed"
grep -q '^\[memory\] expert budget [0-9.]* MiB: [0-9]* cache slots' "$LAST.err" || fail "chat: no expert budget chosen"
prev_context=0
for t in 1 2 3; do
  reply=$(turn_field $t reply) context=$(turn_field $t context) reused=$(turn_field $t reused)
  [ -n "$reply" ] || fail "chat: no [turn $t] line"
  [ "$reply" -ge 1 ] || fail "chat: turn $t has an empty reply"
  [ "$context" -gt "$prev_context" ] || fail "chat: the context did not grow at turn $t ($prev_context -> $context)"
  # Turn t > 1 keeps what the session holds: at least the whole first prompt (turn 1's new tokens).
  [ "$t" = 1 ] || [ "$reused" -ge "$(turn_field 1 new)" ] || fail "chat: turn $t reused only $reused tokens"
  prev_context=$context
done
[ "$(grep -c '^\[experts\] turn: hit rate' "$LAST.err")" = 3 ] || fail "chat: not one [experts] line per turn"
resident=$(sed -n 's/^\[experts\] .* resident \([0-9]*\) of \([0-9]*\) experts.*/\1 \2/p' "$LAST.err" | tail -1)
read -r r_now r_all <<<"$resident"
[ -n "${r_all:-}" ] && [ "$r_now" -ge 1 ] && [ "$r_now" -lt "$r_all" ] || fail "chat: resident experts '$resident' (want fewer than all)"
pass "3 turns under --mem-limit ${limit_mib}M: contexts $(turn_field 1 context), $(turn_field 2 context), $(turn_field 3 context) tokens (reused $(turn_field 2 reused), $(turn_field 3 reused)); resident $r_now of $r_all experts; $(grep '^\[experts\]' "$LAST.err" | tail -1 | sed 's/.*since open: \(hit rate [0-9.]*\).*/\1/') since open"

# 4. Cancelled by the watchdog thread after 4 reply tokens, in a reply allowed 200.
run cancel_tokens $'Hello, who are you?\nAnd then?\nAnd then?\n' -n 200 --cancel-after-tokens 4 "$MODEL"
[ "$RC" = 3 ] || fail "cancel-after-tokens: exit $RC, expected 3"
grep -q '^\[cancelled\]' "$LAST.err" || fail "cancel-after-tokens: no [cancelled] line"
last_turn=$(grep -c '^\[turn ' "$LAST.err")
[ "$(turn_field "$last_turn" stop)" = cancel ] || fail "cancel-after-tokens: turn $last_turn not stopped by the cancel"
[ "$(turn_field "$last_turn" reply)" -lt 200 ] || fail "cancel-after-tokens: the reply was not cut short"
pass "--cancel-after-tokens 4: turn $last_turn stopped after $(turn_field "$last_turn" reply) of 200 tokens, exit 3"

# 5. Cancelled by time: 20 ms after the first reply starts, with 8 turns of up to 256 tokens asked.
run cancel_ms "$(printf 'Tell me a story.\n%.0s' 1 2 3 4 5 6 7 8)" -n 256 --cancel-after-ms 20 "$MODEL"
[ "$RC" = 3 ] || fail "cancel-after-ms: exit $RC, expected 3"
grep -q '^\[cancelled\]' "$LAST.err" || fail "cancel-after-ms: no [cancelled] line"
pass "--cancel-after-ms 20: stopped in turn $(grep -c '^\[turn ' "$LAST.err") of 8, exit 3"

# 6. SIGTERM (as Ctrl-C) while edge-chat waits for its second line: a clean exit 3. No `timeout`
# here: it would pass the signal on twice (to its child and to its process group), and a second
# signal kills edge-chat at once by design (SA_RESETHAND). $! is the program itself, or the runner
# that execs it or forwards signals to it (env, qemu-user, a wrapper script that execs qemu).
LAST=$WORK/sigterm
rm -f "$WORK/fifo"
mkfifo "$WORK/fifo"
"${RUNNER[@]}" "$BIN" -n 8 "$MODEL" <"$WORK/fifo" >"$LAST.out" 2>"$LAST.err" &
pid=$!
exec 3>"$WORK/fifo"
echo "Hello" >&3
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s; 0 when it succeeded in time.
wait_for() {
  local tenths=$(($1 * 10))
  shift
  for _ in $(seq 1 "$tenths"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
if ! wait_for "$TIMEOUT" grep -q '^\[experts\]' "$LAST.err"; then
  kill -KILL "$pid" 2>/dev/null || true
  exec 3>&-
  fail "sigterm: turn 1 not answered within $TIMEOUT s"
fi
kill -TERM "$pid"
if ! wait_for 60 eval '! kill -0 "$pid" 2>/dev/null'; then
  kill -KILL "$pid" 2>/dev/null || true
  exec 3>&-
  fail "sigterm at the prompt: still running 60 s after SIGTERM"
fi
set +e
wait "$pid"
RC=$?
set -e
exec 3>&-
[ "$RC" = 3 ] || fail "sigterm at the prompt: exit $RC, expected 3"
pass "SIGTERM while waiting for input: exit 3"

under=""
[ ${#RUNNER[@]} -eq 0 ] || under=" under ${RUNNER[*]}"
echo "run-demo: PASS ($BIN on $MODEL$under)"
