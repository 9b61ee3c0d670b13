#!/bin/bash
# trace --system: two processes using libasync.so at once, one started after the tracer,
# are both traced and kept apart (per-PID rows, per-PID names).
source "$(dirname "$0")/lib.sh"
require_bpf

bg "$EX/fetch_user" --forever --users 10 --io-ms 5
a=$BG_PID
sleep 0.3
"$AI" trace --system --max-tasks 1000000 -d 2.5 --json -o "$TMP/s.json" 2>"$TMP/err" &
tracer=$!
PIDS+=("$tracer")
sleep 1
# started after the tracer: attached through the library, by inode, for every process
bg "$EX/fetch_user" --forever --users 30 --io-ms 5
b=$BG_PID
wait "$tracer"
rc=$?
[ $rc -eq 0 ] || fail "trace --system exit status $rc: $(cat "$TMP/err")"
ok "trace --system exit status 0"
kill -0 "$a" && kill -0 "$b" || fail "a traced process died"

assert_eq "system-wide document" "True -1" "$(json_eval "$TMP/s.json" '"%s %d" % (d["system"], d["pid"])')"
assert_eq "both processes seen" True \
	"$(json_eval "$TMP/s.json" "set([$a, $b]) <= set(p['pid'] for p in d['processes'])")"
for p in "$a:10" "$b:30"; do
	pid=${p%:*} users=${p#*:}
	assert_eq "pid $pid: fetch_user function row" 1 \
		"$(json_eval "$TMP/s.json" "len([f for f in d['functions'] if f['pid'] == $pid and f['name'] == 'fetch_user'])")"
	assert_eq "pid $pid: await points named" 2 \
		"$(json_eval "$TMP/s.json" "len([x for x in d['await_points'] if x['pid'] == $pid and x['function'] == 'fetch_user' and x['location'].startswith('examples/fetch_user.c:')])")"
	# each process's complete rounds have its own --users count: nothing mixed in
	assert_eq "pid $pid: complete rounds of $users tasks" "[$users]" \
		"$(json_eval "$TMP/s.json" "(lambda c: sorted(set(c[k] for k in c if min(c) < k < max(c))))(__import__('collections').Counter((t['id'] - 2) // $users for t in d['tasks'] if t['pid'] == $pid and t['function'] == 'fetch_user' and t['spawn_ns'] and t['done'] and t['polls'] == 3))")"
	assert_eq "pid $pid: polls of its function == polls of its tasks" True \
		"$(json_eval "$TMP/s.json" "sum(f['polls'] for f in d['functions'] if f['pid'] == $pid and f['name'] == 'fetch_user') == sum(t['polls'] for t in d['tasks'] if t['pid'] == $pid and t['function'] == 'fetch_user') > 0")"
done
assert_eq "nothing evicted" 0 "$(json_eval "$TMP/s.json" 'd["lost"]["evicted_tasks"]')"

# the text form labels rows with their PID
"$AI" trace --system -d 1 >"$TMP/s.txt" 2>&1
assert_eq "text --system exit status" 0 "$?"
grep -q "^PID  *FUNCTION" "$TMP/s.txt" || fail "no PID column: $(head -5 "$TMP/s.txt")"
grep -q "^$a  *fetch_user" "$TMP/s.txt" || fail "no row for pid $a"
grep -q "^$b  *fetch_user" "$TMP/s.txt" || fail "no row for pid $b"
ok "text rows carry their PID"
