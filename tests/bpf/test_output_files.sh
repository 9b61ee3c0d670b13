#!/bin/bash
# Output files as root in a directory others can write to (a sticky /tmp-like one): no
# command follows a symlink planted at its output path or writes into a file another user
# created there (a recording, streamed, is a new file at the path made with O_EXCL; the
# others are renamed into place); a recording is mode 0600; a refused output is one clear line, exit 1,
# and the file the link points to is untouched.
source "$(dirname "$0")/lib.sh"
require_bpf

D=$TMP/shared
mkdir -m 1777 "$D"
echo precious >"$TMP/victim"
F=$OUT/tests/trace_fake

# refused: CMD ARGS... ; the link at $D/link points to $TMP/victim
refused() {
	local what=$1 rc
	shift
	ln -sfn "$TMP/victim" "$D/link"
	"$@" >"$TMP/r.out" 2>"$TMP/r.err"
	rc=$?
	[ $rc -eq 1 ] || fail "$what: exit $rc, expected 1: $(cat "$TMP/r.err")"
	grep -q "^async-inspect: failed to create '$D/link': Too many levels of symbolic links" \
		"$TMP/r.err" || fail "$what: $(cat "$TMP/r.err")"
	[ "$(cat "$TMP/victim")" = precious ] || fail "$what wrote through the symlink"
	[ -L "$D/link" ] || fail "$what removed the link"
	ok "$what: $(tail -n 1 "$TMP/r.err")"
}

"$AI" record -o "$TMP/ok.rec" -- "$F" --tasks 5 --io-ms 5 --rounds 2 >/dev/null 2>&1
assert_eq "record exit" 0 "$?"
assert_eq "recording mode" 600 "$(stat -c %a "$TMP/ok.rec")"

refused "record -o" "$AI" record -o "$D/link" -- "$F" --tasks 5 --io-ms 5 --rounds 2
refused "trace -o" "$AI" trace -o "$D/link" -- "$F" --tasks 5 --io-ms 5 --rounds 2
refused "profile --svg" "$AI" profile -d 1 --svg "$D/link" -- "$F" --tasks 5 --rounds 2
refused "profile --pprof" "$AI" profile -d 1 --pprof "$D/link" -- "$F" --tasks 5 --rounds 2
refused "report -o" "$AI" report "$TMP/ok.rec" -o "$D/link"
refused "report --timeline" "$AI" report "$TMP/ok.rec" --timeline "$D/link"
refused "report --svg" "$AI" report "$TMP/ok.rec" --svg "$D/link"

# a file someone else created at the output path: replaced by a new file, never written
# into (their inode, still reachable through a hard link, keeps its content)
theirs() { # what path cmd...
	local what=$1 p=$2 ino
	shift 2
	echo "their data" >"$p"
	chown nobody "$p"
	rm -f "$TMP/keep"
	ln "$p" "$TMP/keep"
	ino=$(stat -c %i "$p")
	"$@" >/dev/null 2>"$TMP/t.err" || fail "$what: $(cat "$TMP/t.err")"
	[ "$(cat "$TMP/keep")" = "their data" ] || fail "$what wrote into the other user's file"
	[ "$(stat -c %i "$p")" != "$ino" ] || fail "$what reused the other user's file"
	[ "$(stat -c %U "$p")" = root ] || fail "$what: $(stat -c %U "$p") owns the output"
	ok "$what: a new file, theirs untouched"
}
theirs "record -o" "$D/r.rec" "$AI" record -o "$D/r.rec" -- "$F" --tasks 5 --io-ms 5 --rounds 2
assert_eq "replaced recording mode" 600 "$(stat -c %a "$D/r.rec")"
"$AI" report "$D/r.rec" >/dev/null || fail "the recording in place does not report"
theirs "report -o" "$D/s.txt" "$AI" report "$TMP/ok.rec" -o "$D/s.txt"
theirs "report --timeline" "$D/t.json" "$AI" report "$TMP/ok.rec" --timeline "$D/t.json"
theirs "report --svg" "$D/f.svg" "$AI" report "$TMP/ok.rec" --svg "$D/f.svg"
theirs "trace -o" "$D/tr.txt" "$AI" trace -o "$D/tr.txt" -- "$F" --tasks 5 --io-ms 5 --rounds 2
theirs "profile --pprof" "$D/p.pb.gz" "$AI" profile -d 1 --pprof "$D/p.pb.gz" -- \
	"$OUT/tests/cpu_idle_mix" --seconds 10

# no temporary file is left behind, and the device outputs still work
left=$(find "$D" -name '.*' -type f | wc -l)
assert_eq "temporary files left" 0 "$left"
"$AI" report "$TMP/ok.rec" -o /dev/null || fail "report -o /dev/null"
ok "report -o /dev/null"
