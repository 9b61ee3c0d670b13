#!/bin/bash
# task_spawn's fn_desc for ASYNC_BEGIN futures (whose descriptor is set at their first
# poll): with the poll probe traced, the runtime remembers which FUNCTION descriptor each
# poll function's polls reported and passes it at later spawns. tests/bpf/spawn_fn.c
# spawns two waves of 10 `leaf` tasks: the first wave (no leaf polled yet) gets 0, the
# second leaf's descriptor; without the poll probe, both waves get 0. Uses bpftrace.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_bpf
command -v bpftrace >/dev/null || skip "bpftrace not installed"
W=$OUT/tests/spawn_fn
[ -x "$W" ] || fail "$W not built"

# Runs the workload under bpftrace printing "S <task id> <fn_desc>" per task_spawn;
# with "poll", the poll probe is attached too.
run() {
	local prog="usdt:$W:libasync:task_spawn { printf(\"S %d 0x%lx\\n\", arg0, arg2); }"
	[ "${1:-}" = poll ] && prog="$prog usdt:$W:libasync:poll { @polls = count(); }"
	timeout 60 bpftrace -e "$prog" -c "$W" >"$TMP/bt.out" 2>"$TMP/bt.err" ||
		fail "bpftrace failed: $(tail -n 3 "$TMP/bt.err")"
}
fn_of() { awk -v id="$1" '$1 == "S" && $2 == id { print $3 }' "$TMP/bt.out"; }

run poll
desc=$(sed -n 's/^leaf_desc \(0x[0-9a-f]*\)$/\1/p' "$TMP/bt.out")
[ -n "$desc" ] && [ "$desc" != 0x0 ] || fail "no leaf_desc line: $(cat "$TMP/bt.out")"
assert_eq "task_spawn hits" 21 "$(grep -c '^S ' "$TMP/bt.out")"
assert_eq "waves (spawned before any poll): fn_desc" 0x0 "$(fn_of 1)"
for id in $(seq 2 11); do
	[ "$(fn_of "$id")" = 0x0 ] || fail "first wave task $id: fn_desc $(fn_of "$id"), expected 0x0"
done
ok "first wave (leaf not polled yet): fn_desc 0 x10"
for id in $(seq 12 21); do
	[ "$(fn_of "$id")" = "$desc" ] || fail "second wave task $id: fn_desc $(fn_of "$id"), expected $desc"
done
ok "second wave: fn_desc = leaf's descriptor $desc x10"
grep -q '^@polls: 23$' "$TMP/bt.out" || fail "expected 23 polls: $(grep '@polls' "$TMP/bt.out")"

run
assert_eq "without the poll probe: task_spawn hits" 21 "$(grep -c '^S ' "$TMP/bt.out")"
assert_eq "without the poll probe: fn_desc 0 for every spawn" 21 "$(grep -c '^S [0-9]* 0x0$' "$TMP/bt.out")"
echo PASS
