#!/bin/bash
# What `async-inspect profile` costs the profiled program: throughput with the sampler
# attached (99 Hz and 999 Hz) against without, RUNS alternating runs (default 5), medians
# and ratios printed as a Markdown table for bench/RESULTS.md. Needs root.
#
#   bench/profile.sh [OUTPUT_DIR]
#   RUNS=9 bench/profile.sh .output
#
# 1. bench/yield (poll-heavy: 100 tasks yielding, 2 workers), ns per poll. Profiled runs
#    use `profile -- CMD`: the sampler is attached before the command starts, and the
#    one-time work (finding the registry, reading symbols) falls inside the timed run.
# 2. examples/http_server --io-us 0 (CPU-bound, 2 workers) under wrk (2 threads, 32
#    connections, WRK_SECS each), requests per second. One server; profiled runs attach
#    with -p first and start wrk once sampling has begun.
# The measured programs (yield, the server, wrk) run under SCHED_FIFO (CHRT, default
# "chrt -f 10"; CHRT= to disable) so that other load on the machine moves them less; the
# profiler runs above them (chrt -f 20): it sleeps but for a few ms a second, and its
# sampling runs in the interrupted thread anyway.
set -u
out=${1:-.output}
runs=${RUNS:-5}
yields=${YIELDS:-400000}
wrk_secs=${WRK_SECS:-5}
port=${PORT:-18089}
AI=$out/async-inspect
read -ra chrt <<<"${CHRT-chrt -f 10}"
# The profiler above the measured programs, or two FIFO workers would starve it.
pchrt=()
[ ${#chrt[@]} -gt 0 ] && pchrt=(chrt -f 20)
die() { echo "bench/profile.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$AI" ] && [ -x "$out/bench/yield" ] && [ -x "$out/examples/http_server" ] ||
	die "build first: make OUTPUT=$out all $out/bench/yield"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
tmp=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ns_of() { sed -n 's|^yield_poll.* \([0-9.]*\) ns/poll.*|\1|p'; }

yield_args=(--threads 2 --tasks 100 --yields "$yields")
yield_plain() { "${chrt[@]}" "$out/bench/yield" "${yield_args[@]}" | ns_of; }
# Appends the sampler's own measure (BPF run count and ns) from profile --json output.
sampler_cost() { # FILE HZ
	sed -n '/^{/,$p' "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin)["sampler"]
print(sys.argv[1], d["runs"], d["run_ns"], d["tool_cpu_ns"])' "$2" >>"$tmp/cost" ||
		die "no JSON in $1"
}
yield_profiled() { # HZ
	"${pchrt[@]}" "$AI" profile -F "$1" --json --pprof "$tmp/y.pb.gz" -- "${chrt[@]}" "$out/bench/yield" \
		"${yield_args[@]}" >"$tmp/y.out" 2>"$tmp/err" || die "profiled yield: $(cat "$tmp/err")"
	grep -q "wrote [1-9][0-9]* samples" "$tmp/err" || die "profiled yield: $(cat "$tmp/err")"
	sampler_cost "$tmp/y.out" "$1"
	ns_of <"$tmp/y.out"
}

wrk_rps() {
	"${chrt[@]}" wrk -t2 -c32 -d"${wrk_secs}s" "http://127.0.0.1:$port/users/42" 2>&1 |
		awk '/^Requests\/sec:/ { print $2 } /Non-2xx|Socket errors/ { bad = 1 }
		     END { if (bad) exit 1 }'
}
http_profiled() { # HZ
	local p rps
	"${pchrt[@]}" "$AI" profile -p "$server" -F "$1" --json >"$tmp/h.json" 2>"$tmp/err" &
	p=$!
	for _ in $(seq 600); do grep -q sampling "$tmp/err" && break; sleep 0.1; done
	grep -q sampling "$tmp/err" || die "profile did not start: $(cat "$tmp/err")"
	rps=$(wrk_rps) || die "wrk reported errors"
	kill -INT "$p"
	wait "$p" || die "profile -p failed: $(cat "$tmp/err")"
	sampler_cost "$tmp/h.json" "$1"
	echo "$rps"
}

echo "async-inspect profile overhead: median of $runs alternating runs; $(nproc) CPUs, $(uname -r);"
echo "measured programs under '${chrt[*]:-normal priority}'"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
: >"$tmp/y0"; : >"$tmp/y99"; : >"$tmp/y999"; : >"$tmp/cost"
for _ in $(seq "$runs"); do
	yield_plain >>"$tmp/y0"
	yield_profiled 99 >>"$tmp/y99"
	yield_profiled 999 >>"$tmp/y999"
done

"${chrt[@]}" "$out/examples/http_server" --port "$port" --threads 2 --io-us 0 >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do wrk_rps >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null
: >"$tmp/h0"; : >"$tmp/h99"; : >"$tmp/h999"
for _ in $(seq "$runs"); do
	wrk_rps >>"$tmp/h0" || die "wrk reported errors"
	http_profiled 99 >>"$tmp/h99"
	http_profiled 999 >>"$tmp/h999"
done

y0=$(median <"$tmp/y0"); y99=$(median <"$tmp/y99"); y999=$(median <"$tmp/y999")
h0=$(median <"$tmp/h0"); h99=$(median <"$tmp/h99"); h999=$(median <"$tmp/h999")
echo "| workload | unprofiled | 99 Hz | ratio | 999 Hz | ratio |"
echo "| --- | --- | --- | --- | --- | --- |"
# Throughput ratios profiled/unprofiled: for ns/poll that is unprofiled/profiled.
awk -v a="$y0" -v b="$y99" -v c="$y999" 'BEGIN { printf "| bench/yield, 2 workers (ns/poll) | %s | %s | %.3f | %s | %.3f |\n", a, b, a / b, c, a / c }'
awk -v a="$h0" -v b="$h99" -v c="$h999" 'BEGIN { printf "| http_server under wrk (req/s) | %s | %s | %.3f | %s | %.3f |\n", a, b, b / a, c, c / a }'
echo
echo "ratio = throughput profiled / unprofiled (1.000 = no loss)."
# The sampler's cost measured inside the BPF program (bpf_ktime_get_ns around each run on
# a target thread), over every profiled run: an upper bound on the CPU it takes from the
# target, independent of machine noise (the perf timer interrupt itself is not included).
awk '{ runs[$1] += $2; ns[$1] += $3; tool[$1] += $4; n[$1]++ } END { for (hz in runs) if (runs[hz])
	printf "sampler at %s Hz: %d samples, %.0f ns each: %.3f%% of one CPU running the target; async-inspect itself: %.1f ms CPU per profiled run\n",
		hz, runs[hz], ns[hz] / runs[hz], hz * ns[hz] / runs[hz] / 1e7, tool[hz] / n[hz] / 1e6 }' "$tmp/cost" | sort -n -k3
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Raw runs:"
for f in y0 y99 y999 h0 h99 h999; do echo "  $f: $(tr '\n' ' ' <"$tmp/$f")"; done
