#!/bin/bash
# report, list and analyze on a FIFO or a directory: one clear line and a non-zero exit at
# once, never blocked on the FIFO waiting for a writer.
source "$(dirname "$0")/lib.sh"
[ -x "$AI" ] || fail "$AI not built"

mkfifo "$TMP/fifo"
mkdir "$TMP/dir"
check() { # want_rc reason cmd...
	local want=$1 why=$2 rc
	shift 2
	timeout 10 "$@" >"$TMP/o" 2>"$TMP/e"
	rc=$?
	[ $rc -ne 124 ] || fail "$*: blocked"
	[ $rc -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$TMP/e")"
	[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "$*: not one line: $(cat "$TMP/e")"
	grep -q "^async-inspect: failed to read '.*': $why" "$TMP/e" || fail "$*: $(cat "$TMP/e")"
	ok "$2: $(cat "$TMP/e")"
}
for f in "$TMP/fifo" /dev/null; do
	check 1 "not a regular file (a FIFO, device or socket)$" "$AI" report "$f"
	check 1 "not a regular file" "$AI" report "$f" --json
	check 2 "not a regular file" "$AI" list "$f"
	check 2 "not a regular file" "$AI" analyze "$f" --show-call-graph
done
check 1 "Is a directory$" "$AI" report "$TMP/dir"
check 2 "Is a directory$" "$AI" list "$TMP/dir"
check 2 "Is a directory$" "$AI" analyze "$TMP/dir" --show-call-graph
