#!/bin/bash
# async-inspect graph: spawn tree, wake edges with counts (BPF over -d), wait-for edges,
# the three-task cycle marked, DOT that Graphviz renders, JSON, errors.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_bpf
command -v dot >/dev/null || skip "graphviz (dot) not installed: apt-get install graphviz"

# ---- fetch_user --forever: every round main spawns 4 fetch_user tasks and joins them ----
bg "$EX/fetch_user" --forever --users 4 --io-ms 50
fu=$BG_PID
sleep 0.3
"$AI" graph -p "$fu" -d 1 --json >"$TMP/g.json" || fail "graph --json exited $?"
main=$(json_eval "$TMP/g.json" '[t["id"] for t in d["tasks"] if t["name"]=="main"][0]')
# 1 s of 100 ms rounds (fewer on a loaded machine): whole rounds of 4 spawns, all by main
spawns=$(json_eval "$TMP/g.json" 'sum(1 for e in d["spawn_edges"] if e["parent"]=='"$main"')')
[ "$spawns" -ge 4 ] && [ $((spawns % 4)) -eq 0 ] || fail "spawn edges from main: $spawns, expected whole rounds of 4"
assert_eq "fetch_user tasks spawned in the window" "$spawns" \
	"$(json_eval "$TMP/g.json" 'sum(1 for t in d["tasks"] if t["spawned_in_window"] and t["function"]=="fetch_user")')"
ok "spawn edges from main: $spawns"
assert_eq "spawn edges from others" 0 "$(json_eval "$TMP/g.json" 'sum(1 for e in d["spawn_edges"] if e["parent"]!='"$main"')')"
# each fetch_user spawned and ended in the window was scheduled 3 times: spawn, 2 timers
assert_eq "wakes of a whole fetch_user task (spawn + 2 timers)" 3 "$(json_eval "$TMP/g.json" \
	'" ".join(map(str, sorted(set(sum(e["count"] for e in d["wake_edges"] if e["woken"]==t["id"]) for t in d["tasks"] if t["spawned_in_window"] and t["ended_in_window"]))))')"
[ "$(json_eval "$TMP/g.json" 'sum(e["count"] for e in d["wake_edges"])')" -ge "$spawns" ] || fail "too few wakes"
assert_eq "no cycles" 0 "$(json_eval "$TMP/g.json" 'len(d["cycles"])')"
assert_eq "main waits on a JoinHandle" join "$(json_eval "$TMP/g.json" '[e["kind"] for e in d["wait_edges"] if e["from"]=='"$main"'][0]')"
ok "wake edges with counts"

"$AI" graph -p "$fu" -d 0.5 >"$TMP/g.txt" || fail "graph text exited $?"
grep -q "^Spawn tree:" "$TMP/g.txt" || fail "no spawn tree"
main_fn=$(json_eval "$TMP/g.json" '[t["function"] for t in d["tasks"] if t["name"]=="main"][0]')
grep -q "^  #$main $main_fn" "$TMP/g.txt" || fail "main not a root of the tree"
grep -q -- "-- #[0-9]* fetch_user" "$TMP/g.txt" || fail "no fetch_user child"
grep -q "^Wakes over 500ms" "$TMP/g.txt" || fail "no wakes section"
ok "text output"
kill -9 "$fu"

# ---- deadlock --three: the cycle is marked and the DOT renders ----------------------------
bg "$EX/deadlock" --three >"$TMP/dl.out"
dl=$BG_PID
for _ in $(seq 100); do grep -q ready "$TMP/dl.out" && break; sleep 0.05; done
"$AI" graph -p "$dl" -d 0.3 --dot >"$TMP/g.dot" || fail "graph --dot exited $?"
dot -Tsvg "$TMP/g.dot" >"$TMP/g.svg" || fail "dot -Tsvg failed on: $(cat "$TMP/g.dot")"
for name in settle reconcile post_entry '&amp;bank.ledger'; do
	grep -q "$name" "$TMP/g.svg" || fail "$name not in the SVG"
done
assert_eq "cycle edges drawn bold" 4 "$(grep -c 'penwidth=3' "$TMP/g.dot")"
ok "DOT renders with dot -Tsvg"
"$AI" graph -p "$dl" -d 0 --json >"$TMP/d.json" || fail "graph -d 0 exited $?"
assert_eq "cycle found" 3 "$(json_eval "$TMP/d.json" 'len(d["cycles"][0])')"
assert_eq "-d 0 watches nothing" 0 "$(json_eval "$TMP/d.json" 'd["duration_ns"]')"
kill -9 "$dl"

# ---- errors --------------------------------------------------------------------------
"$AI" graph -p 1 --dot --json 2>"$TMP/e"
assert_eq "--dot --json exit" 2 $?
grep -q "exclude each other" "$TMP/e" || fail "no message for --dot --json"
"$AI" graph 2>"$TMP/e"
assert_eq "no -p exit" 2 $?
"$AI" graph -p 999999999 2>"$TMP/e"
assert_eq "no such pid exit" 1 $?
[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "not one line: $(cat "$TMP/e")"
"$AI" graph -p $$ -d 0 2>"$TMP/e"
assert_eq "not libasync exit" 1 $?
grep -q "not a libasync program" "$TMP/e" || fail "wrong message: $(cat "$TMP/e")"
"$AI" graph --help | grep -q EXAMPLES || fail "--help has no EXAMPLES"

# ---- the target exits during -d: noticed at once, what the window saw is printed --------
bg "$EX/fetch_user" --users 3 --io-ms 1000 >/dev/null 2>&1
fu=$BG_PID
for _ in $(seq 50); do "$AI" tasks -p "$fu" >/dev/null 2>&1 && break; sleep 0.1; done
t0=$(date +%s%N)
"$AI" graph -p "$fu" -d 30 >"$TMP/ex.txt" 2>"$TMP/ex.err"
assert_eq "graph -d on a target that exits: exit" 0 $?
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 15000 ] || fail "graph waited ${took} ms for a target that exited after ~2 s"
grep -q "^PID $fu exited while watched: no live tasks, [0-9]* more seen only while watching" \
	"$TMP/ex.txt" || fail "no exit header: $(cat "$TMP/ex.txt" "$TMP/ex.err")"
grep -q "#[0-9]* fetch_user  \[ended" "$TMP/ex.txt" || fail "the window's tasks are missing: $(cat "$TMP/ex.txt")"
grep -q "fetch_user -> #1 main: 1" "$TMP/ex.txt" || fail "the window's wakes are missing: $(cat "$TMP/ex.txt")"
ok "graph -d: the target's exit noticed after ${took} ms, the window printed"
