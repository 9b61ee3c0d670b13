#!/bin/bash
# The probe test: a BPF program attached to every libasync probe of a known workload
# checks the exact hit counts, every argument, and the registry/thread records read from
# process memory (tests/bpf/probe_check.c, tests/bpf/probe_workload.c).
# shellcheck source=tests/bpf/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "not root: BPF integration tests need root"
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
[ -x "$OUT/tests/probe_check" ] || fail "$OUT/tests/probe_check not built"
[ -x "$OUT/tests/probe_workload" ] || fail "$OUT/tests/probe_workload not built"

# The workload links libasync statically: its probes are in the executable itself.
n=$(readelf -n "$OUT/tests/probe_workload" | grep -c 'Provider: libasync')
[ "$n" -ge 7 ] || fail "probe_workload carries $n libasync USDT notes, expected >= 7"
ok "probe_workload carries $n libasync USDT notes"

"$OUT/tests/probe_check" "$OUT/tests/probe_workload" >"$TMP/check.log" 2>&1
rc=$?
cat "$TMP/check.log"
[ $rc -eq 77 ] && skip "$(tail -n 1 "$TMP/check.log")"
[ $rc -eq 0 ] || fail "probe_check exited $rc: $(grep -c '^FAIL' "$TMP/check.log") failed checks"

# A probe_check run that cannot find its workload fails (exit 1) with one clear line.
"$OUT/tests/probe_check" "$TMP/no-such-workload" >"$TMP/err.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "probe_check with a missing workload: expected exit 1, got $rc"
grep -q "open '$TMP/no-such-workload'" "$TMP/err.log" || fail "unclear error: $(cat "$TMP/err.log")"
ok "missing workload: exit 1, '$(cat "$TMP/err.log")'"

# With no tracer attached the semaphores are 0 and the workload runs the same.
"$OUT/tests/probe_workload" 3 4 3>/dev/null 4<<<"g" || fail "untraced workload failed"
ok "untraced workload exits 0"
