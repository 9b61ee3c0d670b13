#!/bin/bash
# Probe cost with no tracer attached, in instructions (deterministic, unlike time):
# each single-threaded runtime benchmark built with probes compiled in and out
# (-DASYNC_NO_PROBES) runs under `valgrind --tool=callgrind` at N and 2N units of work;
# (Ir(2N) - Ir(N)) / N is the instructions ("Ir") per unit with start-up and teardown
# cancelled out. Prints a Markdown table of Ir per unit, in and out, and in/out.
#   bench/callgrind.sh [OUTPUT_DIR]    (needs valgrind; builds: make OUTPUT=DIR bench programs)
#   ONLY=yield bench/callgrind.sh .output
set -u
out=${1:-.output}
only=${ONLY:-}
die() { echo "bench/callgrind.sh: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
[ -d "$out" ] || die "no output directory '$out'"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions executed by one run of "$@" (all threads).
ir() {
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$@" >/dev/null 2>"$tmp/err" ||
		die "failed: $* ($(tail -n 1 "$tmp/err"))"
	sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg"
}

# name unit per k bench args (with @K@ for k, then 2k): one table row; a run at k does
# k * per units of work.
row() {
	local name=$1 unit=$2 per=$3 k=$4 bin=$5 v path a b r_in r_out
	shift 5
	[ -n "$only" ] && [ "$bin" != "$only" ] && return
	for v in in out; do
		path=$out/bench/$bin
		[ $v = out ] && path=$out/bench/noprobes/$bin
		[ -x "$path" ] || die "$path not built (make OUTPUT=$out $path)"
		a=$(ir "$path" "${@//@K@/$k}")
		b=$(ir "$path" "${@//@K@/$((2 * k))}")
		printf -v "r_$v" '%s' "$(awk -v a="$a" -v b="$b" -v n="$((k * per))" \
			'BEGIN { printf "%.2f", (b - a) / n }')"
	done
	echo "| $name | $r_in Ir/$unit | $r_out Ir/$unit |" \
		"$(awk -v a="$r_in" -v b="$r_out" 'BEGIN { printf "%.4f", a / b }') |"
}

echo "| benchmark (1 thread) | probes in | probes out | in/out |"
echo "| --- | ---: | ---: | ---: |"
row spawn_join task 1 100000 spawn --threads 1 --iters @K@
row yield_poll poll 100 10000 yield --threads 1 --tasks 100 --yields @K@
row pingpong roundtrip 1 100000 pingpong --threads 1 --iters @K@
row chan_pingpong roundtrip 1 100000 chan --threads 1 --iters @K@
