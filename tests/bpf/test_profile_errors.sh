#!/bin/bash
# profile: every bad input gives one clear line and a non-zero exit.
. "$(dirname "$0")/lib.sh"
require_bpf

expect() { # what want_rc pattern args...
	local what=$1 want=$2 pat=$3 rc
	shift 3
	"$AI" profile "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$rc" -eq "$want" ] || { cat "$TMP/err"; fail "$what: exit $rc, want $want"; }
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not one line"; }
	grep -q "^async-inspect: .*$pat" "$TMP/err" || { cat "$TMP/err"; fail "$what: message"; }
	ok "$what: $(cat "$TMP/err")"
}

expect "no target" 2 "no target" -d 1
expect "both targets" 2 "not both" -p 1 -- true
expect "bad pid" 2 "PID 'abc'" -p abc
expect "bad frequency" 2 "frequency '0'" -p 1 -F 0
expect "frequency too high" 2 "frequency '100000'" -p 1 -F 100000
expect "bad duration" 2 "duration 'x'" -p 1 -d x
expect "json and folded" 2 "--json and --folded" -p 1 --json --folded
expect "unknown option" 2 "unknown option '--nope'" -p 1 --nope
expect "no such process" 1 "failed to find process '999999999'" -p 999999999
sleep 60 &
PIDS+=($!)
expect "not a libasync process" 1 "not a libasync program" -p $!
kill -0 $! || fail "the non-libasync process was harmed"
expect "command not found" 1 "failed to find command ./nonexistent/no-such-command." -d 1 -- /nonexistent/no-such-command

W=$OUT/tests/cpu_idle_mix
bg "$W" --seconds 60
expect "unwritable svg" 1 "failed to create '/nonexistent/dir/f.svg'" -p "$BG_PID" -d 1 \
	--svg /nonexistent/dir/f.svg
kill -0 "$BG_PID" || fail "the target did not survive a failed profile"
