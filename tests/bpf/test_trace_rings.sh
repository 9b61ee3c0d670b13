#!/bin/bash
# The poll-ring data path (issue 10): exact counts through the rings, for trace and for
# record + report; nested async functions and await points get rows; ring overruns are
# counted (counts + overruns = the polls the program made); attaching and detaching 20
# times leaves no phantom rows and every semaphore at 0; a three-level await chain is
# attributed at every level and in --folded-wait; busy + scheduling delay + idle add up
# to a task's lifetime, also for a self-waking and a yielding task.
source "$(dirname "$0")/lib.sh"
require_bpf

FIX=$OUT/tests/chain_fixture
src=$ROOT/examples/fetch_user.c

# ---- fetch_user through trace and through record + report -----------------------------
"$AI" trace --json -o "$TMP/fu.json" -- "$EX/fetch_user" --users 200 --io-ms 5 >/dev/null 2>&1 ||
	fail "trace fetch_user"
"$AI" record -o "$TMP/fu.rec" -- "$EX/fetch_user" --users 200 --io-ms 5 >/dev/null 2>&1 ||
	fail "record fetch_user"
"$AI" report --json "$TMP/fu.rec" >"$TMP/rep.json" || fail "report fetch_user"
for j in fu rep; do
	f=$TMP/$j.json
	assert_eq "$j: fetch_user tasks, polls (function row)" "200 200 600" \
		"$(json_eval "$f" '"%d %d %d" % (len([t for t in d["tasks"] if t["function"] == "fetch_user"]), sum(x["tasks"] for x in d["functions"] if x["name"] == "fetch_user"), sum(x["polls"] for x in d["functions"] if x["name"] == "fetch_user"))')"
	assert_eq "$j: nested functions have rows, not marked as roots" "fetch_posts:False:200 fetch_profile:False:200" \
		"$(json_eval "$f" '" ".join(sorted("%s:%s:%d" % (x["name"], x["root"], x["polls"]) for x in d["functions"] if x["name"] in ("fetch_profile", "fetch_posts")))')"
	for fn in fetch_profile fetch_posts; do
		line=$(grep -n "ASYNC_AWAIT(f, cx, async_sleep, &f->io)" "$src" |
			awk -F: -v n=$fn 'BEGIN { want = (n == "fetch_profile") ? 1 : 2 } NR == want { print $1 }')
		assert_eq "$j: await point $fn@async_sleep at file:line, 200 waits" "examples/fetch_user.c:$line 200" \
			"$(json_eval "$f" "' '.join('%s %d' % (a['location'], a['waits']) for a in d['await_points'] if a['function'] == '$fn' and a['callee'] == 'async_sleep')")"
		# every wait >= 5 ms: nothing in the histogram's slots below 4.19 ms (2^22 ns)
		assert_eq "$j: every wait at $fn@async_sleep >= 4.19 ms, total >= 200 x 5 ms" "0 True" \
			"$(json_eval "$f" "(lambda a: '%d %s' % (sum(a['wait_ns_log2'][:23]), a['wait_ns'] >= 200 * 5000000))([a for a in d['await_points'] if a['function'] == '$fn'][0])")"
	done
	assert_eq "$j: nothing lost" 0 "$(json_eval "$f" 'sum(d["lost"].values())')"
done

# ---- a ring too small for the load: overruns counted, counts + overruns = polls made ------
"$AI" trace --ring-slots 64 --json -o "$TMP/small.json" -- "$FIX" yield --tasks 50 --polls 4000 \
	>"$TMP/small.out" 2>&1 || fail "trace with a small ring: $(cat "$TMP/small.out")"
made=$(sed -n 's/^polls \([0-9]*\)$/\1/p' "$TMP/small.out")
assert_eq "the fixture's own poll count" 200000 "$made"
overruns=$(json_eval "$TMP/small.json" 'd["lost"]["ring_overruns"]')
[ "$overruns" -gt 0 ] || fail "a 64-slot ring under 200000 polls reported no overrun"
assert_eq "task polls + ring overruns = polls made" "$made" \
	"$(json_eval "$TMP/small.json" 'sum(t["polls"] for t in d["tasks"]) + d["lost"]["ring_overruns"]')"
"$AI" trace --ring-slots 64 -- "$FIX" yield --tasks 10 --polls 2000 >"$TMP/small.txt" 2>&1
grep -q "^Lost:.* ring_overruns=[1-9][0-9]*" "$TMP/small.txt" ||
	fail "the text summary does not report ring_overruns"
ok "text summary reports ring_overruns"

# ---- attach by PID, detach, re-attach 20 times -------------------------------------------
bg "$EX/fetch_user" --forever --users 20 --io-ms 5
target=$BG_PID
sleep 0.5
for i in $(seq 20); do
	"$AI" trace -p "$target" -d 0.1 --json -o "$TMP/a$i.json" 2>/dev/null || fail "attach $i"
done
# per round, no phantom rows: every task and function row is named, spawned tasks have
# their parent (main), a task seen from its spawn to its completion has exactly 3 polls,
# and no task's busy + idle + scheduling exceeds the traced window
bad=$(python3 - "$TMP" <<'PY'
import json, sys
bad = []
for i in range(1, 21):
    d = json.load(open("%s/a%d.json" % (sys.argv[1], i)))
    unnamed = lambda n: n in ("?", "") or n.startswith("0x")
    fu = [t for t in d["tasks"] if t["function"] == "fetch_user"]
    checks = {
        "unnamed task": [t for t in d["tasks"] if unnamed(t["function"])],
        "unnamed function": [f for f in d["functions"] if unnamed(f["name"])],
        "orphan spawn": [t for t in fu if t["spawn_ns"] and t["parent"] == 0],
        "whole task not 3 polls": [t for t in fu if t["spawn_ns"] and t["done"] and t["polls"] != 3],
        "longer than the window": [t for t in d["tasks"] if t["busy_ns"] + t["idle_ns"] + t["sched_delay_ns"] > d["duration_ns"] * 1.01 + 1000000],
    }
    bad += ["round %d: %s %s" % (i, k, v[:2]) for k, v in checks.items() if v]
print("; ".join(bad))
PY
)
[ -z "$bad" ] || fail "$bad"
ok "20 attach/detach rounds: no phantom rows, whole tasks exact, totals within the window"
# every libasync semaphore back to 0 (python reads them from /proc/PID/mem)
lib=$(awk '$6 ~ /libasync\.so/ { print $6; exit }' "/proc/$target/maps")
[ -n "$lib" ] || fail "fetch_user maps no libasync.so"
sems=$(python3 - "$target" "$lib" <<'PY'
import subprocess, sys
pid, lib = sys.argv[1], sys.argv[2]
base = None
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) >= 6 and f[5] == lib and int(f[2], 16) == 0:
        base = int(f[0].split("-")[0], 16)
        break
out = []
with open(f"/proc/{pid}/mem", "rb") as mem:
    for l in subprocess.run(["nm", lib], capture_output=True, text=True).stdout.splitlines():
        p = l.split()
        if len(p) == 3 and p[2].startswith("libasync_") and p[2].endswith("_semaphore"):
            mem.seek(base + int(p[0], 16))
            out.append("%s=%d" % (p[2], int.from_bytes(mem.read(2), "little")))
print(" ".join(sorted(out)))
PY
)
case $sems in *ring_semaphore=0*) ;; *) fail "no ring semaphore read: $sems" ;; esac
case $sems in *=[1-9]*) fail "a semaphore still set after the last detach: $sems" ;; esac
ok "semaphores back to 0: $sems"
kill "$target"

# ---- a three-level await chain whose leaf sleeps 50 ms -----------------------------------
"$AI" trace --json -o "$TMP/c.json" --folded-wait "$TMP/c.folded" -- "$FIX" chain --tasks 4 \
	--calls 2 --sleep-ms 50 >/dev/null 2>&1 || fail "trace chain_fixture chain"
for a in level1@level2 level2@level3 level3@async_sleep; do
	assert_eq "await point $a: 8 waits, >= 8 x 50 ms" "8 True" \
		"$(json_eval "$TMP/c.json" "(lambda r: '%d %s' % (r['waits'], r['wait_ns'] >= 8 * 50000000))([x for x in d['await_points'] if '%s@%s' % (x['function'], x['callee']) == '$a'][0])")"
done
for fn in level2 level3; do
	assert_eq "function $fn: nested, 8 polls, waited >= 8 x 50 ms" "False 8 True" \
		"$(json_eval "$TMP/c.json" "(lambda f: '%s %d %s' % (f['root'], f['polls'], f['idle_ns'] + f['sched_delay_ns'] >= 8 * 50000000))([x for x in d['functions'] if x['name'] == '$fn'][0])")"
done
assert_eq "folded: the chain is one stack line" 1 "$(grep -c '^level1;level2;level3;async_sleep [0-9]*$' "$TMP/c.folded")"
ns=$(sed -n 's/^level1;level2;level3;async_sleep \([0-9]*\)$/\1/p' "$TMP/c.folded")
[ "$ns" -ge $((8 * 50000000)) ] || fail "folded chain weight $ns < 8 x 50 ms"
ok "folded chain weighs $ns ns"
"$AI" record -o "$TMP/c.rec" -- "$FIX" chain --tasks 4 --calls 2 --sleep-ms 50 >/dev/null 2>&1 ||
	fail "record chain_fixture chain"
"$AI" report "$TMP/c.rec" --folded-wait "$TMP/c2.folded" >/dev/null 2>&1 || fail "report --folded-wait"
ns=$(sed -n 's/^level1;level2;level3;async_sleep \([0-9]*\)$/\1/p' "$TMP/c2.folded")
[ -n "$ns" ] && [ "$ns" -ge $((8 * 50000000)) ] || fail "report --folded-wait: $(cat "$TMP/c2.folded")"
ok "report --folded-wait: $ns ns"

# ---- time accounting: busy + scheduling delay + idle = lifetime (+-1%) ---------------------
"$AI" trace --json -o "$TMP/s.json" -- "$FIX" selfwake --polls 300 >/dev/null 2>&1 ||
	fail "trace chain_fixture selfwake"
for fn in selfwaker yielder sleeper; do
	assert_eq "$fn: 300 polls, busy + sched + idle within 1% of its lifetime" "300 True" \
		"$(json_eval "$TMP/s.json" "(lambda t: '%d %s' % (t['polls'], abs(t['busy_ns'] + t['sched_delay_ns'] + t['idle_ns'] - (t['state_since_ns'] - t['spawn_ns'])) <= 0.01 * (t['state_since_ns'] - t['spawn_ns'])))([x for x in d['tasks'] if x['function'] == '$fn'][0])")"
done
assert_eq "a self-waking and a yielding task are not idle" "0 0" \
	"$(json_eval "$TMP/s.json" '" ".join(str([t["idle_ns"] for t in d["tasks"] if t["function"] == f][0]) for f in ("selfwaker", "yielder"))')"
