#!/bin/bash
# The front end all ten subcommands share: the same usage line and EXAMPLES in --help,
# one duration parser with units (500ms, 2s, 1m) wherever a duration is taken, one-line
# errors, and "did you mean" for a mistyped subcommand.
source "$(dirname "$0")/lib.sh"
[ -x "$AI" ] || fail "$AI not built"

for c in trace top tasks profile record report graph deadlock analyze list; do
	"$AI" $c --help >"$TMP/h" || fail "$c --help exited $?"
	head -1 "$TMP/h" | grep -q "^Usage: async-inspect $c " || fail "$c usage line: $(head -1 "$TMP/h")"
	[ "$(grep -c '^EXAMPLES' "$TMP/h")" = 1 ] || fail "$c --help: no EXAMPLES section"
done
ok "ten usage lines 'Usage: async-inspect CMD ...' with EXAMPLES"

one_line() { # want_rc pattern cmd...
	local want=$1 pat=$2 rc
	shift 2
	"$@" >/dev/null 2>"$TMP/e"
	rc=$?
	[ $rc -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$TMP/e")"
	[ "$(wc -l <"$TMP/e")" -eq 1 ] || fail "$*: not one line: $(cat "$TMP/e")"
	grep -q "^async-inspect: .*$pat" "$TMP/e" || fail "$*: $(cat "$TMP/e")"
	ok "$(cat "$TMP/e")"
}
one_line 2 "unknown command 'trcae': did you mean 'trace'?" "$AI" trcae
one_line 2 "unknown command 'deadlok': did you mean 'deadlock'?" "$AI" deadlok
one_line 2 "unknown command 'xyzzy' (see 'async-inspect --help')" "$AI" xyzzy
one_line 2 "unknown option '--bogus'" "$AI" report --bogus
one_line 2 "unknown option '--bogus'" "$AI" record --bogus
one_line 2 "invalid value '2x' for -d" "$AI" trace -p 1 -d 2x
one_line 2 "invalid value '2x' for -d" "$AI" record -o "$TMP/x" -p 1 -d 2x
one_line 2 "failed to parse -d '2x'" "$AI" graph -p 1 -d 2x
one_line 2 "failed to parse -i '1y'" "$AI" top -p 1 -i 1y
one_line 2 "failed to parse duration '-1s'" "$AI" profile -p 1 -d -1s
one_line 2 "invalid value '1q' for --long-poll" "$AI" report x --long-poll 1q

# units accepted everywhere a duration is (-p 999999999: the option parsed, then no process)
for args in "trace -d 500ms" "trace -d 1m -i 2s" "record -o $TMP/x -d 1.5s" "graph -d 200ms" \
	"top -i 300ms" "profile -d 0.5s" "deadlock --threshold 2s --confirm 100ms" \
	"trace --long-poll 500us" "trace --lost-waker 2s"; do
	# shellcheck disable=SC2086
	"$AI" $args -p 999999999 >/dev/null 2>"$TMP/e"
	grep -q "invalid value\|failed to parse" "$TMP/e" && fail "$args: $(cat "$TMP/e")"
	grep -q "999999999" "$TMP/e" || fail "$args: $(cat "$TMP/e")"
done
ok "500ms, 1.5s, 1m, 500us taken by trace, record, graph, top, profile, deadlock"

# -j is --json wherever there is JSON
"$AI" analyze "$EX/fetch_user" --show-call-graph -j >"$TMP/a.json" || fail "analyze -j exited $?"
python3 -m json.tool "$TMP/a.json" >/dev/null || fail "analyze -j: not JSON"
"$AI" list "$EX/fetch_user" -j >"$TMP/l.json" || fail "list -j exited $?"
python3 -m json.tool "$TMP/l.json" >/dev/null || fail "list -j: not JSON"
for c in trace tasks profile report graph deadlock analyze list diagnose; do
	"$AI" $c --help | grep -q -- "-j, --json" || fail "$c has no -j, --json"
done
ok "-j, --json in every command that prints JSON"
