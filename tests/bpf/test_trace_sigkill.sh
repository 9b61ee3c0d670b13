#!/bin/bash
# The traced process is never affected, also when the tracer is killed with SIGKILL:
# its probes detach with the tracer's file descriptors, it keeps running, and its
# output and exit status are what they would have been.
source "$(dirname "$0")/lib.sh"
require_bpf

# wait_for FILE PATTERN: up to 10 s
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# -p PID
"$EX/fetch_user" --users 300 --io-ms 1000 >"$TMP/t.out" 2>&1 &
target=$!
PIDS+=("$target")
sleep 0.3 # let it map libasync.so
"$AI" trace -p "$target" -i 0.2 >"$TMP/tables" 2>"$TMP/tr.err" &
tracer=$!
PIDS+=("$tracer")
wait_for "$TMP/tables" "^fetch_user " || fail "the tracer printed no table: $(cat "$TMP/tr.err")"
kill -0 "$target" || fail "target finished before the tracer could be killed; make it longer"
kill -9 "$tracer"
wait "$tracer" 2>/dev/null
wait "$target"
assert_eq "target exit status after the tracer's SIGKILL" 0 "$?"
grep -q "^fetched 300 users" "$TMP/t.out" || fail "target output wrong: $(cat "$TMP/t.out")"
ok "target output intact: $(cat "$TMP/t.out")"

# -- CMD: the command outlives a killed tracer
"$AI" trace -i 0.2 -- "$EX/fetch_user" --users 300 --io-ms 1000 >"$TMP/c.out" 2>&1 &
tracer=$!
PIDS+=("$tracer")
wait_for "$TMP/c.out" "^fetch_user " || fail "the tracer printed no table: $(cat "$TMP/c.out")"
child=$(pgrep -P "$tracer" -x fetch_user)
[ -n "$child" ] || fail "no child under the tracer"
PIDS+=("$child")
kill -9 "$tracer"
wait "$tracer" 2>/dev/null
for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && fail "the command did not finish"
grep -q "^fetched 300 users" "$TMP/c.out" || fail "command output wrong: $(tail -n 3 "$TMP/c.out")"
ok "command finished normally after the tracer's SIGKILL"

# and nothing is left attached: a new trace of a new process sees exact counts
"$AI" trace --json -o "$TMP/again.json" -- "$EX/fetch_user" --users 20 --io-ms 1 >/dev/null
assert_eq "a new trace after the kills: fetch_user polls" 60 \
	"$(json_eval "$TMP/again.json" 'sum(f["polls"] for f in d["functions"] if f["name"] == "fetch_user")')"
