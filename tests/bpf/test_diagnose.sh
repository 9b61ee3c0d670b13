#!/bin/bash
# async-inspect diagnose: each planted bug of tests/bpf/diagnose_bugs.c is the first
# finding, with its kind, its async function and its innermost await point (file:line),
# whether diagnose attaches after the bug began or before; healthy programs (a waker held
# by a plain thread, a contended mutex, an idle consumer, a yielding cruncher, fetch_user
# --forever, http_server under wrk) get no finding in 10 runs each; -- CMD; bad input.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: reading another process' memory needs root"
[ -x "$AI" ] || fail "$AI not built"
BUGS=$OUT/tests/diagnose_bugs
src=$ROOT/tests/bpf/diagnose_bugs.c
[ -x "$BUGS" ] || fail "$BUGS not built"

site() { grep -n "site:$1 " "$src" | cut -d: -f1; }

# Starts diagnose_bugs BUG [AFTER_MS]; with no AFTER_MS waits for its "ready" line.
start_bug() {
	bg "$BUGS" "$@" >"$TMP/bug.out" 2>&1
	PID=$BG_PID
	[ $# -gt 1 ] && return 0
	for _ in $(seq 100); do
		grep -q ready "$TMP/bug.out" && return 0
		sleep 0.05
	done
	fail "diagnose_bugs $* never got ready: $(cat "$TMP/bug.out")"
}

# check_bug BUG KIND FUNCTION: the first finding of $TMP/d.json names them and the site.
check_first() {
	local bug=$1 kind=$2 fn=$3 how=$4 line
	line=$(site "$bug")
	[ -n "$line" ] || fail "no site:$bug in $src"
	assert_eq "$bug ($how): first finding" "$kind" "$(json_eval "$TMP/d.json" 'd["findings"][0]["kind"]')"
	assert_eq "$bug ($how): function" "$fn" "$(json_eval "$TMP/d.json" 'd["findings"][0]["function"]["function"]')"
	assert_eq "$bug ($how): await point" "tests/bpf/diagnose_bugs.c:$line" \
		"$(json_eval "$TMP/d.json" 'd["findings"][0]["await"]["location"]')"
}

diagnose_bug() { # BUG KIND FUNCTION TASKS
	local bug=$1 kind=$2 fn=$3 tasks=$4 rc

	# after the bug began
	start_bug "$bug"
	"$AI" diagnose -p "$PID" -d 1 -i 0.25 --json >"$TMP/d.json"
	rc=$?
	assert_eq "$bug (after): exit status" 1 "$rc"
	check_first "$bug" "$kind" "$fn" after
	[ "$tasks" = - ] ||
		assert_eq "$bug (after): tasks" "$tasks" "$(json_eval "$TMP/d.json" 'd["findings"][0]["tasks"]')"
	"$AI" diagnose -p "$PID" -d 0.5 -i 0.25 >"$TMP/d.txt"
	assert_eq "$bug (text): exit status" 1 $?
	grep -q "^1\. $kind: " "$TMP/d.txt" || fail "$bug: no '1. $kind:' line: $(cat "$TMP/d.txt")"
	grep -q "where: *$fn at .*(tests/bpf/diagnose_bugs.c:$(site "$bug"))" "$TMP/d.txt" ||
		fail "$bug: no where: line with the site: $(cat "$TMP/d.txt")"
	grep -q "cause: " "$TMP/d.txt" || fail "$bug: no cause line"
	kill -0 "$PID" || fail "$bug: the target died"
	kill -9 "$PID"

	# before it began: the window sees it start
	start_bug "$bug" 300
	"$AI" diagnose -p "$PID" -d 2 -i 0.25 --json >"$TMP/d.json"
	rc=$?
	assert_eq "$bug (before): exit status" 1 "$rc"
	check_first "$bug" "$kind" "$fn" before
	kill -9 "$PID"
}

diagnose_bug deadlock deadlock lock_both 2
diagnose_bug lost-wakeup lost-wakeup fetch_reply 1
diagnose_bug orphan-lock orphan-lock wait_lock 1
diagnose_bug stall stall refresh 4
diagnose_bug leak task-leak request -

# the stall names its root task and the chain to it
start_bug stall
"$AI" diagnose -p "$PID" -d 0.5 -i 0.25 --json >"$TMP/d.json"
assert_eq "stall root is the flusher" flusher \
	"$(json_eval "$TMP/d.json" '[t["name"] for t in d["findings"][0]["examples"] if t["id"] == d["findings"][0]["root_task"]][0]')"
kill -9 "$PID"

# ---- healthy programs: nothing, 10 runs each ------------------------------------------------
healthy() { # NAME: diagnose $PID ten times, each must find nothing
	for i in $(seq 10); do
		"$AI" diagnose -p "$PID" -d 0.5 -i 0.1 >"$TMP/h.txt" 2>&1
		rc=$?
		[ $rc -eq 0 ] || fail "$1, run $i: exit $rc: $(cat "$TMP/h.txt")"
	done
	grep -q "no findings" "$TMP/h.txt" || fail "$1: no 'no findings' line"
	ok "$1: no finding in 10 runs"
}
start_bug healthy
healthy "healthy mix (plain-thread waker, contended mutex, idle consumer, yielding cruncher)"
kill -9 "$PID"

bg "$EX/fetch_user" --forever >/dev/null
PID=$BG_PID
sleep 0.3
healthy "fetch_user --forever"
kill -9 "$PID"

if command -v wrk >/dev/null; then
	port=$((20000 + RANDOM % 20000))
	bg "$EX/http_server" --port "$port" --threads 2 >"$TMP/srv.out" 2>&1
	PID=$BG_PID
	for _ in $(seq 50); do grep -q listening "$TMP/srv.out" && break; sleep 0.1; done
	grep -q listening "$TMP/srv.out" || fail "http_server did not start: $(cat "$TMP/srv.out")"
	wrk -t1 -c16 -d12s "http://127.0.0.1:$port/users/1" >"$TMP/wrk.out" 2>&1 &
	WRK=$!
	PIDS+=("$WRK")
	sleep 0.5
	healthy "http_server under wrk"
	kill "$WRK" 2>/dev/null
	kill -9 "$PID"
else
	fail "wrk not installed (make test installs it)"
fi

# ---- -- CMD: started, diagnosed, stopped ----------------------------------------------------
"$AI" diagnose -d 1 -i 0.25 --json -- "$BUGS" deadlock >"$TMP/d.out" 2>"$TMP/d.err"
assert_eq "-- CMD exit status" 1 $?
sed -n '/^{/,$p' "$TMP/d.out" >"$TMP/d.json" # the command's own "ready" line comes first
assert_eq "-- CMD first finding" deadlock "$(json_eval "$TMP/d.json" 'd["findings"][0]["kind"]')"
pgrep -f "$BUGS deadlock" >/dev/null && fail "the started command is still running"
ok "-- CMD stopped after the window"

# ---- bad input: one line, exit 2 ----------------------------------------------------------
bad() { # expected-substring args...
	local want=$1 rc
	shift
	"$AI" diagnose "$@" >"$TMP/e.out" 2>"$TMP/e.err"
	rc=$?
	assert_eq "diagnose $* exit status" 2 "$rc"
	assert_eq "diagnose $* error lines" 1 "$(wc -l <"$TMP/e.err")"
	grep -q "^async-inspect: .*$want" "$TMP/e.err" || fail "diagnose $*: '$(cat "$TMP/e.err")' lacks '$want'"
}
bad "nothing to diagnose"
bad "only one of" -p 1 -- true
bad "-d" -p 1 -d 0
bad "-d" -p 1 -d abc
bad "-i" -p 1 -i 0.001
bad "" -p 999999999
bad "" -p "$$"
bad "true" -- true
bad "/no/such/cmd" -- /no/such/cmd
"$AI" diagnose --help | grep -q "EXAMPLES" || fail "--help has no EXAMPLES"
ok "bad input: one line each, exit 2"
