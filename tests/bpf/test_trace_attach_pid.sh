#!/bin/bash
# trace -p PID on a process started before the tracer (fetch_user --forever): names are
# resolved, every task seen from its spawn is polled exactly 3 times, and the counts grow
# by whole rounds; interval tables are printed; -d ends it and the target keeps running.
source "$(dirname "$0")/lib.sh"
require_bpf

users=20
bg "$EX/fetch_user" --forever --users $users --io-ms 5
target=$BG_PID
sleep 0.5
"$AI" trace -p "$target" -d 2 -i 0.5 --json -o "$TMP/p.json" 2>"$TMP/tables"
assert_eq "trace -p exit status" 0 "$?"
kill -0 "$target" 2>/dev/null || fail "the traced process died"

# every async function on the await chains: the roots (fetch_user, the main task's) and
# the nested fetch_profile and fetch_posts, marked as not roots
assert_eq "functions named (roots fetch_user and main, nested fetch_posts and fetch_profile)" \
	"fetch_posts:False fetch_profile:False fetch_user:True main:True 0" \
	"$(json_eval "$TMP/p.json" '" ".join(sorted("%s:%s" % (f["name"], f["root"]) for f in d["functions"])) + " %d" % len([f for f in d["functions"] if f["name"].startswith("0x")])')"
assert_eq "await points named with file:line" 2 \
	"$(json_eval "$TMP/p.json" 'len([a for a in d["await_points"] if a["function"] == "fetch_user" and a["location"].startswith("examples/fetch_user.c:")])')"
assert_eq "process" "$target fetch_user" \
	"$(json_eval "$TMP/p.json" '"%d %s" % (d["pid"], d["processes"][0]["comm"])')"
# Tasks seen from spawn to completion: exactly 3 polls each.
assert_eq "fully seen fetch_user tasks with polls != 3" 0 \
	"$(json_eval "$TMP/p.json" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["spawn_ns"] and t["done"] and t["polls"] != 3])')"
# Rounds: task ids 2.. come in rounds of $users (id 1 is main). Every round strictly
# between the first and the last one seen is complete: $users tasks, 3 polls each.
inner=$(json_eval "$TMP/p.json" "(lambda c: sorted(set(c[k] for k in c if min(c) < k < max(c))))(__import__('collections').Counter((t['id'] - 2) // $users for t in d['tasks'] if t['function'] == 'fetch_user' and t['spawn_ns'] and t['done'] and t['polls'] == 3))")
assert_eq "complete rounds have $users tasks each" "[$users]" "$inner"
assert_eq "nothing evicted" 0 "$(json_eval "$TMP/p.json" 'd["lost"]["evicted_tasks"]')"
assert_eq "at least 3 complete rounds" True \
	"$(json_eval "$TMP/p.json" "len(set((t['id'] - 2) // $users for t in d['tasks'] if t['function'] == 'fetch_user' and t['spawn_ns'])) >= 5")"
# The function total grows by whole rounds: every poll of fetch_user is accounted to
# a task; tasks seen from their spawn x 3 plus the tails of the first round seen.
assert_eq "function polls == sum of task polls" True \
	"$(json_eval "$TMP/p.json" 'sum(f["polls"] for f in d["functions"] if f["name"] == "fetch_user") == sum(t["polls"] for t in d["tasks"] if t["function"] == "fetch_user")')"
# the main task (id 1) was spawned before the tracer: seen, but not its spawn
assert_eq "main task seen without its spawn" "0" \
	"$(json_eval "$TMP/p.json" '[t["spawn_ns"] for t in d["tasks"] if t["id"] == 1][0]')"

# interval tables (on stderr with --json): 3 or 4 of them, each naming fetch_user
n=$(grep -c "^FUNCTION " "$TMP/tables")
[ "$n" -ge 3 ] && [ "$n" -le 4 ] || fail "expected 3-4 interval tables, got $n: $(cat "$TMP/tables")"
ok "$n interval tables"
grep -q "^fetch_user  *[0-9]" "$TMP/tables" || fail "interval table without fetch_user"
# the tables count what happened in their interval: fetch_user polled in each, and
# together they account for no more polls than the final total
sum=0
for p in $(awk '$1 == "fetch_user" && $2 ~ /^[0-9]+$/ {print $3}' "$TMP/tables"); do
	[ "$p" -gt 0 ] || fail "an interval table without fetch_user polls"
	sum=$((sum + p))
done
total=$(json_eval "$TMP/p.json" 'sum(f["polls"] for f in d["functions"] if f["name"] == "fetch_user")')
[ "$sum" -gt 0 ] && [ "$sum" -le "$total" ] || fail "interval polls $sum vs total $total"
ok "interval tables: $sum polls of fetch_user, total $total"

# the traced process exiting ends the trace
kill -TERM "$target"
bg "$EX/fetch_user" --forever --users 10 --io-ms 1
target=$BG_PID
sleep 0.3
( sleep 1; kill -TERM "$target" ) &
timeout 20 "$AI" trace -p "$target" -o "$TMP/end.txt"
assert_eq "trace ends with the traced process, status" 0 "$?"
grep -q "^fetch_user " "$TMP/end.txt" || fail "no summary after the process exited: $(cat "$TMP/end.txt")"
ok "summary printed after the traced process exited"
