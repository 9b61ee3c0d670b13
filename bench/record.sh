#!/bin/bash
# What `async-inspect record` costs and sustains, RUNS alternating runs (default 5),
# medians printed as Markdown tables for bench/RESULTS.md. Needs root.
#
#   bench/record.sh [OUTPUT_DIR]
#   RUNS=9 YIELDS=20000 bench/record.sh .output
#
# On bench/yield (poll-heavy: 100 tasks yielding YIELDS times; one event per poll), in one
# alternation:
#   untraced       probes compiled in, nothing attached (1 thread)
#   empty BPF      an empty libbpf USDT program on libasync:poll (tests/bpf/empty_usdt),
#                  the trap-per-poll floor any probe-based recorder pays (1 thread)
#   record 1T      async-inspect record -- yield, 1 worker thread
#   record 2T      the same with 2 worker threads (both CPUs hitting probes)
#   record 2T 1MiB the same into a 1 MiB ring buffer (-b 1): where loss starts
# For each recorded run: ns per poll, events recorded, events lost, file bytes per event,
# and the recording rate: events / the benchmark's own run time (polls x ns/poll).
set -u
out=${1:-.output}
runs=${RUNS:-5}
yields=${YIELDS:-5000}
AI=$out/async-inspect
Y=$(cd "$out" && pwd)/bench/yield
die() { echo "bench/record.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$AI" ] && [ -x "$Y" ] && [ -x "$out/tests/empty_usdt" ] ||
	die "build first: make OUTPUT=$out all tests $out/bench/yield"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# one recorded run: appends "ns events lost bytes_per_event rate" to $tmp/$1
rec() { # key threads [record options]
	local key=$1 threads=$2 line ns polls ev lost bpe
	shift 2
	line=$("$AI" record "$@" -o "$tmp/r.rec" -- "$Y" --threads "$threads" --tasks 100 \
		--yields "$yields" 2>"$tmp/err") || die "record failed: $(cat "$tmp/err")"
	ns=$(echo "$line" | sed -n 's|.* \([0-9.]*\) ns/poll.*|\1|p')
	polls=$(echo "$line" | sed -n 's|.*= \([0-9]*\) polls.*|\1|p')
	ev=$(sed -n 's|^Recorded \([0-9]*\) events.*|\1|p' "$tmp/err")
	bpe=$(sed -n 's|.*bytes, \([0-9.]*\) bytes/event), .*|\1|p' "$tmp/err")
	lost=$(sed -n 's|.*bytes/event), \([0-9]*\) lost.*|\1|p' "$tmp/err")
	[ -n "$ns" ] && [ -n "$ev" ] || die "unexpected output: $line / $(cat "$tmp/err")"
	echo "$ns $ev $lost $bpe $(awk -v e="$ev" -v p="$polls" -v n="$ns" 'BEGIN { printf "%.0f", e / (p * n * 1e-9) }')" >>"$tmp/$key"
}

: >"$tmp/untraced" >"$tmp/empty"
for i in $(seq "$runs"); do
	"$Y" --threads 1 --tasks 100 --yields "$yields" | sed -n 's|.* \([0-9.]*\) ns/poll.*|\1|p' >>"$tmp/untraced"
	"$out/tests/empty_usdt" poll "$Y" --threads 1 --tasks 100 --yields "$yields" |
		sed -n 's|.* \([0-9.]*\) ns/poll.*|\1|p' >>"$tmp/empty"
	rec r1 1
	rec r2 2
	rec r2s 2 -b 1
	echo "run $i/$runs: untraced $(tail -n1 "$tmp/untraced") empty $(tail -n1 "$tmp/empty") | 1T $(tail -n1 "$tmp/r1") | 2T $(tail -n1 "$tmp/r2") | 2T 1MiB $(tail -n1 "$tmp/r2s")" >&2
done
mu=$(median <"$tmp/untraced")
me=$(median <"$tmp/empty")
col() { awk -v c="$2" '{ print $c }' "$tmp/$1" | median; }
echo
echo "bench/yield --tasks 100 --yields $yields (one event per poll), median of $runs alternating runs:"
echo
echo "| run | ns/poll | vs untraced | events | lost | file bytes/event | recorded events/s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| untraced, 1 thread | $mu | 1.00x | | | | |"
echo "| empty BPF program on poll, 1 thread | $me | $(ratio "$me" "$mu")x | | | | |"
for k in r1 r2 r2s; do
	case $k in r1) name="record, 1 thread" ;; r2) name="record, 2 threads" ;; r2s) name="record, 2 threads, -b 1 (1 MiB ring)" ;; esac
	ns=$(col "$k" 1)
	echo "| $name | $ns | $(ratio "$ns" "$mu")x | $(col "$k" 2) | $(col "$k" 3) | $(col "$k" 4) | $(col "$k" 5) |"
done
echo
echo "record (1 thread) over the empty-program floor: $(awk -v a="$(col r1 1)" -v b="$me" 'BEGIN { printf "%.0f", a - b }') ns per poll"
