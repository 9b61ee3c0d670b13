#!/bin/bash
# report on a recording of sleeping tasks raises no lost-waker warning that trace on the
# same process, over the same window, does not raise: sleeps fire no wait probe, so
# record stores each pending task's current wait from the runtime's records at its end.
source "$(dirname "$0")/lib.sh"
require_bpf

# 5 tasks sleeping 4 s at a time: at the end of a 6 s window each has slept > 1 s (the
# lost-waker threshold) since its last poll
bg "$EX/fetch_user" --users 5 --io-ms 4000 --forever >/dev/null 2>&1
pid=$BG_PID
sleep 0.5
"$AI" record -p "$pid" -d 6 -o "$TMP/s.rec" 2>"$TMP/rec.err" &
rec=$!
"$AI" trace -p "$pid" -d 6 --json >"$TMP/trace.json" 2>"$TMP/trace.err" ||
	fail "trace exited $?: $(cat "$TMP/trace.err")"
wait $rec || fail "record exited $?: $(cat "$TMP/rec.err")"
"$AI" report "$TMP/s.rec" --json >"$TMP/report.json" || fail "report exited $?"
kinds() { json_eval "$1" 'sorted(w["kind"] for w in d["warnings"] if w["kind"] == "lost-waker")'; }
assert_eq "trace: lost-waker warnings" "[]" "$(kinds "$TMP/trace.json")"
assert_eq "report: lost-waker warnings" "[]" "$(kinds "$TMP/report.json")"
"$AI" report "$TMP/s.rec" >"$TMP/report.txt" || fail "report exited $?"
grep -q "lost waker" "$TMP/report.txt" && fail "text report warns: $(grep "lost waker" "$TMP/report.txt")"
# the tasks' timer waits are in the report
assert_eq "fetch tasks waiting on a timer at the end" True \
	"$(json_eval "$TMP/report.json" 'sum(1 for t in d["tasks"] if t.get("wait_kind") == "timer") >= 5')"
