#!/bin/bash
# What tasks / deadlock / top cost: the time to read a snapshot of a process with many
# tasks, and what reading it (and top's BPF) costs the process. Needs root.
#
#   bench/tasks.sh [OUTPUT_DIR]
#   RUNS=7 bench/tasks.sh .output
#
# 1. Snapshot time: examples/http_server kept busy by wrk with CONNS connections (one
#    task each), wall time of `tasks -p --json` and `deadlock -p` (median of RUNS). Here
#    the tool runs under SCHED_FIFO and the loaded server does not, so the time is the
#    reader's own work, not waiting for a CPU.
# 2. Impact on the target: http_server --threads 2 --io-us 0 (CPU-bound) under
#    wrk -t2 -c32 -dWRK_SECS, requests/s, alternating runs:
#      alone       nothing attached
#      snapshots   `tasks -p PID --json` in a loop, back to back (a snapshot every few ms:
#                  far more than top's one per second)
#      top         `top -p PID -b -i 1` (registry every second + trace's BPF programs on
#                  every poll)
# Every measured process runs under SCHED_FIFO (chrt -f 10; RT=0 turns it off), as in
# bench/trace.sh: other load on the shared 2-core VM moves single runs a lot otherwise.
set -u
out=${1:-.output}
runs=${RUNS:-5}
wrk_secs=${WRK_SECS:-5}
port=${PORT:-18093}
AI=$out/async-inspect
die() { echo "bench/tasks.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
[ -x "$AI" ] && [ -x "$out/examples/http_server" ] || die "build first: make OUTPUT=$out all"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
tmp=$(mktemp -d)
server= loader= looper=
cleanup() {
	for p in $looper $loader $server; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { date +%s%N; } # ns; a fork+exec, cheap next to python's start-up
rt=()
[ "${RT:-1}" = 1 ] && rt=(chrt -f 10)

start_server() { # io_us [rt]
	local pri=()
	[ "${2:-}" = rt ] && pri=("${rt[@]}")
	"${pri[@]}" "$out/examples/http_server" --port "$port" --threads 2 --io-us "$1" >"$tmp/server.out" 2>&1 &
	server=$!
	for _ in $(seq 50); do grep -q listening "$tmp/server.out" && break; sleep 0.1; done
	grep -q listening "$tmp/server.out" || die "http_server did not start: $(cat "$tmp/server.out")"
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null; server=; }

# ---- 1. snapshot time vs live tasks ------------------------------------------------------
echo "| live tasks | tasks -p --json (ms) | deadlock -p (ms) |"
echo "| ---: | ---: | ---: |"
for conns in ${CONNS:-32 512}; do
	start_server 1000
	wrk -t2 -c"$conns" -d60s "http://127.0.0.1:$port/users/1" >/dev/null 2>&1 &
	loader=$!
	sleep 2
	: >"$tmp/t" >"$tmp/d"
	for i in $(seq "$runs"); do
		a=$(ms)
		"${rt[@]}" "$AI" tasks -p "$server" --json >"$tmp/snap.json" || die "tasks failed"
		b=$(ms)
		"${rt[@]}" "$AI" deadlock -p "$server" >/dev/null
		[ $? -eq 0 ] || die "deadlock found something in http_server"
		c=$(ms)
		echo "$(((b - a) / 1000)) $(((c - b) / 1000))" >&2
		awk -v v=$((b - a)) 'BEGIN { printf "%.1f\n", v / 1e6 }' >>"$tmp/t"
		awk -v v=$((c - b)) 'BEGIN { printf "%.1f\n", v / 1e6 }' >>"$tmp/d"
	done
	live=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tasks"]))' "$tmp/snap.json")
	echo "| $live | $(median <"$tmp/t") | $(median <"$tmp/d") |"
	kill "$loader"; wait "$loader" 2>/dev/null; loader=
	stop_server
done

# ---- 2. what it costs the target ----------------------------------------------------------
start_server 0 rt
rps() { "${rt[@]}" wrk -t2 -c32 -d"${wrk_secs}s" "http://127.0.0.1:$port/users/1" | awk '/Requests\/sec/ { print $2 }'; }
: >"$tmp/alone" >"$tmp/snapshots" >"$tmp/top"
for i in $(seq "$runs"); do
	rps >>"$tmp/alone"
	(while :; do "$AI" tasks -p "$server" --json >/dev/null || exit 1; done) &
	looper=$!
	rps >>"$tmp/snapshots"
	kill "$looper"; wait "$looper" 2>/dev/null; looper=
	"$AI" top -p "$server" -b -i 1 >/dev/null 2>"$tmp/top.err" &
	looper=$!
	sleep 0.5
	rps >>"$tmp/top"
	kill -INT "$looper"; wait "$looper" 2>/dev/null; looper=
	echo "run $i/$runs: alone $(tail -n1 "$tmp/alone") snapshots $(tail -n1 "$tmp/snapshots") top $(tail -n1 "$tmp/top")" >&2
done
ma=$(median <"$tmp/alone") ms_=$(median <"$tmp/snapshots") mt=$(median <"$tmp/top")
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "http_server --threads 2 --io-us 0 under wrk -t2 -c32 -d${wrk_secs}s, median of $runs alternating runs:"
echo
echo "| run | requests/s | vs alone |"
echo "| --- | ---: | ---: |"
echo "| alone | $ma | 1.00x |"
echo "| tasks --json in a loop | $ms_ | $(ratio "$ms_" "$ma")x |"
echo "| top -p -i 1 (BPF) | $mt | $(ratio "$mt" "$ma")x |"
