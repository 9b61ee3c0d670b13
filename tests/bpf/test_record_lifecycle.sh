#!/bin/bash
# record -p PID on a running process (-d ends it, the process keeps running, names come
# from the file), SIGINT ends a recording of a command with a complete file (and ends
# the command), the traced process exiting ends a -p recording; record's error paths.
source "$(dirname "$0")/lib.sh"
require_bpf

# -p on a process started before the recorder
"$OUT/tests/trace_fake" --tasks 20 --io-ms 5 --rounds 0 >/dev/null &
target=$!
PIDS+=("$target")
sleep 0.3
"$AI" record -p "$target" -d 1 -o "$TMP/p.rec" 2>"$TMP/err"
assert_eq "record -p -d exit status" 0 "$?"
kill -0 "$target" 2>/dev/null || fail "the recorded process died"
"$AI" report "$TMP/p.rec" --json >"$TMP/p.json"
assert_eq "report exit status (complete file)" 0 "$?"
assert_eq "pid" "$target" "$(json_eval "$TMP/p.json" 'd["pid"]')"
assert_eq "function named from the file" fake_user \
	"$(json_eval "$TMP/p.json" '" ".join(sorted(set(t["function"] for t in d["tasks"])))')"
assert_eq "tasks seen from spawn to end: 3 polls each" 0 \
	"$(json_eval "$TMP/p.json" 'len([t for t in d["tasks"] if t["spawn_ns"] and t["done"] and t["polls"] != 3])')"
assert_eq "at least 5 rounds of 20 tasks" True \
	"$(json_eval "$TMP/p.json" 'len([t for t in d["tasks"] if t["spawn_ns"] and t["done"]]) >= 100')"
assert_eq "duration about 1 s" True \
	"$(json_eval "$TMP/p.json" '0.9e9 <= d["duration_ns"] <= 3e9')"

# the recorded process exiting ends a -p recording
( sleep 0.7; kill -TERM "$target" ) &
timeout 20 "$AI" record -p "$target" -o "$TMP/end.rec" 2>/dev/null
assert_eq "record ends with the process, status" 0 "$?"
"$AI" report "$TMP/end.rec" >/dev/null 2>&1
assert_eq "its file is complete" 0 "$?"

# SIGINT to record -- CMD: complete file, the command ended too (SIGINT, or SIGTERM when
# it ignores SIGINT as commands started in the background by a shell do), its status
"$AI" record -o "$TMP/int.rec" -- "$OUT/tests/trace_fake" --tasks 10 --io-ms 5 --rounds 0 \
	>/dev/null 2>&1 &
rec=$!
PIDS+=("$rec")
sleep 1
kill -INT "$rec"
timeout 20 tail --pid="$rec" -f /dev/null || fail "record did not end on SIGINT"
wait "$rec"
assert_eq "record's status: the command's (killed by SIGTERM)" 143 "$?"
"$AI" report "$TMP/int.rec" --json >"$TMP/int.json"
assert_eq "report of the interrupted recording" 0 "$?"
assert_eq "it has whole rounds" True \
	"$(json_eval "$TMP/int.json" 'sum(t["polls"] for t in d["tasks"]) >= 30')"

# SIGKILL: no footer, but what was flushed (every second) is readable: exit 3, a warning
"$AI" record -o "$TMP/kill.rec" -- "$OUT/tests/trace_fake" --tasks 10 --io-ms 5 --rounds 0 \
	>/dev/null 2>&1 &
rec=$!
PIDS+=("$rec")
sleep 2.5
cmd=$(pgrep -P "$rec")
[ -n "$cmd" ] && PIDS+=($cmd)
kill -KILL "$rec"
wait "$rec" 2>/dev/null
[ -n "$cmd" ] && kill -TERM $cmd
"$AI" report "$TMP/kill.rec" --json >"$TMP/kill.json" 2>"$TMP/kill.err"
assert_eq "report of a killed recording: exit" 3 "$?"
grep -q "no footer: the recording did not end cleanly" "$TMP/kill.err" || fail "$(cat "$TMP/kill.err")"
assert_eq "it still has at least a second of polls" True \
	"$(json_eval "$TMP/kill.json" 'sum(t["polls"] for t in d["tasks"]) >= 300')"

# errors: one line, the documented status
expect() { # status what cmd...
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$TMP/e.out" 2>"$TMP/e.err"
	rc=$?
	[ $rc -eq "$want" ] || fail "$what: exit $rc, expected $want: $(cat "$TMP/e.err")"
	grep -q "^async-inspect: " "$TMP/e.err" || fail "$what: $(cat "$TMP/e.err")"
	ok "$what: $(head -1 "$TMP/e.err")"
}
expect 2 "no -o" "$AI" record -p 1
expect 2 "nothing to record" "$AI" record -o "$TMP/x.rec"
expect 2 "both -p and a command" "$AI" record -p 1 -o "$TMP/x.rec" -- /bin/true
expect 2 "bad -d" "$AI" record -d -1 -o "$TMP/x.rec" -- /bin/true
expect 2 "bad -b" "$AI" record -b 3 -o "$TMP/x.rec" -- /bin/true
expect 1 "no such process" "$AI" record -p 999999 -o "$TMP/x.rec"
expect 1 "no such command" "$AI" record -o "$TMP/x.rec" -- /nonexistent/cmd
expect 1 "no libasync probes" "$AI" record -o "$TMP/x.rec" -- /bin/true
grep -q "has no libasync probes" "$TMP/e.err" || fail "$(cat "$TMP/e.err")"
expect 1 "unwritable output" "$AI" record -o /nonexistent/dir/x.rec -- "$OUT/tests/trace_fake" \
	--tasks 1
grep -q "failed to create '/nonexistent/dir/x.rec'" "$TMP/e.err" || fail "$(cat "$TMP/e.err")"
expect 2 "report: no file" "$AI" report
expect 2 "report: two files" "$AI" report a b
[ "$("$AI" record --help | grep -c EXAMPLES)" = 1 ] || fail "record --help has no EXAMPLES"
[ "$("$AI" report --help | grep -c EXAMPLES)" = 1 ] || fail "report --help has no EXAMPLES"
ok "--help with examples"
