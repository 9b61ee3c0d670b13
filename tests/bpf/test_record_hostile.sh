#!/bin/bash
# report on damaged recordings made by the real record: truncated at every block boundary
# and at random offsets, flipped bytes, a wrong version, a huge declared length, not a
# recording at all. Each gives one clear error line (exit 1) or a partial report with a
# warning (exit 3), never a crash. (The ASan unit test test_tool_recfile does this for
# every byte offset; this runs the shipped binary on a real multi-block recording.)
source "$(dirname "$0")/lib.sh"
require_bpf

# 3 rounds over 2.4 s: record writes its blocks every second, so several event blocks
"$AI" record -o "$TMP/ok.rec" -- "$OUT/tests/trace_fake" --tasks 2000 --io-ms 400 --rounds 3 \
	>/dev/null 2>&1
assert_eq "record exit status" 0 "$?"
"$AI" report "$TMP/ok.rec" --json >"$TMP/ok.json"
assert_eq "intact report exit status" 0 "$?"
assert_eq "intact polls" 18000 "$(json_eval "$TMP/ok.json" 'sum(t["polls"] for t in d["tasks"])')"

# block boundaries, from the block headers (docs/record-format.md)
python3 - "$TMP/ok.rec" >"$TMP/bounds" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 64
while off + 32 <= len(b):
    magic, typ, flags, stored = struct.unpack_from("<IHHI", b, off)
    print(off)
    off += 32 + stored
print(len(b) - 16)  # the trailer
PY
nb=$(wc -l <"$TMP/bounds")
[ "$nb" -ge 8 ] || fail "expected a multi-block recording, got $nb boundaries"
ok "$nb block boundaries"

# check_partial FILE WHAT: exit 3, one warning line, a valid JSON summary that says so
check_partial() {
	"$AI" report "$1" --json >"$TMP/p.json" 2>"$TMP/p.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "$2: exit $rc, expected 3: $(cat "$TMP/p.err")"
	[ "$(wc -l <"$TMP/p.err")" -eq 1 ] || fail "$2: expected one line: $(cat "$TMP/p.err")"
	grep -q "^async-inspect: .*damaged or incomplete" "$TMP/p.err" || fail "$2: $(cat "$TMP/p.err")"
	[ "$(json_eval "$TMP/p.json" 'any(w["kind"] == "damaged-recording" for w in d["warnings"])')" = True ] ||
		fail "$2: no damaged-recording warning in the JSON"
}

size=$(stat -c %s "$TMP/ok.rec")
prev=-1
while read -r b; do
	head -c "$b" "$TMP/ok.rec" >"$TMP/cut.rec"
	check_partial "$TMP/cut.rec" "truncated at block boundary $b"
	polls=$(json_eval "$TMP/p.json" 'sum(t["polls"] for t in d["tasks"])')
	[ "$polls" -ge "$prev" ] || fail "fewer polls at a later boundary ($b: $polls < $prev)"
	prev=$polls
done <"$TMP/bounds"
ok "truncated at each of $nb boundaries: exit 3, partial reports that only grow"

RANDOM=42
for i in $(seq 1 15); do
	cut=$((64 + (RANDOM * 32768 + RANDOM) % (size - 64)))
	head -c "$cut" "$TMP/ok.rec" >"$TMP/cut.rec"
	check_partial "$TMP/cut.rec" "truncated at $cut"
	"$AI" report "$TMP/cut.rec" --timeline "$TMP/cut.json" >/dev/null 2>&1
	assert_eq "timeline of a file cut at $cut: exit" 3 "$?"
	python3 "$ROOT/tests/bpf/check_trace_events.py" "$TMP/cut.json" >/dev/null ||
		fail "timeline of a file cut at $cut is invalid"
done
ok "15 random truncations"

for i in $(seq 1 15); do
	at=$((64 + (RANDOM * 32768 + RANDOM) % (size - 64)))
	cp "$TMP/ok.rec" "$TMP/flip.rec"
	printf '\xa5' | dd of="$TMP/flip.rec" bs=1 seek="$at" conv=notrunc status=none
	cmp -s "$TMP/ok.rec" "$TMP/flip.rec" && continue # the byte was already 0xa5
	check_partial "$TMP/flip.rec" "byte flipped at $at"
done
ok "15 flipped bytes"

# a huge declared length in the second block (header checksum fixed up)
python3 - "$TMP/ok.rec" "$TMP/huge.rec" <<'PY'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
off = 64
off += 32 + struct.unpack_from("<I", b, off + 8)[0]
struct.pack_into("<I", b, off + 8, 0xfffffff0)
struct.pack_into("<I", b, off + 28, zlib.adler32(bytes(b[off:off + 28])))
open(sys.argv[2], "wb").write(b)
PY
check_partial "$TMP/huge.rec" "huge stored length"
grep -q "declares 4294967280 bytes" "$TMP/p.err" || fail "huge length: $(cat "$TMP/p.err")"
ok "huge length reported: $(cat "$TMP/p.err")"

# errors: exit 1 and one line
check_error() { # file what expected-substring
	"$AI" report "$1" --json >"$TMP/e.out" 2>"$TMP/e.err"
	local rc=$?
	[ $rc -eq 1 ] || fail "$2: exit $rc, expected 1"
	[ "$(wc -l <"$TMP/e.err")" -eq 1 ] || fail "$2: expected one line: $(cat "$TMP/e.err")"
	grep -q "^async-inspect: failed to read '$1': .*$3" "$TMP/e.err" || fail "$2: $(cat "$TMP/e.err")"
	[ -s "$TMP/e.out" ] && fail "$2: printed a report"
	ok "$2: $(cat "$TMP/e.err")"
}
cp "$TMP/ok.rec" "$TMP/ver.rec"
printf '\x63' | dd of="$TMP/ver.rec" bs=1 seek=8 conv=notrunc status=none
check_error "$TMP/ver.rec" "wrong version" "unsupported recording version 99"
head -c 40 "$TMP/ok.rec" >"$TMP/short.rec"
check_error "$TMP/short.rec" "shorter than the header" "not an async-inspect recording"
: >"$TMP/empty.rec"
check_error "$TMP/empty.rec" "empty file" "not an async-inspect recording"
check_error "$OUT/async-inspect" "an ELF file" "not an async-inspect recording"
check_error "$TMP/missing.rec" "missing file" "No such file"
