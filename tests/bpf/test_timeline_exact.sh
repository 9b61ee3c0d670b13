#!/bin/bash
# report --timeline: times come from integer nanoseconds, printed as microseconds with
# three decimals, so read exactly no slice overlaps its successor on its track (with
# %.15g of a float difference, speedscope counted thousands of overlaps).
source "$(dirname "$0")/lib.sh"
require_bpf

"$AI" record -o "$TMP/r.rec" -- "$OUT/tests/trace_fake" --tasks 2000 --io-ms 5 --rounds 3 \
	>/dev/null 2>&1
assert_eq "record exit" 0 "$?"
"$AI" report "$TMP/r.rec" --timeline "$TMP/t.json" >/dev/null 2>&1
assert_eq "report --timeline exit" 0 "$?"
python3 "$ROOT/tests/bpf/check_timeline_exact.py" "$TMP/t.json" || fail "inexact timeline"
python3 "$ROOT/tests/bpf/check_trace_events.py" "$TMP/t.json" --polls 18000 >/dev/null ||
	fail "invalid timeline"
ok "18000 polls: fixed precision, no overlap"
