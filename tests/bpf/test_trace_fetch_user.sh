#!/bin/bash
# trace -- CMD: exact counts on fetch_user (200 tasks x 3 polls), idle time, await points
# named with file:line, text summary with histograms, exit status passed through.
source "$(dirname "$0")/lib.sh"
require_bpf

out=$TMP/fu.json
"$AI" trace --json -o "$out" -- "$EX/fetch_user" --users 200 --io-ms 5 >"$TMP/fu.stdout" 2>&1
rc=$?
assert_eq "trace exit status (fetch_user exits 0)" 0 "$rc"
grep -q "fetched 200 users" "$TMP/fu.stdout" || fail "fetch_user output missing: $(cat "$TMP/fu.stdout")"

assert_eq "fetch_user tasks" 200 "$(json_eval "$out" 'len([t for t in d["tasks"] if t["function"] == "fetch_user"])')"
assert_eq "polls of fetch_user (function row)" 600 \
	"$(json_eval "$out" 'sum(f["polls"] for f in d["functions"] if f["name"] == "fetch_user")')"
assert_eq "tasks of fetch_user (function row)" 200 \
	"$(json_eval "$out" 'sum(f["tasks"] for f in d["functions"] if f["name"] == "fetch_user")')"
assert_eq "polls of fetch_user (task rows)" 600 \
	"$(json_eval "$out" 'sum(t["polls"] for t in d["tasks"] if t["function"] == "fetch_user")')"
assert_eq "every fetch_user task polled 3 times and done" 200 \
	"$(json_eval "$out" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["polls"] == 3 and t["done"] and t["state"] == "done"])')"
# two 5 ms sleeps: from arming a timer to its wake the task is idle, or still in the
# poll that armed it if that poll was preempted: idle + busy >= 10 ms is what holds
assert_eq "fetch_user tasks with idle + busy < 10 ms" 0 \
	"$(json_eval "$out" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["idle_ns"] + t["busy_ns"] < 10000000])')"
assert_eq "fetch_user poll histogram counts every poll" 600 \
	"$(json_eval "$out" 'sum(sum(f["poll_ns_log2"]) for f in d["functions"] if f["name"] == "fetch_user")')"
# every fetch_user task has the same parent: the program's main task, traced too
assert_eq "fetch_user tasks whose parent is the (traced) main task" 200 \
	"$(json_eval "$out" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["parent"] in [m["id"] for m in d["tasks"] if m["function"] != "fetch_user" and m["parent"] == 0]])')"
assert_eq "every function named (no raw addresses)" 0 \
	"$(json_eval "$out" 'len([f for f in d["functions"] if f["name"].startswith("0x")])')"

src=$ROOT/examples/fetch_user.c
for callee in fetch_profile fetch_posts; do
	line=$(grep -n "ASYNC_AWAIT(f, cx, $callee," "$src" | head -n1 | cut -d: -f1)
	[ -n "$line" ] || fail "no await of $callee in $src"
	assert_eq "await point fetch_user@$callee" "examples/fetch_user.c:$line 200" \
		"$(json_eval "$out" "' '.join('%s %d' % (a['location'], a['waits']) for a in d['await_points'] if a['function'] == 'fetch_user' and a['callee'] == '$callee')")"
	assert_eq "time waited at fetch_user@$callee >= 200 x 5 ms" True \
		"$(json_eval "$out" "sum(a['wait_ns'] for a in d['await_points'] if a['callee'] == '$callee') >= 200 * 5000000")"
done
assert_eq "nothing evicted" 0 "$(json_eval "$out" 'd["lost"]["evicted_tasks"]')"
# (a long-poll warning depends on the machine's load: a preempted poll is long)
assert_eq "no lost-waker or self-wake warnings" 0 \
	"$(json_eval "$out" 'len([w for w in d["warnings"] if w["kind"] != "long-poll"])')"
assert_eq "process recorded as exited 0" "True 0" \
	"$(json_eval "$out" '"%s %d" % (d["processes"][0]["exited"], d["processes"][0]["exit_status"])')"

# the text summary: function table, histograms, await points
"$AI" trace -- "$EX/fetch_user" --users 50 --io-ms 1 >"$TMP/text" 2>&1
assert_eq "text mode exit status" 0 "$?"
grep -q "^fetch_user  *50  *150 " "$TMP/text" || fail "no 'fetch_user 50 150' row: $(cat "$TMP/text")"
grep -q "fetch_user: poll duration" "$TMP/text" || fail "no poll duration histogram"
grep -q "nsecs.*: count.*distribution" "$TMP/text" || fail "no BCC-style histogram header"
grep -q "fetch_user@fetch_posts.*examples/fetch_user.c:" "$TMP/text" || fail "no await point row"

# exit status of a failing command is passed through
"$AI" trace -o "$TMP/bad.json" --json -- "$EX/fetch_user" --no-such-option >/dev/null 2>&1
assert_eq "exit status of a failing command" 2 "$?"
"$AI" trace --json -o "$TMP/fake.json" -- "$OUT/tests/trace_fake" --tasks 7 --exit 3 >/dev/null 2>&1
assert_eq "exit status 3 passed through" 3 "$?"
assert_eq "trace_fake: 7 tasks x 3 polls" "7 21" \
	"$(json_eval "$TMP/fake.json" '"%d %d" % (len(d["tasks"]), sum(t["polls"] for t in d["tasks"]))')"
# a command killed by a signal: 128 + signal, like a shell
"$AI" trace -o /dev/null -- "$EX/fetch_user" --forever >/dev/null 2>&1 &
tpid=$!
PIDS+=("$tpid")
for _ in $(seq 50); do
	child=$(pgrep -P "$tpid" -x fetch_user) && break
	sleep 0.1
done
[ -n "${child:-}" ] || fail "fetch_user --forever did not start under trace"
sleep 0.5
kill -TERM "$child"
wait "$tpid"
assert_eq "exit status of a command killed by SIGTERM" 143 "$?"
