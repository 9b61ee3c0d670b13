# Shared by the integration tests (sourced). Paths come from tests/run-all.
# shellcheck shell=bash
set -u
OUT=${ASYNC_INSPECT_OUTPUT:?run through tests/run-all or make test}
ROOT=${ASYNC_INSPECT_ROOT:?run through tests/run-all or make test}
AI=$OUT/async-inspect
EX=$OUT/examples
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# Skips (with the reason) unless BPF tracing can work here.
require_bpf() {
	[ "$(id -u)" -eq 0 ] || skip "not root: BPF integration tests need root"
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
	[ -x "$AI" ] || fail "$AI not built"
}

assert_eq() { # what expected actual
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
	ok "$1 = $3"
}

# Starts a command in the background and remembers it for cleanup; sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# Evaluates a Python expression over a JSON document: json_eval FILE 'len(d["tasks"])'
json_eval() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
