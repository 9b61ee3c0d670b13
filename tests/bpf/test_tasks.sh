#!/bin/bash
# async-inspect tasks: a process started before the tool shows the tasks already
# waiting, with the right await point and time in state (within 10%); error paths.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: reading another process' memory needs root"
[ -x "$AI" ] || fail "$AI not built"

src=$ROOT/examples/fetch_user.c
# the await lines, from the source: fetch_user awaits fetch_profile; fetch_profile its sleep
line_user=$(grep -n 'ASYNC_AWAIT(f, cx, fetch_profile' "$src" | cut -d: -f1)
line_profile=$(awk '/fetch_profile_poll\(struct/{p=1} p && /ASYNC_AWAIT\(f, cx, async_sleep/{print NR; exit}' "$src")
[ -n "$line_user" ] && [ -n "$line_profile" ] || fail "await lines not found in $src"

mono() { python3 -c 'import time; print(time.monotonic_ns())'; } # CLOCK_MONOTONIC, as libasync

t0=$(mono)
bg "$EX/fetch_user" --users 5 --io-ms 3000
pid=$BG_PID
sleep 1.5
"$AI" tasks -p "$pid" --json >"$TMP/t.json" || fail "tasks --json exited $?"
t1=$(mono)
"$AI" tasks -p "$pid" >"$TMP/t.txt" || fail "tasks exited $?"

assert_eq "fetch_user tasks" 5 "$(json_eval "$TMP/t.json" 'sum(t["function"]=="fetch_user" for t in d["tasks"])')"
assert_eq "main task" 1 "$(json_eval "$TMP/t.json" 'sum(t["name"]=="main" for t in d["tasks"])')"
assert_eq "all fetch_user idle at fetch_profile" 5 "$(json_eval "$TMP/t.json" \
	'sum(t["state"]=="idle" and t["state_detail"]=="waiting for fetch_profile" for t in d["tasks"] if t["function"]=="fetch_user")')"
assert_eq "root await location" "examples/fetch_user.c:$line_user" \
	"$(json_eval "$TMP/t.json" 'sorted(set(t["location"] for t in d["tasks"] if t["function"]=="fetch_user"))[0]')"
assert_eq "innermost await: fetch_profile's sleep" "fetch_profile examples/fetch_user.c:$line_profile async_sleep" \
	"$(json_eval "$TMP/t.json" '" ".join(sorted(set(t["stack"][1]["function"]+" "+t["leaf_location"]+" "+t["stack"][1]["await"] for t in d["tasks"] if t["function"]=="fetch_user")))')"
assert_eq "stack depth (fetch_user > fetch_profile > async_sleep)" 3 \
	"$(json_eval "$TMP/t.json" 'max(len(t["stack"]) for t in d["tasks"] if t["function"]=="fetch_user")')"

# Time in state: each fetch_user went idle at its first poll, right after its spawn, and
# stayed idle (3 s of I/O). The snapshot was taken between t0 and t1 (CLOCK_MONOTONIC,
# the runtime's clock too), the tasks spawned after t0.
taken=$(json_eval "$TMP/t.json" 'd["taken_ns"]')
[ "$taken" -gt "$t0" ] && [ "$taken" -lt "$t1" ] || fail "taken_ns $taken outside $t0..$t1"
for t in $(json_eval "$TMP/t.json" '" ".join("%d:%d" % (t["spawn_ns"], t["in_state_ns"]) for t in d["tasks"] if t["function"]=="fetch_user")'); do
	spawn=${t%:*} ns=${t#*:}
	[ "$spawn" -gt "$t0" ] || fail "spawned at $spawn, before the test started ($t0)"
	want=$((taken - spawn))
	[ "$want" -gt 1000000000 ] || fail "only $want ns between spawn and snapshot"
	[ "$ns" -ge $((want * 90 / 100)) ] && [ "$ns" -le $((want * 110 / 100)) ] ||
		fail "time in state $ns ns, expected $want ns +-10%"
done
ok "time in state within 10% (about $((want / 1000000)) ms)"

grep -q "^Task #2: fetch_user$" "$TMP/t.txt" || fail "no 'Task #2: fetch_user' box"
grep -q "State:    waiting for fetch_profile ([0-9.]*s)" "$TMP/t.txt" || fail "no state line"
grep -q "Location: examples/fetch_user.c:$line_user" "$TMP/t.txt" || fail "no location line"
grep -q "Stuck at: fetch_profile().await > async_sleep().await (examples/fetch_user.c:$line_profile)" \
	"$TMP/t.txt" || fail "no stuck-at line"
grep -q "Waits on: JoinHandle of task #2 fetch_user" "$TMP/t.txt" || fail "main's join not shown"
ok "text boxes"
kill -9 "$pid"

# a process that stays: one task, errors against it
bg "$EX/fetch_user" --forever --users 2 --io-ms 500
pid=$BG_PID
sleep 0.3
"$AI" tasks -p "$pid" -t 1 >"$TMP/one.txt" || fail "tasks -t exited $?"
assert_eq "tasks -t 1" 1 "$(grep -c '^Task #1: ' "$TMP/one.txt")"

# error paths: one line, non-zero
expect_err() { # expected-rc pattern args...
	local rc want=$1 pat=$2
	shift 2
	"$AI" tasks "$@" >"$TMP/o" 2>"$TMP/e"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "tasks $*: exit $rc, expected $want"
	[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "tasks $*: not one line: $(cat "$TMP/e")"
	grep -q "$pat" "$TMP/e" || fail "tasks $*: '$(cat "$TMP/e")' lacks '$pat'"
	ok "tasks $* -> $rc: $(cat "$TMP/e")"
}
expect_err 2 "missing -p"
expect_err 2 "unknown option" -p "$pid" --bogus
expect_err 2 "not a process id" -p abc
expect_err 1 "No such process" -p 999999999
expect_err 1 "not a libasync program" -p $$
expect_err 1 "find task .#999999999." -p "$pid" -t 999999999
"$AI" tasks --help | grep -q EXAMPLES || fail "--help has no EXAMPLES"
kill -0 "$pid" || fail "the target died"
ok "target alive"
