#!/bin/bash
# async-inspect top: driven in tmux (a real terminal): the screen shows the example's
# tasks, sort keys work, q quits; batch mode; -- CMD passes the command's status on.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_bpf
command -v tmux >/dev/null || skip "tmux not installed: apt-get install tmux"

bg "$EX/fetch_user" --forever --users 3 --io-ms 200
fu=$BG_PID
sleep 0.3

# the function of the task spawned as "main" (what the TASK column shows)
"$AI" tasks -p "$fu" --json >"$TMP/t.json" || fail "tasks failed"
main_fn=$(json_eval "$TMP/t.json" '[t["function"] for t in d["tasks"] if t["name"]=="main"][0]')

sess=ai-top-$$
tmux kill-session -t "$sess" 2>/dev/null
tmux new-session -d -s "$sess" -x 180 -y 30 "$AI top -p $fu -i 0.3; echo top-exit=\$?; sleep 30"
trap 'tmux kill-session -t "$sess" 2>/dev/null; cleanup' EXIT
screen() { tmux capture-pane -p -t "$sess"; }
for _ in $(seq 50); do screen | grep -q "fetch_user" && break; sleep 0.1; done
# a screen taken mid-round (3 fetch_user tasks live; between rounds there are none)
for _ in $(seq 30); do
	screen >"$TMP/s1"
	[ "$(grep -c '^ *[0-9]* fetch_user  *waiting for fetch_p' "$TMP/s1")" -eq 3 ] && break
	sleep 0.1
done
grep -q "^async-inspect top - PID $fu (fetch_user)" "$TMP/s1" || fail "no header: $(cat "$TMP/s1")"
grep -q "ID TASK .*STATE .*IN STATE .*BUSY .*SCHED .*IDLE .*POLLS" "$TMP/s1" || fail "no column header"
assert_eq "main task row" 1 "$(grep -c "^ *1 $main_fn " "$TMP/s1")"
assert_eq "fetch_user rows" 3 "$(grep -c '^ *[0-9]* fetch_user  *waiting for fetch_p' "$TMP/s1")"
grep -q "Sort: busy" "$TMP/s1" || fail "default sort not busy"
grep -q "busy/sched/idle: since top attached (BPF)" "$TMP/s1" || fail "BPF columns not on"
ok "the screen shows the example's tasks"

tmux send-keys -t "$sess" p
sleep 0.5
screen | grep -q "Sort: polls" || fail "p did not sort by polls: $(screen)"
tmux send-keys -t "$sess" r
sleep 0.5
screen | grep -q "Sort: polls (reversed)" || fail "r did not reverse"
ok "sort keys"
tmux send-keys -t "$sess" q
for _ in $(seq 30); do screen | grep -q "top-exit=" && break; sleep 0.1; done
screen | grep -q "top-exit=0" || fail "q did not quit with 0: $(screen)"
ok "q quits"
kill -0 "$fu" || fail "the target died"

# batch mode: plain text, N tables
"$AI" top -p "$fu" -b -n 2 -i 0.2 >"$TMP/b.txt" || fail "batch exited $?"
assert_eq "batch tables" 2 "$(grep -c '^async-inspect top - PID' "$TMP/b.txt")"
grep -q $'\033' "$TMP/b.txt" && fail "ANSI escapes in batch mode"
ok "batch mode"
kill -9 "$fu"

# -- CMD: started by top, its exit status passed on
"$AI" top -b -i 0.1 -- "$EX/fetch_user" --users 3 --io-ms 100 >"$TMP/c.txt"
assert_eq "-- CMD exit status" 0 $?
grep -q "fetch_user  *waiting for fetch_p" "$TMP/c.txt" || fail "-- CMD: no fetch_user rows"
"$AI" top -b -- "$EX/fetch_user" --bogus >/dev/null 2>&1
assert_eq "-- CMD failing: its status passed on" 2 $?
"$AI" top -b -i 0.1 -n 1 -- "$EX/fetch_user" --forever >/dev/null 2>&1
assert_eq "-n ends top and the command it started" 0 $?
"$AI" top -b -- /bin/false 2>"$TMP/e"
assert_eq "-- CMD without libasync" 1 $?
grep -q "no libasync probes" "$TMP/e" || fail "wrong message: $(cat "$TMP/e")"

# -p: the watched process ends -> top ends, status 0
bg "$EX/fetch_user" --users 2 --io-ms 700
short=$BG_PID
for _ in $(seq 100); do "$AI" tasks -p "$short" >/dev/null 2>&1 && break; sleep 0.02; done
"$AI" top -p "$short" -b -i 0.1 >"$TMP/p.txt" 2>"$TMP/p.err"
rc=$?
[ $rc -eq 0 ] || fail "top -p after the process exits: exit $rc: $(cat "$TMP/p.err")"

grep -q "process $short exited" "$TMP/p.err" || fail "no 'exited' message: $(cat "$TMP/p.err")"
grep -q "fetch_user  *waiting for fetch_p" "$TMP/p.txt" || fail "-p short: no fetch_user rows"

# warnings: a task blocking its worker in poll (50 ms per poll) is flagged long-poll
"$AI" top -b -i 0.5 -n 2 -- "$EX/blocking" --rounds 20 >"$TMP/w.txt" 2>&1
grep -q "^ *[0-9]* checksum .*long-poll:[0-9.]*ms" "$TMP/w.txt" || fail "no long-poll warning: $(cat "$TMP/w.txt")"
grep "ticker" "$TMP/w.txt" | grep -q "long-poll" && fail "a ticker flagged long-poll"
ok "long-poll warning on the blocking task only"

# errors
"$AI" top 2>"$TMP/e"
assert_eq "no target exit" 2 $?
"$AI" top -p "$$" -s nope 2>"$TMP/e"
assert_eq "bad sort exit" 2 $?
[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "not one line: $(cat "$TMP/e")"
"$AI" top -p 999999999 2>"$TMP/e"
assert_eq "no such pid exit" 1 $?
"$AI" top --help | grep -q EXAMPLES || fail "--help has no EXAMPLES"
