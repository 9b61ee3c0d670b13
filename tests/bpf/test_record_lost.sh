#!/bin/bash
# Events lost to a full ring buffer (or polls overwritten in the workload's poll ring) are
# counted, never silently dropped: the recorder is stopped (SIGSTOP) while a known
# workload fills a 1 MiB ring; afterwards recorded + lost
# is exactly the workload's event count, the loss is printed with its per-CPU split, and
# the file carries it (report warns, JSON lost.ringbuf_drops).
source "$(dirname "$0")/lib.sh"
require_bpf

tasks=20000 # 7 events each: spawn, 3 polls, 2 waits, done
"$AI" record -b 1 -o "$TMP/l.rec" -- "$OUT/tests/trace_fake" --tasks $tasks --io-ms 300 \
	>/dev/null 2>"$TMP/err" &
rec=$!
PIDS+=("$rec")
# stop the recorder once the workload runs (exec'd after the probes are attached: loading
# them takes a while on a loaded machine)
for _ in $(seq 200); do pgrep -P "$rec" -x trace_fake >/dev/null && break; sleep 0.05; done
sleep 0.1
kill -STOP "$rec"
sleep 2 # the first waves (~80000 events) overflow the ring meanwhile
kill -CONT "$rec"
wait "$rec"
assert_eq "record exit status" 0 "$?"
recorded=$(sed -n 's|^Recorded \([0-9]*\) events.*|\1|p' "$TMP/err")
lost=$(sed -n 's|.*bytes/event), \([0-9]*\) lost.$|\1|p' "$TMP/err")
[ -n "$recorded" ] && [ -n "$lost" ] || fail "no summary: $(cat "$TMP/err")"
[ "$lost" -gt 0 ] || fail "nothing lost with a stopped reader and a 1 MiB ring"
assert_eq "recorded + lost" $((7 * tasks)) $((recorded + lost))
grep -q "^async-inspect: warning: $lost events lost, [0-9]* of them polls overwritten in a poll ring (per CPU: cpu[0-9]*=[0-9]*" \
	"$TMP/err" || fail "no per-CPU loss warning: $(cat "$TMP/err")"

"$AI" report "$TMP/l.rec" --json >"$TMP/l.json" 2>"$TMP/rerr"
assert_eq "report exit status (lost events do not make it partial)" 0 "$?"
assert_eq "lost.ringbuf_drops" "$lost" "$(json_eval "$TMP/l.json" 'd["lost"]["ringbuf_drops"]')"
grep -q "^async-inspect: warning: $lost events were lost while recording" "$TMP/rerr" ||
	fail "report did not warn: $(cat "$TMP/rerr")"
