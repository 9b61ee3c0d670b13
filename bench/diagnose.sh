#!/bin/bash
# What `async-inspect diagnose` costs a context-switch-heavy server: examples/http_server
# (2 workers, every request an epoll wake and a worker park) under wrk, RUNS alternating
# runs (default 5) without and with `diagnose -p` watching the whole run (its BPF program
# runs on every context switch of the server's threads; its 2 ms reads of the thread
# records cost the server nothing). Prints the requests/s medians and their ratio, the
# server's context switches per second, and the BPF program's own time per switch.
#   bench/diagnose.sh [OUTPUT_DIR]        RUNS=9 WRK_SECS=5 bench/diagnose.sh .output
set -u
out=${1:-.output}
runs=${RUNS:-5}
wrk_secs=${WRK_SECS:-5}
port=${PORT:-18093}
AI=$out/async-inspect
die() { echo "bench/diagnose.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$AI" ] && [ -x "$out/examples/http_server" ] || die "build first: make OUTPUT=$out"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
tmp=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rt=()
[ "${RT:-1}" = 1 ] && rt=(chrt -f 10)

"${rt[@]}" "$out/examples/http_server" --port "$port" --threads 2 >"$tmp/server.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q listening "$tmp/server.out" && break; sleep 0.1; done
grep -q listening "$tmp/server.out" || die "http_server did not start: $(cat "$tmp/server.out")"
switches() { # voluntary + involuntary context switches of every thread of the server
	cat /proc/"$server"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}
rps() { "${rt[@]}" wrk -t2 -c32 -d"${wrk_secs}s" "http://127.0.0.1:$port/users/1" | awk '/Requests\/sec/ { print $2 }'; }
: >"$tmp/plain" >"$tmp/diag" >"$tmp/cs"
for i in $(seq "$runs"); do
	c0=$(switches)
	rps >>"$tmp/plain"
	c1=$(switches)
	echo $(((c1 - c0) / wrk_secs)) >>"$tmp/cs"
	"$AI" diagnose -p "$server" -d $((wrk_secs + 2)) -v >"$tmp/d.out" 2>"$tmp/d.err" &
	diag=$!
	sleep 1 # loaded and attached
	rps >>"$tmp/diag"
	wait "$diag"
	echo "run $i/$runs: plain $(tail -n1 "$tmp/plain") diagnose $(tail -n1 "$tmp/diag") req/s" >&2
done
p=$(median <"$tmp/plain")
d=$(median <"$tmp/diag")
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "http_server --threads 2 under wrk -t2 -c32 -d${wrk_secs}s: $(median <"$tmp/cs") context switches/s;" \
	"median of $runs alternating runs:"
echo
echo "| run | requests/s | vs plain |"
echo "| --- | ---: | ---: |"
echo "| plain | $p | 1.00x |"
echo "| diagnose -p | $d | $(awk -v a="$d" -v b="$p" 'BEGIN { printf "%.3f", a / b }')x |"
grep -h "offcpu:" "$tmp/d.err" | tail -n 1
