#!/bin/bash
# What `async-inspect trace` costs the traced program, RUNS alternating runs (default 5),
# medians and ratios printed as Markdown tables for bench/RESULTS.md. Needs root.
#
#   bench/trace.sh [OUTPUT_DIR]
#   RUNS=9 bench/trace.sh .output
#
# 1. Per poll, on bench/yield (poll-heavy: --tasks 100 tasks yielding --yields times, one
#    thread, probes linked in statically), ns per poll, five ways in one alternation:
#      untraced      probes compiled in, nothing attached
#      no probes     the same benchmark built with -DASYNC_NO_PROBES
#      empty BPF     an empty libbpf USDT program on libasync:poll (tests/bpf/empty_usdt):
#                    the floor of the one-trap-per-poll design (the first version of trace)
#      rings         an empty program on libasync:ring: the runtime writes its poll rings,
#                    nothing drains them (the target's own cost of the ring data path)
#      trace         async-inspect trace -- yield (rings drained by the BPF iterator, full
#                    aggregation); its ring overruns are printed (0: exact counts)
#      bpftrace      bpftrace aggregating the same poll probe per (pid, await point) and
#                    per task: count, busy sum, poll and scheduling-delay histograms
#    Traced runs attach before the command starts (-- CMD / -c CMD), so the timed part
#    is all traced.
# 2. examples/http_server (2 workers, --io-us IO_US, default 0: CPU-bound, so tracing
#    costs show) under wrk (2 threads, 32 connections, WRK_SECS each): requests per
#    second untraced vs under `trace -p`.
# Wall-clock numbers. On a shared 2-core VM other load moved single runs by 2x, so every
# measured process runs under SCHED_FIFO (chrt -f 10; RT=0 turns that off): the
# benchmark, the traced command (it inherits the class through trace / bpftrace -c), the
# server and wrk. The load average is printed with the results.
set -u
out=${1:-.output}
runs=${RUNS:-5}
yields=${YIELDS:-2000}
wrk_secs=${WRK_SECS:-5}
port=${PORT:-18091}
io_us=${IO_US:-0}
AI=$out/async-inspect
Y=$(cd "$out" && pwd)/bench/yield
die() { echo "bench/trace.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$AI" ] && [ -x "$Y" ] && [ -x "$out/bench/noprobes/yield" ] && [ -x "$out/tests/empty_usdt" ] &&
	[ -x "$out/examples/http_server" ] ||
	die "build first: make OUTPUT=$out all tests $out/bench/yield $out/bench/noprobes/yield"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
command -v bpftrace >/dev/null || die "bpftrace not installed (apt-get install bpftrace)"
tmp=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

ns_of() { sed -n 's|.* \([0-9.]*\) ns/.*|\1|p' | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

rt=()
[ "${RT:-1}" = 1 ] && rt=(chrt -f 10)
yargs="--threads 1 --tasks 100 --yields $yields"
bt='usdt:'$Y':libasync:poll { @polls[pid, arg4] = count(); @busy[pid, arg4] = sum(arg2 - arg1);
  @poll_ns[pid, arg4] = hist(arg2 - arg1); @sched_ns[pid, arg4] = hist(arg1 - arg3);
  @task_busy[pid, arg0] = sum(arg2 - arg1); }'
: >"$tmp/untraced" >"$tmp/noprobes" >"$tmp/empty" >"$tmp/rings" >"$tmp/trace" >"$tmp/bpftrace" >"$tmp/overruns"
for i in $(seq "$runs"); do
	"${rt[@]}" "$Y" $yargs | ns_of >>"$tmp/untraced"
	"${rt[@]}" "$out/bench/noprobes/yield" $yargs | ns_of >>"$tmp/noprobes"
	"${rt[@]}" "$out/tests/empty_usdt" poll "$Y" $yargs | ns_of >>"$tmp/empty"
	"${rt[@]}" "$out/tests/empty_usdt" ring "$Y" $yargs | ns_of >>"$tmp/rings"
	"${rt[@]}" "$AI" trace --json -o "$tmp/t.json" -- "$Y" $yargs | ns_of >>"$tmp/trace"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lost"]["ring_overruns"])' \
		"$tmp/t.json" >>"$tmp/overruns"
	"${rt[@]}" bpftrace -e "$bt" -c "$Y $yargs" 2>/dev/null | ns_of >>"$tmp/bpftrace"
	echo "run $i/$runs: untraced $(tail -n1 "$tmp/untraced") noprobes $(tail -n1 "$tmp/noprobes")" \
		"empty $(tail -n1 "$tmp/empty") rings $(tail -n1 "$tmp/rings") trace $(tail -n1 "$tmp/trace")" \
		"(overruns $(tail -n1 "$tmp/overruns")) bpftrace $(tail -n1 "$tmp/bpftrace")" >&2
done
for k in untraced noprobes empty rings trace bpftrace; do
	[ "$(wc -l <"$tmp/$k")" -eq "$runs" ] || die "some '$k' runs printed no result"
	eval "m_$k=\$(median <\"\$tmp/\$k\")"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Per poll, bench/yield $yargs, median of $runs alternating runs (ns/poll):"
echo
echo "| run | ns/poll | vs untraced | added per poll |"
echo "| --- | ---: | ---: | ---: |"
for k in noprobes untraced empty rings trace bpftrace; do
	eval "v=\$m_$k"
	printf '| %s | %s | %sx | %s ns |\n' "$k" "$v" "$(ratio "$v" "$m_untraced")" \
		"$(awk -v a="$v" -v b="$m_untraced" 'BEGIN { printf "%.0f", a - b }')"
done
echo
echo "trace / empty-program floor: $(ratio "$m_trace" "$m_empty"); trace / bpftrace: $(ratio "$m_trace" "$m_bpftrace");" \
	"ring overruns per trace run: $(tr '\n' ' ' <"$tmp/overruns")"

# ---- http_server under wrk ----------------------------------------------------------------
: >"$tmp/server.out"
"${rt[@]}" "$out/examples/http_server" --port "$port" --threads 2 --io-us "$io_us" >"$tmp/server.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q listening "$tmp/server.out" && break; sleep 0.1; done
grep -q listening "$tmp/server.out" || die "http_server did not start: $(cat "$tmp/server.out")"
rps() { "${rt[@]}" wrk -t2 -c32 -d"${wrk_secs}s" "http://127.0.0.1:$port/users/1" | awk '/Requests\/sec/ { print $2 }'; }
: >"$tmp/w_untraced" >"$tmp/w_trace"
for i in $(seq "$runs"); do
	rps >>"$tmp/w_untraced"
	"$AI" trace -p "$server" -o "$tmp/w.txt" 2>"$tmp/w.err" &
	tracer=$!
	for _ in $(seq 100); do grep -q Tracing "$tmp/w.err" && break; sleep 0.1; done
	rps >>"$tmp/w_trace"
	kill -INT "$tracer"
	wait "$tracer" || die "trace -p failed: $(cat "$tmp/w.err")"
	echo "wrk run $i/$runs: untraced $(tail -n1 "$tmp/w_untraced") traced $(tail -n1 "$tmp/w_trace") req/s" >&2
done
wu=$(median <"$tmp/w_untraced")
wt=$(median <"$tmp/w_trace")
echo
echo "http_server --threads 2 --io-us $io_us under wrk -t2 -c32 -d${wrk_secs}s, median of $runs alternating runs:"
echo
echo "| run | requests/s | vs untraced |"
echo "| --- | ---: | ---: |"
echo "| untraced | $wu | 1.00x |"
echo "| trace -p | $wt | $(ratio "$wt" "$wu")x |"
