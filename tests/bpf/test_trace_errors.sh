#!/bin/bash
# Every error path of trace: one line on stderr, the documented exit status, and the
# traced process unaffected.
source "$(dirname "$0")/lib.sh"
require_bpf

# expect_err NAME STATUS PATTERN -- ARGS...: exactly one stderr line matching PATTERN
expect_err() {
	local name=$1 want=$2 pat=$3 rc lines
	shift 4
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "$name: exit $rc, expected $want (stderr: $(cat "$TMP/err"))"
	lines=$(wc -l <"$TMP/err")
	[ "$lines" -eq 1 ] || fail "$name: $lines stderr lines, expected 1: $(cat "$TMP/err")"
	grep -Eq -e "$pat" "$TMP/err" || fail "$name: stderr '$(cat "$TMP/err")' does not match '$pat'"
	ok "$name: $(cat "$TMP/err")"
}

# bad options: exit 2
expect_err "no mode" 2 "^async-inspect: nothing to trace" -- "$AI" trace
expect_err "two modes" 2 "^async-inspect: give only one of" -- "$AI" trace -p 1 --system
expect_err "bad pid" 2 "^async-inspect: failed to parse PID 'abc'" -- "$AI" trace -p abc
expect_err "pid with a unit suffix" 2 "^async-inspect: failed to parse PID '5k'" -- "$AI" trace -p 5k
expect_err "record: pid with a unit suffix" 2 "^async-inspect: failed to parse PID '5k'" -- "$AI" record -p 5k -o "$TMP/x.rec"
expect_err "bad duration" 2 "invalid value '0' for -d" -- "$AI" trace -p 1 -d 0
expect_err "bad interval" 2 "invalid value 'x' for -i" -- "$AI" trace -p 1 -i x
expect_err "bad sort" 2 "invalid value 'nope' for --sort" -- "$AI" trace -p 1 --sort nope
expect_err "bad top" 2 "invalid value '-1' for --top" -- "$AI" trace -p 1 --top -1
expect_err "bad long-poll" 2 "invalid value '0' for --long-poll" -- "$AI" trace -p 1 --long-poll 0
expect_err "bad max-tasks" 2 "invalid value '3' for --max-tasks" -- "$AI" trace -p 1 --max-tasks 3
expect_err "lib without system" 2 "--lib only applies to --system" -- "$AI" trace -p 1 --lib /x
expect_err "unknown option" 2 "^async-inspect: unknown option '--frobnicate'" -- "$AI" trace --frobnicate
expect_err "missing value" 2 "option '-p' needs a value" -- "$AI" trace -p

# no such process
pid=999999
while [ -e /proc/$pid ]; do pid=$((pid - 1)); done
expect_err "no such pid" 1 "^async-inspect: failed to find process '$pid': No such process" -- "$AI" trace -p $pid

# a process without libasync
bg sleep 60
plain=$BG_PID
expect_err "process without probes" 1 "process $plain has no libasync probes.*libasync" -- "$AI" trace -p $plain
kill -0 $plain || fail "sleep died"
expect_err "command without probes" 1 "has no libasync probes: link it with libasync" -- "$AI" trace -- /bin/true
expect_err "command not found" 1 "^async-inspect: failed to find command '/no/such/cmd'" -- "$AI" trace -- /no/such/cmd
expect_err "--lib without probes" 1 "'/bin/true' has no libasync probes" -- "$AI" trace --system --lib /bin/true
expect_err "--lib missing" 1 "failed to read '/no/such.so'" -- "$AI" trace --system --lib /no/such.so

# not root: no CAP_BPF/CAP_PERFMON
bg "$EX/fetch_user" --forever --users 5 --io-ms 5
target=$BG_PID
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$AI"; then
	expect_err "not root" 1 "need root or CAP_BPF\+CAP_PERFMON" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$AI" trace -p $target
else
	echo "note: the nobody user cannot run $AI here; not-root case not checked"
fi

# no BTF: hide /sys/kernel/btf in a private mount namespace
if unshare -m true 2>/dev/null; then
	expect_err "no BTF" 1 "has no BTF" -- \
		unshare -m sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$0" trace -p "$1"' "$AI" $target
else
	echo "note: unshare -m unavailable; no-BTF case not checked"
fi

# verifier rejection (a test hook makes one program invalid): one line, and with -v
# libbpf's log including the verifier's reason
expect_err "verifier rejection" 1 "^async-inspect: failed to load 'BPF programs': .*run with -v" -- \
	env ASYNC_INSPECT_TEST_VERIFIER_REJECT=1 "$AI" trace -p $target
ASYNC_INSPECT_TEST_VERIFIER_REJECT=1 "$AI" trace -v -p $target >/dev/null 2>"$TMP/vlog"
assert_eq "verifier rejection with -v: status" 1 "$?"
grep -q "invalid mem access" "$TMP/vlog" || fail "-v shows no verifier log: $(tail -n 5 "$TMP/vlog")"
ok "-v prints the verifier log"

kill -0 $target || fail "the target died during the error cases"
ok "target still running"
