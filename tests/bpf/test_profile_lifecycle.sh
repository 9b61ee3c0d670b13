#!/bin/bash
# profile: threads started after attach are sampled; a process that exits while being
# profiled ends the profile cleanly with what was collected; -- CMD runs the command
# and passes its exit status through; a SIGKILLed profiler leaves the target unharmed.
. "$(dirname "$0")/lib.sh"
require_bpf
W=$OUT/tests/cpu_idle_mix
CHECK="python3 $ROOT/tests/bpf/profile_check.py"
[ -x "$W" ] || fail "$W not built"

# A thread (and a second executor's worker) created 1.5 s after the profiler attached;
# CPU work on the blocking pool meanwhile.
bg "$W" --seconds 60 --late-ms 1500 --blocking
sleep 0.3
"$AI" profile -p "$BG_PID" -d 4 --folded >"$TMP/late.folded" 2>"$TMP/err" ||
	{ rc=$?; cat "$TMP/err"; fail "profile exited $rc"; }
$CHECK folded "$TMP/late.folded" >/dev/null || fail "folded format"
late=$(awk '/^late_task;.*crunch_numbers/ { n += $NF } END { print n + 0 }' "$TMP/late.folded")
[ "$late" -ge 5 ] || { cat "$TMP/late.folded"; fail "late_task has $late samples, want >= 5"; }
ok "late_task (threads started after attach): $late samples with crunch_numbers"
pool=$(awk '/^\[blocking pool\];.*blocking_crunch;crunch_numbers/ { n += $NF } END { print n + 0 }' \
	"$TMP/late.folded")
[ "$pool" -ge 5 ] || { cat "$TMP/late.folded"; fail "[blocking pool] has $pool samples, want >= 5"; }
ok "[blocking pool] label: $pool samples in blocking_crunch"
kill "$BG_PID"

# The process exits 2 s into a 30 s profile: results come out at once, exit 0.
bg "$W" --seconds 2
t0=$(date +%s)
"$AI" profile -p "$BG_PID" -d 30 --folded >"$TMP/exit.folded" 2>"$TMP/err" ||
	{ rc=$?; cat "$TMP/err"; fail "profile of an exiting process failed ($rc)"; }
t1=$(date +%s)
[ $((t1 - t0)) -le 10 ] || fail "profile took $((t1 - t0)) s after the process exited"
grep -q 'exited' "$TMP/err" || fail "no note that the process exited"
total=$($CHECK folded "$TMP/exit.folded") || fail "folded format after exit"
[ "$total" -ge 20 ] || fail "$total samples before the exit, want >= 20"
grep -q '^heavy_task;heavy_step@.*;crunch_numbers' "$TMP/exit.folded" ||
	fail "stacks collected before the exit are not symbolized"
ok "process exiting mid-profile: $total samples kept, symbolized, ended in $((t1 - t0)) s"

# -- CMD: started by the profiler, its exit status passed through.
"$AI" profile -d 30 --folded -- "$W" --seconds 2 >"$TMP/cmd.folded" 2>"$TMP/err"
rc=$?
assert_eq "exit status of the command" 0 "$rc"
grep -q '^heavy_task;.*crunch_numbers' "$TMP/cmd.folded" || fail "-- CMD: no heavy_task stacks"
ok "-- CMD profiled from its start"
"$AI" profile -d 30 --folded -- sh -c 'exit 3' >/dev/null 2>"$TMP/err"
rc=$?
[ "$rc" -ne 0 ] || fail "a command without libasync did not fail"
grep -q "not a libasync program\|exited" "$TMP/err" || { cat "$TMP/err"; fail "unclear error"; }
[ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "error is not one line"; }
ok "-- CMD without libasync: one-line error, exit $rc"

# async-inspect killed with SIGKILL mid-profile: the target runs on and exits normally.
bg "$W" --seconds 8
target=$BG_PID
bg "$AI" profile -p "$target" --folded >/dev/null 2>"$TMP/kill.err"
for _ in $(seq 120); do grep -q sampling "$TMP/kill.err" && break; sleep 0.05; done
grep -q sampling "$TMP/kill.err" || fail "profile did not start: $(cat "$TMP/kill.err")"
sleep 0.5
kill -9 "$BG_PID"
wait "$target"
assert_eq "exit status of a target whose profiler was SIGKILLed" 0 "$?"
