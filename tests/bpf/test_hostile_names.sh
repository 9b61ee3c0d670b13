#!/bin/bash
# Names a traced program controls (task names, await point file names) reach the
# operator's terminal with their control characters escaped, in every text output:
# tasks, graph, deadlock, diagnose, top, trace, profile, report. JSON keeps them exact.
source "$(dirname "$0")/lib.sh"
require_bpf

H=$OUT/tests/hostile_names
bg "$H" --seconds 60 >"$TMP/ready"
pid=$BG_PID
for _ in $(seq 50); do grep -q ready "$TMP/ready" && break; sleep 0.1; done
grep -q ready "$TMP/ready" || fail "hostile_names did not start"
sleep 0.3

# clean OUTPUT WHAT: no raw control byte besides newline and tab, the escaped name there
clean() {
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$1"; then
		fail "$2: raw control characters reach the terminal: $(LC_ALL=C grep -n $'[\x01-\x08\x0b-\x1f\x7f]' "$1" | cat -A | head -3)"
	fi
	grep -qF "${3:-\x1b[31mevil\n}" "$1" || fail "$2: the escaped name is missing: $(head -20 "$1")"
	ok "$2: escaped"
}

"$AI" tasks -p "$pid" >"$TMP/tasks.txt" || fail "tasks exited $?"
clean "$TMP/tasks.txt" tasks
"$AI" graph -p "$pid" >"$TMP/graph.txt" || fail "graph exited $?"
clean "$TMP/graph.txt" graph
"$AI" graph -p "$pid" --dot >"$TMP/graph.dot" || fail "graph --dot exited $?"
clean "$TMP/graph.dot" "graph --dot" "evil"
"$AI" deadlock -p "$pid" -v >"$TMP/deadlock.txt" 2>&1
clean "$TMP/deadlock.txt" deadlock "No deadlock"
"$AI" diagnose -p "$pid" -d 0.5 >"$TMP/diagnose.txt" 2>&1
clean "$TMP/diagnose.txt" diagnose "hostile_names"
"$AI" top -p "$pid" -b -n 1 -i 0.2 >"$TMP/top.txt" || fail "top exited $?"
clean "$TMP/top.txt" top "\x1b]0;pwned\x07"
"$AI" trace -p "$pid" -d 1 >"$TMP/trace.txt" || fail "trace exited $?"
clean "$TMP/trace.txt" trace "\x1b[2J\x1b[31mevil\nfile.c:"
"$AI" profile -p "$pid" -d 1 >"$TMP/profile.txt" 2>&1 || fail "profile exited $?"
clean "$TMP/profile.txt" profile "(hostile_names)"
"$AI" record -p "$pid" -d 1 -o "$TMP/h.rec" 2>/dev/null || fail "record exited $?"
"$AI" report "$TMP/h.rec" >"$TMP/report.txt" || fail "report exited $?"
clean "$TMP/report.txt" report "\x1b[2J\x1b[31mevil\nfile.c:"
"$AI" report "$TMP/h.rec" --timeline "$TMP/h.json" >/dev/null 2>&1 || fail "report --timeline"

# JSON: the exact strings
name=$'\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\ntask #0 fake'
"$AI" tasks -p "$pid" --json >"$TMP/tasks.json" || fail "tasks --json exited $?"
assert_eq "tasks --json: the exact task name" True \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(any(t["name"]==sys.argv[2] for t in d["tasks"]))' "$TMP/tasks.json" "$name")"
"$AI" trace -p "$pid" -d 1 --json >"$TMP/trace.json" || fail "trace --json exited $?"
python3 - "$TMP/trace.json" <<'PY' || fail "trace --json does not hold the exact file name"
import json, sys
d = json.load(open(sys.argv[1]))
want = "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\nfile.c"
def walk(x):
    if isinstance(x, dict):
        return any(walk(v) for v in x.values())
    if isinstance(x, list):
        return any(walk(v) for v in x)
    return isinstance(x, str) and x.startswith(want)
sys.exit(0 if walk(d) else 1)
PY
ok "trace --json: the exact file name"
