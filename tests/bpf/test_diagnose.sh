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

site() { grep -n "site:$1 \?" "$src" | cut -d: -f1; }

# Starts diagnose_bugs BUG [AFTER_MS] with its output in $TMP/BUG.out; with no AFTER_MS
# waits for its "ready" line. Sets PID.
start_bug() {
	local out=$TMP/$1.out
	bg "$BUGS" "$@" >"$out" 2>&1
	PID=$BG_PID
	if [ $# -gt 1 ]; then # only until it runs the program (not the forked shell)
		for _ in $(seq 100); do
			[ "$(readlink "/proc/$PID/exe")" = "$(readlink -f "$BUGS")" ] && return 0
			sleep 0.01
		done
		fail "diagnose_bugs $* did not start"
	fi
	for _ in $(seq 100); do
		grep -q ready "$out" && return 0
		sleep 0.05
	done
	fail "diagnose_bugs $* never got ready: $(cat "$out")"
}

# check_first BUG KIND FUNCTION HOW JSON: the first finding names them and the site.
check_first() {
	local bug=$1 kind=$2 fn=$3 how=$4 json=$5 line
	line=$(site "$bug")
	[ -n "$line" ] || fail "no site:$bug in $src"
	assert_eq "$bug ($how): first finding" "$kind" "$(json_eval "$json" 'd["findings"][0]["kind"]')"
	assert_eq "$bug ($how): function" "$fn" "$(json_eval "$json" 'd["findings"][0]["function"]["function"]')"
	assert_eq "$bug ($how): await point" "tests/bpf/diagnose_bugs.c:$line" \
		"$(json_eval "$json" 'd["findings"][0]["await"]["location"]')"
}

diagnose_bug() { # BUG KIND FUNCTION TASKS (runs in a subshell of its own)
	local bug=$1 kind=$2 fn=$3 tasks=$4 rc json=$TMP/$1.json txt=$TMP/$1.txt

	# after the bug began
	start_bug "$bug"
	"$AI" diagnose -p "$PID" -d 1 -i 0.25 --json >"$json"
	rc=$?
	assert_eq "$bug (after): exit status" 1 "$rc"
	check_first "$bug" "$kind" "$fn" after "$json"
	[ "$tasks" = - ] ||
		assert_eq "$bug (after): tasks" "$tasks" "$(json_eval "$json" 'd["findings"][0]["tasks"]')"
	"$AI" diagnose -p "$PID" -d 0.5 -i 0.25 >"$txt"
	assert_eq "$bug (text): exit status" 1 $?
	grep -q "^1\. $kind: " "$txt" || fail "$bug: no '1. $kind:' line: $(cat "$txt")"
	grep -q "where: *$fn at .*(tests/bpf/diagnose_bugs.c:$(site "$bug"))" "$txt" ||
		fail "$bug: no where: line with the site: $(cat "$txt")"
	grep -q "cause: " "$txt" || fail "$bug: no cause line"
	kill -0 "$PID" || fail "$bug: the target died"
	kill -9 "$PID"

	# before it began: the window sees it start
	start_bug "$bug" 300
	"$AI" diagnose -p "$PID" -d 1.5 -i 0.25 --json >"$json"
	rc=$?
	assert_eq "$bug (before): exit status" 1 "$rc"
	check_first "$bug" "$kind" "$fn" before "$json"
	kill -9 "$PID"
}

# the five bugs side by side (each its own program and files); then each one's verdict
bug_jobs=()
for spec in "deadlock deadlock lock_both 2" "lost-wakeup lost-wakeup fetch_reply 1" \
	"orphan-lock orphan-lock wait_lock 1" "stall stall refresh 4" "leak task-leak request -"; do
	# shellcheck disable=SC2086
	(
		PIDS=()
		trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
		diagnose_bug $spec
	) >"$TMP/${spec%% *}.log" 2>&1 &
	bug_jobs+=("$!:${spec%% *}")
done
for job in "${bug_jobs[@]}"; do
	wait "${job%%:*}"
	rc=$?
	grep -v "Killed" "$TMP/${job#*:}.log"
	[ $rc -eq 0 ] || fail "diagnose of the planted ${job#*:} bug failed (above)"
done

# the stall names its root task and the chain to it
start_bug stall
"$AI" diagnose -p "$PID" -d 0.5 -i 0.25 --json >"$TMP/d.json"
assert_eq "stall root is the flusher" flusher \
	"$(json_eval "$TMP/d.json" '[t["name"] for t in d["findings"][0]["examples"] if t["id"] == d["findings"][0]["root_task"]][0]')"
kill -9 "$PID"

# ---- blocking the executor: where, the split, the system call, the kernel function -----------
after_await() { json_eval "$TMP/d.json" 'd["findings"][0]["after_await"]["file"] + ":" + str(d["findings"][0]["after_await"]["line"])'; }
for bug in blocking cpu-hog; do
	start_bug "$bug"
	"$AI" diagnose -p "$PID" -d 1 -i 0.5 --json >"$TMP/d.json"
	assert_eq "$bug: exit status" 1 $?
	assert_eq "$bug: first finding" blocking "$(json_eval "$TMP/d.json" 'd["findings"][0]["kind"]')"
	assert_eq "$bug: function" poll_db "$(json_eval "$TMP/d.json" 'd["findings"][0]["function"]["function"]')"
	assert_eq "$bug: after the await" "tests/bpf/diagnose_bugs.c:$(site "$bug")" "$(after_await)"
	kill -9 "$PID"
done
# the last JSON is the cpu-hog's: its time was on the CPU, not blocked
[ "$(json_eval "$TMP/d.json" 'd["findings"][0]["on_cpu_ns"] >= 30000000 and d["findings"][0]["blocked_ns"] < 10000000')" = True ] ||
	fail "cpu-hog split: $(json_eval "$TMP/d.json" 'd["findings"][0]')"
start_bug blocking
"$AI" diagnose -p "$PID" -d 1 -i 0.5 --json >"$TMP/d.json"
[ "$(json_eval "$TMP/d.json" 'd["findings"][0]["blocked_ns"] >= 50000000')" = True ] ||
	fail "blocking split: $(json_eval "$TMP/d.json" 'd["findings"][0]')"
assert_eq "blocking: the system call" True \
	"$(json_eval "$TMP/d.json" 'd["findings"][0]["syscall"] in ("clock_nanosleep", "nanosleep")')"
assert_eq "blocking: the kernel function" True \
	"$(json_eval "$TMP/d.json" '"nanosleep" in (d["findings"][0]["kernel_function"] or "")')"
"$AI" diagnose -p "$PID" -d 0.5 -i 0.25 >"$TMP/d.txt"
grep -q "blocked in clock_nanosleep()\|blocked in nanosleep()" "$TMP/d.txt" || fail "no system call in the text: $(cat "$TMP/d.txt")"
grep -q "where: *poll_db, after the await at tests/bpf/diagnose_bugs.c:$(site blocking)" "$TMP/d.txt" ||
	fail "no 'after the await' site in the text: $(cat "$TMP/d.txt")"
kill -9 "$PID"

# preempted, not blocking: the healthy mix and a busy loop share one CPU
bg taskset -c 0 "$BUGS" healthy >"$TMP/bug.out" 2>&1
PID=$BG_PID
bg taskset -c 0 bash -c 'while :; do :; done'
HOG=$BG_PID
sleep 0.3
for i in 1 2; do
	"$AI" diagnose -p "$PID" -d 1 -i 0.25 --json >"$TMP/d.json"
	assert_eq "preempted run $i: no blocking finding" False \
		"$(json_eval "$TMP/d.json" 'any(f["kind"] == "blocking" for f in d["findings"])')"
done
kill -9 "$PID" "$HOG"

# ---- healthy programs: nothing, 10 runs each (the four programs side by side) --------------
healthy_runs() { # NAME PID: diagnose PID ten times; writes NAME's verdict to $TMP/verdict.*
	local name=$1 pid=$2 i rc out=$TMP/h.$2
	for i in $(seq 10); do
		"$AI" diagnose -p "$pid" -d 0.5 -i 0.1 >"$out" 2>&1
		rc=$?
		if [ $rc -ne 0 ] || ! grep -q "no findings" "$out"; then
			echo "FAIL: $name, run $i: exit $rc: $(cat "$out")" >"$TMP/verdict.$pid"
			return
		fi
	done
	echo "ok: $name: no finding in 10 runs" >"$TMP/verdict.$pid"
}

start_bug healthy
mix=$PID
bg "$EX/fetch_user" --forever >/dev/null
fetch=$BG_PID

# under a CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us): 0.2 CPU is plenty for it
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/ai-diagnose-$$
	echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	mkdir "$cg" && echo "20000 100000" >"$cg/cpu.max" || fail "cannot set up a cgroup v2 CPU quota"
elif [ -d /sys/fs/cgroup/cpu ]; then
	cg=/sys/fs/cgroup/cpu/ai-diagnose-$$
	mkdir "$cg" && echo 20000 >"$cg/cpu.cfs_quota_us" || fail "cannot set up a cgroup v1 CPU quota"
else
	fail "no cpu cgroup controller to test a CPU quota with"
fi
bg "$EX/fetch_user" --forever >/dev/null
quota=$BG_PID
echo "$quota" >"$cg/cgroup.procs" || fail "cannot move fetch_user into $cg"

command -v wrk >/dev/null || fail "wrk not installed (make test installs it)"
port=$((20000 + RANDOM % 20000))
bg "$EX/http_server" --port "$port" --threads 2 >"$TMP/srv.out" 2>&1
server=$BG_PID
for _ in $(seq 50); do grep -q listening "$TMP/srv.out" && break; sleep 0.1; done
grep -q listening "$TMP/srv.out" || fail "http_server did not start: $(cat "$TMP/srv.out")"
bg wrk -t1 -c16 -d30s "http://127.0.0.1:$port/users/1"
wrk_pid=$BG_PID
sleep 0.5

healthy_runs "healthy mix (plain-thread waker, contended mutex, idle consumer, yielding cruncher)" "$mix" &
healthy_runs "fetch_user --forever" "$fetch" &
healthy_runs "fetch_user --forever under a 0.2 CPU quota" "$quota" &
healthy_runs "http_server under wrk" "$server" &
wait_runs=0
for p in "$mix" "$fetch" "$quota" "$server"; do
	while [ ! -s "$TMP/verdict.$p" ] && [ $wait_runs -lt 1200 ]; do
		sleep 0.1
		wait_runs=$((wait_runs + 1))
	done
	verdict=$(cat "$TMP/verdict.$p" 2>/dev/null)
	case $verdict in ok:*) echo "$verdict" ;; *) fail "${verdict:-healthy runs did not finish}" ;; esac
done
kill -9 "$mix" "$fetch" "$quota" "$server" "$wrk_pid" 2>/dev/null
wait "$quota" 2>/dev/null
rmdir "$cg"

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
