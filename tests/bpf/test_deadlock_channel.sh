#!/bin/bash
# async-inspect deadlock on channels, through the struct async_chan_abi that starts every
# channel (sender count, receiver alive, queued length, descriptor): a receive that no
# sender can fill any more and a send whose receiver is gone are reported as STUCK (exit
# 1) with the channel named; a healthy pipeline is not (exit 0). The workload is
# tests/bpf/dead_channel.c (a lost wake-up: libasync wakes every waiter on close).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "not root: reading another process' memory needs root"
[ -x "$AI" ] || fail "$AI not built"
W=$OUT/tests/dead_channel
[ -x "$W" ] || fail "$W not built"
src=$ROOT/tests/bpf/dead_channel.c
line_jobs=$(grep -n 'async_chan_new(4, sizeof(int), &jobs)' "$src" | cut -d: -f1)
line_reports=$(grep -n 'async_chan_new(1, sizeof(int), &reports)' "$src" | cut -d: -f1)
line_events=$(grep -n 'async_chan_new(1, sizeof(int), &events)' "$src" | cut -d: -f1)
[ -n "$line_jobs" ] && [ -n "$line_reports" ] && [ -n "$line_events" ] ||
	fail "channel declarations not found in $src"

# Starts the workload with "$@" and waits for its "ready" line; sets PID.
start() {
	bg "$W" "$@" >"$TMP/w.out"
	PID=$BG_PID
	for _ in $(seq 100); do
		grep -q ready "$TMP/w.out" && return 0
		sleep 0.05
	done
	fail "dead_channel $* never got ready"
}

stop() { kill -9 "$PID" && wait "$PID" 2>/dev/null; }

# ---- a receive no sender can fill -------------------------------------------------------
start
"$AI" deadlock -p "$PID" -T 60 >"$TMP/r0.txt"
assert_eq "pending < threshold: not stuck yet" 0 $?
sleep 0.6
"$AI" deadlock -p "$PID" --threshold 0.5 >"$TMP/r.txt"
assert_eq "dead receive: exit status" 1 $?
grep -q "^STUCK: task #1 pending for .*: its channel has no sender left and nothing queued: nothing will wake it$" \
	"$TMP/r.txt" || fail "no STUCK line for the receive: $(cat "$TMP/r.txt")"
grep -q "Waits on: channel &jobs (tests/bpf/dead_channel.c:$line_jobs) (receive: waits for a sender; 0 senders, 0 queued)" \
	"$TMP/r.txt" || fail "channel not named with its state: $(cat "$TMP/r.txt")"
assert_eq "one STUCK line" 1 "$(grep -c '^STUCK' "$TMP/r.txt")"
"$AI" deadlock -p "$PID" --threshold 0.5 --json >"$TMP/r.json"
assert_eq "dead receive: json exit status" 1 $?
assert_eq "stuck tasks" dispatcher "$(json_eval "$TMP/r.json" '" ".join(s["task"]["name"] for s in d["stuck"])')"
assert_eq "no cycle" 0 "$(json_eval "$TMP/r.json" 'len(d["deadlocks"])')"
assert_eq "wait kind, senders, queued, receiver" "chan-recv 0 0 True" \
	"$(json_eval "$TMP/r.json" '" ".join(str(d["stuck"][0]["task"]["wait"][k]) for k in ("kind", "senders", "queued", "receiver"))')"
assert_eq "channel" "&jobs@tests/bpf/dead_channel.c:$line_jobs" \
	"$(json_eval "$TMP/r.json" 'd["stuck"][0]["task"]["wait"]["object_name"] + "@" + d["stuck"][0]["task"]["wait"]["object_location"]')"
stop

# ---- a send whose receiver is gone ------------------------------------------------------
start --send
sleep 0.6
"$AI" deadlock -p "$PID" --threshold 0.5 --json >"$TMP/s.json"
assert_eq "dead send: exit status" 1 $?
assert_eq "stuck tasks" reporter "$(json_eval "$TMP/s.json" '" ".join(s["task"]["name"] for s in d["stuck"])')"
assert_eq "reason" "its channel's receiver is gone: nothing will make room" \
	"$(json_eval "$TMP/s.json" 'd["stuck"][0]["reason"]')"
assert_eq "wait kind, senders, receiver" "chan-send 1 False" \
	"$(json_eval "$TMP/s.json" '" ".join(str(d["stuck"][0]["task"]["wait"][k]) for k in ("kind", "senders", "receiver"))')"
assert_eq "channel" "&reports@tests/bpf/dead_channel.c:$line_reports" \
	"$(json_eval "$TMP/s.json" 'd["stuck"][0]["task"]["wait"]["object_name"] + "@" + d["stuck"][0]["task"]["wait"]["object_location"]')"
stop

# ---- healthy: a receive with a live sender, a drained closed channel ----------------------
start --healthy
sleep 0.8 # the consumer now waits >= 0.5 s for the next item (one every 2 s)
"$AI" deadlock -p "$PID" --threshold 0.5 >"$TMP/h.txt"
assert_eq "healthy: exit status" 0 $?
grep -q "^No deadlock in process $PID: 2 live tasks, no circular wait.$" "$TMP/h.txt" ||
	fail "no 'No deadlock' line: $(cat "$TMP/h.txt")"
"$AI" deadlock -p "$PID" --threshold 0.5 --json >"$TMP/h.json"
assert_eq "healthy: json exit status" 0 $?
assert_eq "healthy: stuck" 0 "$(json_eval "$TMP/h.json" 'len(d["stuck"])')"
# the consumer's wait is left unjudged (a sender is alive), and said so
assert_eq "healthy: unchecked waits" 1 "$(json_eval "$TMP/h.json" 'd["unchecked_pending"]')"
"$AI" tasks -p "$PID" --json >"$TMP/ht.json" || fail "tasks -p failed"
assert_eq "consumer's channel: senders, queued, receiver" "1 0 True" \
	"$(json_eval "$TMP/ht.json" '" ".join(str(t["wait"][k]) for t in d["tasks"] if t["name"] == "consumer" for k in ("senders", "queued", "receiver"))')"
stop

# ---- the workload's own usage error -------------------------------------------------------
"$W" --bogus >/dev/null 2>&1
assert_eq "dead_channel --bogus exit status" 2 $?
echo "PASS"
