#!/bin/bash
# profile: a CPU-heavy task against a mostly idle one, in a process started before the
# profiler (attach late, by PID). One run writes folded stacks, an SVG and a pprof file;
# each is checked against the others by tests/bpf/profile_check.py.
. "$(dirname "$0")/lib.sh"
require_bpf
W=$OUT/tests/cpu_idle_mix
CHECK="python3 $ROOT/tests/bpf/profile_check.py"
[ -x "$W" ] || fail "$W not built"

bg "$W" --seconds 60
sleep 1 # its threads exist long before the profiler attaches
"$AI" profile -p "$BG_PID" -d 4 --folded --svg "$TMP/f.svg" --pprof "$TMP/p.pb.gz" \
	>"$TMP/f.folded" 2>"$TMP/err" || { rc=$?; cat "$TMP/err"; fail "profile exited $rc"; }
kill -0 "$BG_PID" || fail "the target did not survive profiling"

total=$($CHECK folded "$TMP/f.folded") || fail "folded format"
ncpu=$(nproc)
# 4 s at 99 Hz: the heavy task keeps one CPU busy (~396 samples); loose for loaded machines.
[ "$total" -ge 20 ] || fail "only $total samples in 4 s at 99 Hz"
[ "$total" -le $((ncpu * 99 * 5)) ] || fail "$total samples: more than $ncpu CPUs at 99 Hz"
ok "folded: $total samples, every line 'frame;...;frame count'"

share=$($CHECK share "$TMP/f.folded" heavy_task) || fail "share"
python3 -c "import sys; sys.exit(0 if float('$share') >= 80 else 1)" ||
	fail "heavy_task holds $share% of on-task samples, want >= 80%"
ok "heavy_task holds $share% of on-task samples"

# Its stacks carry the async frames (task, await point with file:line) and the physical
# function burning the CPU.
python3 - "$TMP/f.folded" <<'PY' || fail "heavy_task stacks lack async or physical frames"
import re, sys
heavy = full = 0
for line in open(sys.argv[1]):
    frames, count = line.rsplit(" ", 1)
    frames = frames.split(";")
    if frames[0] != "heavy_task":
        continue
    heavy += int(count)
    if re.fullmatch(r"heavy_step@tests/bpf/cpu_idle_mix\.c:\d+", frames[1]) and \
            "crunch_numbers" in frames[2:]:
        full += int(count)
print(f"{full}/{heavy} heavy_task samples have heavy_step@file:line and crunch_numbers")
sys.exit(0 if heavy and full >= 0.8 * heavy else 1)
PY
ok "heavy_task stacks: heavy_task;heavy_step@tests/bpf/cpu_idle_mix.c:N;...;crunch_numbers"
if grep -q '^idle_task;' "$TMP/f.folded"; then ok "idle_task seen too"; fi

n=$($CHECK svg "$TMP/f.svg" "$TMP/f.folded") || fail "svg does not match the folded stacks"
ok "svg: well-formed XML, $n frames matching the folded stacks"
# The embedded script: zoom and search, run by node against the file (when installed).
if command -v node >/dev/null; then
	r=$(node "$ROOT/tests/bpf/svg_check.js" "$TMP/f.svg" '^crunch_numbers$' '^heavy_') ||
		fail "svg script: zoom or search misbehaves"
	ok "svg script: $r"
fi
r=$($CHECK pprof "$TMP/p.pb.gz" "$TMP/f.folded") || fail "pprof does not match"
ok "pprof: $r"

# Without an output option: the summary names the task functions and their shares.
"$AI" profile -p "$BG_PID" -d 2 >"$TMP/sum" 2>"$TMP/err" || fail "summary run failed"
grep -Eq '^heavy_task +[0-9]+ +[0-9.]+% +[0-9.]+%$' "$TMP/sum" ||
	{ cat "$TMP/sum"; fail "summary lacks the heavy_task share row"; }
grep -q 'crunch_numbers' "$TMP/sum" || fail "summary's top stacks lack crunch_numbers"
ok "summary: per-function shares and top stacks"

"$AI" profile -p "$BG_PID" -d 2 --json >"$TMP/j.json" 2>"$TMP/err" || fail "json run failed"
assert_eq "json functions[0]" heavy_task "$(json_eval "$TMP/j.json" 'd["functions"][0]["name"]')"
assert_eq "json stack counts add up" True \
	"$(json_eval "$TMP/j.json" 'sum(s["count"] for s in d["stacks"]) == d["samples"] > 0')"
kill -0 "$BG_PID" || fail "the target did not survive profiling"
