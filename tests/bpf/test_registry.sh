#!/bin/bash
# Reading a target's registry as a hostile or buggy program leaves it: a task list that
# loops is found at once and said to loop (not "changed while read"); an unreadable list
# is an error (never "No deadlock" and exit 0); a spawn tree with a parent cycle or more
# than 32 levels says what it left out; a list longer than the cap is reported truncated
# with the real count, `-t ID` still finds a task beyond it, and tasks/deadlock/graph on
# 1,000,000 live tasks end in seconds with bounded memory.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: reading another process' memory needs root"
[ -x "$AI" ] || fail "$AI not built"
R=$OUT/tests/registry_damage

start() { # mode args...: starts the damaged program, sets pid
	bg "$R" "$@" >"$TMP/ready"
	pid=$BG_PID
	for _ in $(seq 600); do grep -q ready "$TMP/ready" && break; sleep 0.1; done
	grep -q ready "$TMP/ready" || fail "registry_damage $* did not start"
}

# run WANT_RC WHAT CMD...: the exit status, output in $TMP/o, errors in $TMP/e
run() {
	local want=$1 what=$2 rc
	shift 2
	timeout 60 "$@" >"$TMP/o" 2>"$TMP/e"
	rc=$?
	[ $rc -eq "$want" ] || fail "$what: exit $rc, expected $want: $(head -3 "$TMP/e")"
}

start --loop 5
run 0 "tasks, looping list" "$AI" tasks -p "$pid"
grep -q "^async-inspect: warning: task list incomplete: the list loops back at 0x[0-9a-f]* (read 5 of 5 live tasks)$" "$TMP/e" ||
	fail "tasks on a looping list: $(cat "$TMP/e")"
grep -q "changed while read" "$TMP/o" "$TMP/e" && fail "a loop called a change: $(cat "$TMP/o" "$TMP/e")"
assert_eq "tasks shown from a looping list" 5 "$(grep -c '^Task #' "$TMP/o")"
ok "looping list: $(cat "$TMP/e")"
run 2 "deadlock, looping list" "$AI" deadlock -p "$pid"
grep -q "^async-inspect: failed to read 'libasync registry of process $pid': task list incomplete: the list loops back" "$TMP/e" ||
	fail "deadlock on a looping list: $(cat "$TMP/e")"
grep -q "No deadlock" "$TMP/o" && fail "deadlock gave a verdict on a looping list"
ok "deadlock on a looping list: exit 2 (an error, not a finding), no verdict"
kill "$pid"

start --bad-list 5
for c in tasks deadlock graph diagnose; do
	args=(-p "$pid")
	[ $c = graph ] && args+=(-d 0.1)
	[ $c = diagnose ] && args+=(-d 0.5)
	want=1
	[ $c = deadlock ] || [ $c = diagnose ] && want=2 # 1 means found
	run $want "$c, unreadable list" "$AI" $c "${args[@]}"
	[ "$(wc -l <"$TMP/e")" = 1 ] || fail "$c: not one line: $(cat "$TMP/e")"
	grep -q "^async-inspect: failed to read 'libasync registry of process $pid': task list incomplete: a record is unreadable at 0x10 (read 0 of 5 live tasks)$" "$TMP/e" ||
		fail "$c on an unreadable list: $(cat "$TMP/e")"
	grep -q "No deadlock" "$TMP/o" && fail "$c gave a verdict on an unreadable registry"
	ok "$c on an unreadable list: exit $want, $(cat "$TMP/e")"
done
kill "$pid"

start --parent-cycle 5
run 0 "graph, parent cycle" "$AI" graph -p "$pid" -d 0.1
grep -q "^  \.\.\. 2 tasks not shown: on or under a cycle of parent links (at #[0-9]*)$" "$TMP/o" ||
	fail "graph with a parent cycle: $(cat "$TMP/o")"
ok "graph: a parent cycle is said"
kill "$pid"

start --deep 40
run 0 "graph, 41 levels" "$AI" graph -p "$pid" -d 0.1
grep -q "^  \.\.\. 8 tasks deeper than 32 levels not shown$" "$TMP/o" || fail "deep tree: $(cat "$TMP/o")"
ok "graph: 8 tasks below 32 levels are said"
kill "$pid"

# 1,000,000 live tasks: each command in seconds, memory bounded by the cap (not 1M tasks)
start --many 1000000
timed() { # what max_seconds max_kb cmd...
	local what=$1 maxs=$2 maxkb=$3
	shift 3
	/usr/bin/time -f "%e %M" -o "$TMP/time" timeout 120 "$@" >"$TMP/o" 2>"$TMP/e" ||
		fail "$what: exit $?: $(head -3 "$TMP/e")"
	read -r secs kb <"$TMP/time"
	python3 -c "import sys; sys.exit(0 if $secs <= $maxs else 1)" ||
		fail "$what took ${secs}s (limit ${maxs}s)"
	[ "$kb" -le "$maxkb" ] || fail "$what used ${kb} KB (limit $maxkb KB)"
	ok "$what: ${secs}s, ${kb} KB"
}
timed "tasks, 1M tasks" 20 400000 "$AI" tasks -p "$pid"
grep -q "^async-inspect: warning: task list truncated: read 100000 of 1000000 live tasks (the cap is 100000)$" "$TMP/e" ||
	fail "truncation not said: $(cat "$TMP/e")"
grep -q "changed while read" "$TMP/o" "$TMP/e" && fail "truncation called a change"
grep -q "^PID $pid: 1000000 live tasks (1000000 spawned), .* \[showing 100000 of 1000000\]" "$TMP/o" ||
	fail "tasks header: $(head -1 "$TMP/o")"
timed "tasks -t beyond the cap" 20 100000 "$AI" tasks -p "$pid" -t 999990
grep -q "^Task #999990: sleeper" "$TMP/o" || fail "-t 999990: $(head -3 "$TMP/o" "$TMP/e")"
timed "deadlock, 1M tasks" 20 400000 "$AI" deadlock -p "$pid"
grep -q "^No deadlock among the first 100000 of 1000000 live tasks of process $pid" "$TMP/o" ||
	fail "deadlock verdict: $(cat "$TMP/o")"
timed "graph, 1M tasks" 30 400000 "$AI" graph -p "$pid" -d 0.1
grep -q "^PID $pid: 1000000 live tasks (showing 100000)" "$TMP/o" || fail "graph: $(head -1 "$TMP/o")"
timed "graph --json, 1M tasks" 30 400000 "$AI" graph -p "$pid" -d 0.1 --json
kill "$pid"
