#!/bin/bash
# The lost-waker lint, on tests/bpf/trace_fake (a deterministic probe workload): tasks
# pending past --lost-waker with no wait registered are flagged; the same tasks waiting
# on a (fake) timer are not. Also: -d ends the trace of a command that keeps running,
# and trace still exits with the command's status.
source "$(dirname "$0")/lib.sh"
require_bpf

FAKE=$OUT/tests/trace_fake
"$AI" trace -d 0.8 --lost-waker 300 --json -o "$TMP/lost.json" -- "$FAKE" --tasks 4 --io-ms 1500 --no-wait 1 --exit 5 >/dev/null
assert_eq "exit status after -d (command ran to its end)" 5 "$?"
assert_eq "lost-waker warnings" "1 2 3 4" \
	"$(json_eval "$TMP/lost.json" '" ".join(str(w["task"]) for w in sorted(d["warnings"], key=lambda w: w["task"]) if w["kind"] == "lost-waker")')"
detail=$(json_eval "$TMP/lost.json" '[w["detail"] for w in d["warnings"] if w["kind"] == "lost-waker"][0]')
case $detail in
*fake_user*tests/bpf/trace_fake.c:*) ok "detail: $detail" ;;
*) fail "lost-waker detail without function and location: $detail" ;;
esac
assert_eq "tasks pending at the end, idle" "4 idle" \
	"$(json_eval "$TMP/lost.json" '"%d %s" % (len(d["tasks"]), d["tasks"][0]["state"])')"

"$AI" trace -d 0.8 --lost-waker 300 --json -o "$TMP/timer.json" -- "$FAKE" --tasks 4 --io-ms 1500 >/dev/null
assert_eq "exit status" 0 "$?"
assert_eq "waiting on a timer: no lost-waker warning" 0 \
	"$(json_eval "$TMP/timer.json" 'len([w for w in d["warnings"] if w["kind"] == "lost-waker"])')"
assert_eq "their wait kind" "timer" \
	"$(json_eval "$TMP/timer.json" '" ".join(sorted(set(t["wait_kind"] for t in d["tasks"])))')"

# SIGINT to trace alone (not to a terminal's process group): summary written, the
# endless command gets SIGTERM, trace exits with its status
"$AI" trace --json -o "$TMP/int.json" -- "$FAKE" --tasks 2 --io-ms 2 --rounds 0 >/dev/null &
tracer=$!
PIDS+=("$tracer")
sleep 1
kill -INT "$tracer"
wait "$tracer"
assert_eq "exit status after SIGINT to trace (command got SIGTERM)" 143 "$?"
assert_eq "summary written" True \
	"$(json_eval "$TMP/int.json" 'sum(f["polls"] for f in d["functions"]) > 0 and d["processes"][0]["exit_status"] in (-1, 143)')"

# The real runtime: a sleep fires no wait probe, yet the task records say the tasks wait
# on timers, so sleeping tasks are not flagged. fetch_user --forever keeps 6 tasks
# sleeping 800 ms at a time; with --lost-waker 100 most are pending past it at the end.
bg "$EX/fetch_user" --users 6 --io-ms 800 --forever
sleep 0.5
"$AI" trace -p "$BG_PID" -d 2 --lost-waker 100 --json -o "$TMP/real.json" >/dev/null ||
	fail "trace -p fetch_user"
assert_eq "real sleeping tasks seen pending" True \
	"$(json_eval "$TMP/real.json" 'any(t["function"] == "fetch_user" and not t["done"] for t in d["tasks"])')"
assert_eq "real sleeping tasks: no lost-waker warning" 0 \
	"$(json_eval "$TMP/real.json" 'len([w for w in d["warnings"] if w["kind"] == "lost-waker"])')"
assert_eq "pending fetch_user tasks wait on timers" "timer" \
	"$(json_eval "$TMP/real.json" '" ".join(sorted(set(t["wait_kind"] for t in d["tasks"] if t["function"] == "fetch_user" and not t["done"])))')"
