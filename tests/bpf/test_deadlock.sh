#!/bin/bash
# async-inspect deadlock: the two-mutex deadlock reported within 2 s of attaching with
# both tasks and both mutexes and their locations; the three-task cycle through
# JoinHandles found; no false positive on busy processes; exit statuses and errors.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: reading another process' memory needs root"
[ -x "$AI" ] || fail "$AI not built"

src=$ROOT/examples/deadlock.c
line_accounts=$(grep -n 'async_mutex_init(&bank.accounts)' "$src" | cut -d: -f1)
line_ledger=$(grep -n 'async_mutex_init(&bank.ledger)' "$src" | cut -d: -f1)
[ -n "$line_accounts" ] && [ -n "$line_ledger" ] || fail "mutex declarations not found in $src"

# Starts the example and waits for its "ready" line; sets PID.
start_deadlock() {
	bg "$EX/deadlock" "$@" >"$TMP/dl.out"
	PID=$BG_PID
	for _ in $(seq 100); do
		grep -q ready "$TMP/dl.out" && return 0
		sleep 0.05
	done
	fail "deadlock $* never got ready"
}

ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- two tasks, two mutexes -----------------------------------------------------------
start_deadlock
t0=$(ms)
"$AI" deadlock -p "$PID" >"$TMP/d.txt"
rc=$?
t1=$(ms)
assert_eq "exit status with a deadlock" 1 "$rc"
[ $((t1 - t0)) -le 2000 ] || fail "took $((t1 - t0)) ms to report (> 2 s)"
ok "reported in $((t1 - t0)) ms"
grep -q "^DEADLOCK 1: 2 tasks wait for each other" "$TMP/d.txt" || fail "no DEADLOCK line: $(cat "$TMP/d.txt")"
grep -q "task #[0-9]* transfer waits on mutex &bank.ledger (examples/deadlock.c:$line_ledger) held by task #[0-9]* audit" \
	"$TMP/d.txt" || fail "transfer's edge missing"
grep -q "task #[0-9]* audit waits on mutex &bank.accounts (examples/deadlock.c:$line_accounts) held by task #[0-9]* transfer" \
	"$TMP/d.txt" || fail "audit's edge missing"
assert_eq "task boxes in the report" 2 "$(grep -c '^    Task #' "$TMP/d.txt")"
grep -q "Location: examples/deadlock.c:[0-9]" "$TMP/d.txt" || fail "no task location"
ok "both tasks and both mutexes named with their locations"

"$AI" deadlock -p "$PID" --json >"$TMP/d.json"
assert_eq "json exit status" 1 $?
assert_eq "json cycles" 1 "$(json_eval "$TMP/d.json" 'len(d["deadlocks"])')"
assert_eq "json tasks" "audit transfer" "$(json_eval "$TMP/d.json" '" ".join(sorted(t["name"] for t in d["deadlocks"][0]["tasks"]))')"
assert_eq "json objects" "&bank.accounts@examples/deadlock.c:$line_accounts &bank.ledger@examples/deadlock.c:$line_ledger" \
	"$(json_eval "$TMP/d.json" '" ".join(sorted(e["object_name"]+"@"+e["object_location"] for e in d["deadlocks"][0]["edges"]))')"
assert_eq "json edge kinds" "mutex mutex" "$(json_eval "$TMP/d.json" '" ".join(e["kind"] for e in d["deadlocks"][0]["edges"])')"
kill -0 "$PID" || fail "the target died"
kill -9 "$PID"

# ---- three tasks through two JoinHandles and a mutex ------------------------------------
start_deadlock --three
"$AI" deadlock -p "$PID" --json >"$TMP/d3.json"
assert_eq "--three exit status" 1 $?
assert_eq "--three cycle length" 3 "$(json_eval "$TMP/d3.json" 'len(d["deadlocks"][0]["tasks"])')"
assert_eq "--three edge kinds" "join join mutex" \
	"$(json_eval "$TMP/d3.json" '" ".join(sorted(e["kind"] for e in d["deadlocks"][0]["edges"]))')"
assert_eq "--three tasks" "post_entry reconcile settle" \
	"$(json_eval "$TMP/d3.json" '" ".join(sorted(t["name"] for t in d["deadlocks"][0]["tasks"]))')"
kill -9 "$PID"

# ---- stuck without a cycle: a mutex whose holder completed without unlocking ------------
[ -x "$OUT/tests/stuck_mutex" ] || fail "$OUT/tests/stuck_mutex not built"
bg "$OUT/tests/stuck_mutex" >"$TMP/sm.out"
sm=$BG_PID
for _ in $(seq 100); do grep -q ready "$TMP/sm.out" && break; sleep 0.05; done
"$AI" deadlock -p "$sm" -T 60 >"$TMP/sm1.txt"
assert_eq "pending < threshold: not stuck yet" 0 $?
sleep 0.6
"$AI" deadlock -p "$sm" --threshold 0.5 --json >"$TMP/sm.json"
assert_eq "stuck exit status" 1 $?
assert_eq "stuck tasks" waiter "$(json_eval "$TMP/sm.json" '" ".join(s["task"]["name"] for s in d["stuck"])')"
assert_eq "no cycle" 0 "$(json_eval "$TMP/sm.json" 'len(d["deadlocks"])')"
json_eval "$TMP/sm.json" 'd["stuck"][0]["reason"]' | grep -q "which no longer exists: nothing will unlock it" ||
	fail "wrong reason: $(json_eval "$TMP/sm.json" 'd["stuck"][0]["reason"]')"
ok "stuck task reported: $(json_eval "$TMP/sm.json" 'd["stuck"][0]["reason"]')"
kill -9 "$sm"

# ---- no false positives on busy processes ------------------------------------------------
bg "$EX/fetch_user" --forever --users 50 --io-ms 1
fu=$BG_PID
sleep 0.3
for i in 1 2 3 4 5; do
	"$AI" deadlock -p "$fu" >"$TMP/fu.txt" || fail "fetch_user --forever run $i: exit $?: $(cat "$TMP/fu.txt")"
done
grep -q "^No deadlock in process $fu" "$TMP/fu.txt" || fail "no 'No deadlock' line"
ok "fetch_user --forever: exit 0 over 5 runs"
kill -9 "$fu"

if command -v wrk >/dev/null; then
	bg "$EX/http_server" --port 0 --io-us 200 >"$TMP/http.out"
	hs=$BG_PID
	for _ in $(seq 100); do grep -q listening "$TMP/http.out" && break; sleep 0.05; done
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/http.out")
	[ -n "$port" ] || fail "http_server did not start: $(cat "$TMP/http.out")"
	bg wrk -t2 -c64 -d8s "http://127.0.0.1:$port/users/7"
	sleep 1
	for i in 1 2 3 4 5; do
		"$AI" deadlock -p "$hs" >"$TMP/hs.txt" || fail "http_server under load run $i: exit $?: $(cat "$TMP/hs.txt")"
	done
	live=$(sed -n 's/^No deadlock in process [0-9]*: \([0-9]*\) live tasks.*/\1/p' "$TMP/hs.txt")
	[ "${live:-0}" -ge 10 ] || fail "http_server not under load? $(cat "$TMP/hs.txt")"
	ok "http_server under wrk load ($live live tasks): exit 0 over 5 runs"
	kill -9 "$hs"
else
	echo "note: wrk not installed, http_server load check not run"
fi

# ---- errors: exit 2, one line ------------------------------------------------------------
expect_err() { # pattern args...
	local rc pat=$1
	shift
	"$AI" deadlock "$@" >"$TMP/o" 2>"$TMP/e"
	rc=$?
	[ "$rc" -eq 2 ] || fail "deadlock $*: exit $rc, expected 2"
	[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "deadlock $*: not one line: $(cat "$TMP/e")"
	grep -q "$pat" "$TMP/e" || fail "deadlock $*: '$(cat "$TMP/e")' lacks '$pat'"
	ok "deadlock $* -> 2: $(cat "$TMP/e")"
}
expect_err "missing -p"
expect_err "No such process" -p 999999999
expect_err "not a libasync program" -p $$
expect_err "unknown option" -p 1 -x
expect_err "not a number of seconds" -p 1 --threshold soon
"$AI" deadlock --help | grep -q EXAMPLES || fail "--help has no EXAMPLES"
