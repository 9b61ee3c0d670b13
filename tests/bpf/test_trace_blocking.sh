#!/bin/bash
# A poll that blocks its worker (examples/blocking.c: checksum_poll sleeps 50 ms per
# poll) raises the long-poll warning naming the function and the await point; the
# fixed version (spawn_blocking) and a higher --long-poll threshold raise none. The
# negative checks use --long-poll 40 so that a poll preempted by other load on the
# machine does not count.
source "$(dirname "$0")/lib.sh"
require_bpf

"$AI" trace --long-poll 40 --json -o "$TMP/b.json" -- "$EX/blocking" --rounds 4 --block-ms 50 >/dev/null
assert_eq "exit status" 0 "$?"
assert_eq "long-poll warnings for checksum" 1 \
	"$(json_eval "$TMP/b.json" 'len([w for w in d["warnings"] if w["kind"] == "long-poll" and w["function"] == "checksum"])')"
assert_eq "no long-poll warning for the tickers" 0 \
	"$(json_eval "$TMP/b.json" 'len([w for w in d["warnings"] if w["kind"] == "long-poll" and w["function"] != "checksum"])')"
detail=$(json_eval "$TMP/b.json" '[w["detail"] for w in d["warnings"] if w["kind"] == "long-poll"][0]')
case $detail in
*checksum*50.*threshold\ 40ms*examples/blocking.c:[0-9]*compress_blocking\(\)\ at\ examples/blocking.c:[0-9]*) ok "detail names the function and await point: $detail" ;;
*) fail "long-poll detail without function and location: $detail" ;;
esac
assert_eq "checksum's longest poll >= 50 ms" True \
	"$(json_eval "$TMP/b.json" '[t["max_poll_ns"] for t in d["tasks"] if t["function"] == "checksum"][0] >= 50000000')"

# text form lists it under Warnings
"$AI" trace -- "$EX/blocking" --rounds 2 --block-ms 30 >"$TMP/b.txt" 2>&1
grep -q "^  long-poll: task [0-9]* (checksum) blocked the executor" "$TMP/b.txt" ||
	fail "no long-poll line in the text summary: $(tail -n 5 "$TMP/b.txt")"
ok "text summary shows the warning"

# threshold above the poll length: no warning
"$AI" trace --long-poll 200 --json -o "$TMP/b2.json" -- "$EX/blocking" --rounds 2 --block-ms 30 >/dev/null
assert_eq "--long-poll 200: long-poll warnings" 0 \
	"$(json_eval "$TMP/b2.json" 'len([w for w in d["warnings"] if w["kind"] == "long-poll"])')"
# the fix: the same work on the blocking pool
"$AI" trace --long-poll 40 --json -o "$TMP/b3.json" -- "$EX/blocking" --rounds 4 --block-ms 50 --fixed >/dev/null
assert_eq "--fixed: long-poll warnings" 0 \
	"$(json_eval "$TMP/b3.json" 'len([w for w in d["warnings"] if w["kind"] == "long-poll"])')"

# checksum yields after every blocking call: it wakes itself on (almost) every poll
"$AI" trace --json -o "$TMP/b4.json" -- "$EX/blocking" --rounds 12 --block-ms 1 >/dev/null
assert_eq "self-wake warning for checksum" 1 \
	"$(json_eval "$TMP/b4.json" 'len([w for w in d["warnings"] if w["kind"] == "self-wake" and w["function"] == "checksum"])')"
assert_eq "checksum woke itself on 12 of 13 polls" "12 13" \
	"$(json_eval "$TMP/b4.json" '"%d %d" % [(t["wakes_self"], t["polls"]) for t in d["tasks"] if t["function"] == "checksum"][0]')"
assert_eq "no self-wake warning for the tickers (woken by their timers)" 0 \
	"$(json_eval "$TMP/b4.json" 'len([w for w in d["warnings"] if w["kind"] == "self-wake" and w["function"] != "checksum"])')"
