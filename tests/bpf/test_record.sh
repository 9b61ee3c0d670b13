#!/bin/bash
# record -- fetch_user --users 200 --io-ms 5, then report: exactly the task and poll counts
# of a live trace of the same workload, the same JSON schema (same keys) as trace --json,
# names from the file alone (the binary moved away), the exit status passed through; the
# Perfetto timeline is valid trace-event JSON, the SVG well-formed with a row per task.
source "$(dirname "$0")/lib.sh"
require_bpf
[ -x "$EX/fetch_user" ] || fail "$EX/fetch_user not built"

# a copy we can delete: the report must not need the binary
mkdir -p "$TMP/bin"
cp "$EX/fetch_user" "$TMP/bin/fetch_user"
cp -P "$OUT"/libasync.so* "$TMP/"
"$AI" record -o "$TMP/run.rec" -- "$TMP/bin/fetch_user" --users 200 --io-ms 5 >"$TMP/out" \
	2>"$TMP/err"
assert_eq "record exit status (the command's)" 0 "$?"
grep -q "^Recorded [0-9]* events to $TMP/run.rec (.*), 0 lost.$" "$TMP/err" ||
	fail "no summary line: $(cat "$TMP/err")"
rm -rf "$TMP/bin"

"$AI" report "$TMP/run.rec" --json >"$TMP/rep.json"
assert_eq "report exit status" 0 "$?"
assert_eq "source" report "$(json_eval "$TMP/rep.json" 'd["source"]')"
assert_eq "fetch_user tasks" 200 \
	"$(json_eval "$TMP/rep.json" 'len([t for t in d["tasks"] if t["function"] == "fetch_user"])')"
assert_eq "fetch_user polls (tasks)" 600 \
	"$(json_eval "$TMP/rep.json" 'sum(t["polls"] for t in d["tasks"] if t["function"] == "fetch_user")')"
assert_eq "fetch_user polls (function)" "200 600" \
	"$(json_eval "$TMP/rep.json" '" ".join(str(f[k]) for f in d["functions"] if f["name"] == "fetch_user" for k in ("tasks", "polls"))')"
assert_eq "every fetch_user task polled 3 times and done" 0 \
	"$(json_eval "$TMP/rep.json" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and (t["polls"] != 3 or not t["done"])])')"
# two 5 ms waits between polls (bound with 1 ms of timer granularity)
assert_eq "idle + scheduling >= 9 ms for every fetch_user task" 0 \
	"$(json_eval "$TMP/rep.json" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["idle_ns"] + t["sched_delay_ns"] < 9000000])')"
assert_eq "await points with file:line, 200 waits each" "200 200" \
	"$(json_eval "$TMP/rep.json" '" ".join(str(a["waits"]) for a in d["await_points"] if a["function"] == "fetch_user" and a["location"].startswith("examples/fetch_user.c:"))')"
assert_eq "task names from the file" 200 \
	"$(json_eval "$TMP/rep.json" 'len([t for t in d["tasks"] if t["function"] == "fetch_user" and t["name"]])')"
assert_eq "process exit recorded" "True 0" \
	"$(json_eval "$TMP/rep.json" '"%s %d" % (d["processes"][0]["exited"], d["processes"][0]["exit_status"])')"
assert_eq "nothing lost" 0 "$(json_eval "$TMP/rep.json" 'd["lost"]["ringbuf_drops"]')"

# the live trace of the same workload: same counts, same keys (main's own polls and
# waits depend on timing: only fetch_user's are exact)
LD_LIBRARY_PATH="$OUT" "$AI" trace --json -o "$TMP/tr.json" -- "$EX/fetch_user" --users 200 \
	--io-ms 5 >/dev/null 2>"$TMP/trerr"
assert_eq "trace exit status" 0 "$?"
for q in 'len([t for t in d["tasks"] if t["function"] == "fetch_user"])' \
	'sum(t["polls"] for t in d["tasks"] if t["function"] == "fetch_user")' \
	'sorted((a["callee"], a["waits"]) for a in d["await_points"] if a["function"] == "fetch_user")' \
	'sorted((f["name"], f["tasks"], f["polls"]) for f in d["functions"] if f["name"] == "fetch_user")' \
	'sorted(f["name"] for f in d["functions"])'; do
	assert_eq "trace = report: $q" "$(json_eval "$TMP/tr.json" "$q")" \
		"$(json_eval "$TMP/rep.json" "$q")"
done
keys='(lambda d: [sorted(d)] + [sorted(d[k][0]) for k in ("processes", "tasks", "functions", "await_points") if d[k]])(d)'
assert_eq "same JSON keys as trace --json" "$(json_eval "$TMP/tr.json" "$keys")" \
	"$(json_eval "$TMP/rep.json" "$keys")"
assert_eq "trace's lost counters all in report" True \
	"$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["lost"]; b=json.load(open(sys.argv[2]))["lost"]; print(set(a) <= set(b))' "$TMP/tr.json" "$TMP/rep.json")"

# text summary
"$AI" report "$TMP/run.rec" >"$TMP/rep.txt"
assert_eq "text report exit status" 0 "$?"
grep -q "^fetch_user  *200  *600 " "$TMP/rep.txt" || fail "text summary: $(head -5 "$TMP/rep.txt")"
ok "text summary has fetch_user 200 tasks, 600 polls"

# timeline exports
"$AI" report "$TMP/run.rec" --timeline "$TMP/t.json" --svg "$TMP/t.svg" >"$TMP/none" 2>"$TMP/err"
assert_eq "export exit status" 0 "$?"
[ -s "$TMP/none" ] && fail "exports alone printed a summary"
ntasks=$(json_eval "$TMP/rep.json" 'len(d["tasks"])')
npolls=$(json_eval "$TMP/rep.json" 'sum(t["polls"] for t in d["tasks"])')
python3 "$ROOT/tests/bpf/check_trace_events.py" "$TMP/t.json" --tasks "$ntasks" \
	--polls "$npolls" --min-flows 200 || fail "invalid trace-event JSON"
ok "trace-event JSON valid: $ntasks task tracks, $npolls polls, spawn arrows"
assert_eq "worker thread tracks" True \
	"$(json_eval "$TMP/t.json" 'any(e["ph"] == "M" and e["name"] == "thread_name" and e["args"]["name"].startswith("worker ") for e in d["traceEvents"])')"
# a wait slice names the innermost await point (the sleep inside fetch_profile or
# fetch_posts, not the root's await of them) and the wait kind
assert_eq "wait slices named by their innermost await point, timer waits" "200 200 400" \
	"$(json_eval "$TMP/t.json" '(lambda w: "%d %d %d" % (len([e for e in w if e["name"].startswith("wait fetch_profile@async_sleep")]), len([e for e in w if e["name"].startswith("wait fetch_posts@async_sleep")]), len([e for e in w if e["args"]["wait_kind"] == "timer"])))([e for e in d["traceEvents"] if e["ph"] == "X" and e.get("cat") == "wait" and "fetch_" in e["name"]])')"
assert_eq "SVG rows" "$ntasks" \
	"$(python3 -c 'import sys, xml.dom.minidom as m; g = m.parse(sys.argv[1]).getElementsByTagName("g"); print(len([x for x in g if x.getAttribute("class") == "task"]))' "$TMP/t.svg")"

# task-to-task wakes: 2 tasks wake each other 50 times each -> exactly 100 wake arrows
"$AI" record -o "$TMP/w.rec" -- "$OUT/tests/record_wakes" --rounds 50 >/dev/null 2>&1
assert_eq "record_wakes recorded" 0 "$?"
"$AI" report "$TMP/w.rec" --json --timeline "$TMP/w.json" >"$TMP/w.sum" 2>/dev/null
assert_eq "polls and wakes by the other task" "[(51, 50), (51, 50)]" \
	"$(json_eval "$TMP/w.sum" 'sorted((t["polls"], t["wakes_other"]) for t in d["tasks"])')"
python3 "$ROOT/tests/bpf/check_trace_events.py" "$TMP/w.json" --tasks 2 --polls 102 \
	--min-flows 100 || fail "invalid trace-event JSON with wake arrows"
assert_eq "wake arrows" 100 \
	"$(json_eval "$TMP/w.json" 'len([e for e in d["traceEvents"] if e["ph"] == "s" and e["cat"] == "wake"])')"

# a blocking poll: the long-poll warning of trace, naming the blocking call, offline
"$AI" record -o "$TMP/b.rec" -- "$EX/blocking" --rounds 3 >/dev/null 2>&1
assert_eq "record blocking" 0 "$?"
"$AI" report "$TMP/b.rec" --json >"$TMP/b.json" 2>/dev/null
assert_eq "long polls of checksum" 3 \
	"$(json_eval "$TMP/b.json" '[f["long_polls"] for f in d["functions"] if f["name"] == "checksum"][0]')"
assert_eq "long-poll warning names the blocking call" True \
	"$(json_eval "$TMP/b.json" 'any(w["kind"] == "long-poll" and w["function"] == "checksum" and "compress_blocking()" in w["detail"] for w in d["warnings"])')"

# terminal bars
"$AI" report "$TMP/run.rec" --text --rows 5 --width 60 --no-color >"$TMP/bars"
assert_eq "text timeline exit status" 0 "$?"
assert_eq "text rows" 5 "$(grep -c '^fetch_user #\|^main' "$TMP/bars")"
grep -q "more tasks" "$TMP/bars" || fail "no row limit note"
grep -q $'\033' "$TMP/bars" && fail "--no-color printed escapes"
ok "text timeline"

# a failing command's status passes through
"$AI" record -o "$TMP/st.rec" -- "$OUT/tests/trace_fake" --tasks 3 --io-ms 1 --exit 7 >/dev/null 2>&1
assert_eq "exit status passed through" 7 "$?"
assert_eq "its polls" 9 "$("$AI" report "$TMP/st.rec" --json | python3 -c 'import json,sys; print(sum(t["polls"] for t in json.load(sys.stdin)["tasks"]))')"
