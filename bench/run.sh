#!/bin/bash
# Runtime benchmarks: each benchmark with probes compiled in (no tracer attached) and
# compiled out (-DASYNC_NO_PROBES), run alternately RUNS times (default 5); prints the
# medians and the in/out ratios as a Markdown table, for wall-clock time and for the
# process' CPU time (the figure a busy machine disturbs least). Then libasync against
# tokio on the same shape of work (spawn + one yield + join, batches of 1024, 1 and 2
# workers), if ../shared/peers/tokio builds here (cargo + Debian's librust-tokio-dev);
# skipped with a note otherwise.
#   bench/run.sh [OUTPUT_DIR]        (make bench runs it with the build's output dir)
#   RUNS=9 bench/run.sh .output      more alternations
#   ONLY=spawn bench/run.sh .output  only the benchmarks whose command starts with "spawn"
#   NO_TOKIO=1 bench/run.sh .output  skip the tokio comparison
#   CHRT= bench/run.sh .output       do not run the measured processes under SCHED_FIFO
# As root, every measured process runs under SCHED_FIFO (`chrt -f 10`, like
# bench/trace.sh): other load on a small machine otherwise moves single runs by 2x.
set -u
out=${1:-.output}
runs=${RUNS:-5}
only=${ONLY:-}
here=$(cd "$(dirname "$0")" && pwd)
peer=${TOKIO_PEER:-$here/../../shared/peers/tokio}
[ -d "$peer" ] || peer=/work/shared/peers/tokio

die() { echo "bench/run.sh: $*" >&2; exit 1; }
[ "$runs" -ge 1 ] 2>/dev/null || die "RUNS must be a positive number, got '$runs'"
[ -d "$out" ] || die "no output directory '$out'"
for b in spawn pingpong chan yield; do
	if [ ! -x "$out/bench/$b" ] || [ ! -x "$out/bench/noprobes/$b" ]; then
		die "$out/bench/$b or $out/bench/noprobes/$b not built (run: make OUTPUT=$out bench)"
	fi
done
command -v python3 >/dev/null || die "python3 is needed to measure CPU time"
if [ -z "${CHRT+set}" ]; then
	CHRT=
	[ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null && CHRT="chrt -f 10"
fi
read -ra chrt <<<"$CHRT"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# A libasync benchmark: "<wall> <cpu>" in ns per unit, from its result line.
run_bench() {
	local line
	line=$("${chrt[@]}" "$@") || die "failed: $*"
	echo "$line" | sed -n 's|.* \([0-9.]*\) ns/[a-z]* (cpu=\([0-9.]*\)ns/.*|\1 \2|p'
}

# Any command: "<wall> <cpu>" in ns per unit, measured from outside (wall clock and
# the child's user+system time), UNITS units of work.
run_outside() { # units command...
	local units=$1
	shift
	python3 - "$units" "${chrt[@]}" "$@" <<-'EOF' || die "failed: $*"
		import resource, subprocess, sys, time
		units = float(sys.argv[1])
		t = time.monotonic_ns()
		subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, check=True)
		wall = time.monotonic_ns() - t
		r = resource.getrusage(resource.RUSAGE_CHILDREN)
		print("%.1f %.1f" % (wall / units, (r.ru_utime + r.ru_stime) * 1e9 / units))
	EOF
}

# Runs A and B alternately (which goes first alternates, so drift hits both alike) and
# prints "<wall A> <wall B> <cpu A> <cpu B>", medians. A and B are functions.
pair() { # A B
	local r a b wa=() wb=() ca=() cb=()
	for ((r = 0; r < runs; r++)); do
		if ((r % 2 == 0)); then
			a=$($1) || exit 1
			b=$($2) || exit 1
		else
			b=$($2) || exit 1
			a=$($1) || exit 1
		fi
		wa+=("${a% *}") ca+=("${a#* }") wb+=("${b% *}") cb+=("${b#* }")
	done
	echo "$(printf '%s\n' "${wa[@]}" | median) $(printf '%s\n' "${wb[@]}" | median)" \
		"$(printf '%s\n' "${ca[@]}" | median) $(printf '%s\n' "${cb[@]}" | median)"
}

configs=(
	"spawn --threads 1 --iters 1000000"
	"spawn --threads 2 --iters 1000000"
	"pingpong --threads 1 --iters 1000000"
	"pingpong --threads 2 --iters 300000"
	"chan --threads 1 --iters 1000000"
	"chan --threads 2 --iters 300000"
	"yield --threads 1 --tasks 100 --yields 10000"
	"yield --threads 2 --tasks 100 --yields 10000"
)

echo "libasync runtime benchmarks, probes compiled in (no tracer attached) vs out:"
echo "median of $runs alternating runs each; $(nproc) CPUs, Linux $(uname -r), load average"
echo "$(cut -d' ' -f1-3 /proc/loadavg) at the start; scheduling: ${CHRT:-default}. CPU = the"
echo "process' user+system time."
echo
echo "| benchmark | threads | wall, in | wall, out | in/out | CPU, in | CPU, out | in/out |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for args in "${configs[@]}"; do
	[ -n "$only" ] && [ "${args#"$only"}" = "$args" ] && continue
	read -ra argv <<<"$args"
	bin=${argv[0]}
	rest=("${argv[@]:1}")
	threads=$(echo "$args" | sed -n 's/.*--threads \([0-9]*\).*/\1/p')
	line=$("$out/bench/noprobes/$bin" "${rest[@]}") || die "failed: $out/bench/noprobes/$args"
	name=${line%% *}
	unit=$(echo "$line" | sed -n 's|.* ns/\([a-z]*\) .*|\1|p')
	probes_in() { run_bench "$out/bench/$bin" "${rest[@]}"; }
	probes_out() { run_bench "$out/bench/noprobes/$bin" "${rest[@]}"; }
	read -r wi wo ci co < <(pair probes_in probes_out)
	[ -n "$co" ] || die "no result from $args"
	echo "| $name | $threads | $wi ns/$unit | $wo ns/$unit | $(ratio "$wi" "$wo") |" \
		"$ci ns/$unit | $co ns/$unit | $(ratio "$ci" "$co") |"
done

# ---- tokio ------------------------------------------------------------------------------
[ -n "${NO_TOKIO:-}" ] && exit 0
[ -n "$only" ] && [ "${only#spawn}" = "$only" ] && exit 0
echo
tk=$(cd "$out" && pwd)/bench/tokio
build_tokio() {
	command -v cargo >/dev/null || { echo "cargo not found"; return 1; }
	[ -d /usr/share/cargo/registry ] ||
		{ echo "no /usr/share/cargo/registry (apt-get install librust-tokio-dev)"; return 1; }
	[ -f "$peer/Cargo.toml" ] || { echo "no tokio peer at $peer"; return 1; }
	mkdir -p "$tk/cargo-home" && cp -r "$peer/Cargo.toml" "$peer/src" "$tk/" || return 1
	# Offline, from the crates Debian packages (librust-*-dev) install.
	cat >"$tk/cargo-home/config.toml" <<-EOF
		[source.crates-io]
		replace-with = "debian"
		[source.debian]
		directory = "/usr/share/cargo/registry"
		[net]
		offline = true
	EOF
	(cd "$tk" && CARGO_HOME="$tk/cargo-home" cargo build --release -q >"$tk/build.log" 2>&1) ||
		{ echo "cargo build failed: $(tail -n 3 "$tk/build.log" | tr '\n' ' ')"; return 1; }
}
if ! why=$(build_tokio); then
	echo "tokio comparison skipped: $why"
	exit 0
fi
tokio_bin=$tk/target/release/tkbench
tokio_dirs=(/usr/share/cargo/registry/tokio-1.*)
tokio_version=$(basename "${tokio_dirs[0]}")
echo "libasync (probes in) vs ${tokio_version:-tokio}: spawn + one yield + join, batches of 1024,"
echo "1000000 tasks (../shared/peers/tokio/src/main.rs and bench/spawn.c); both measured"
echo "from outside (whole process: wall clock, and user+system time), median of $runs"
echo "alternating runs; scheduling: ${CHRT:-default}"
echo
echo "| threads | wall, libasync | wall, tokio | libasync/tokio | CPU, libasync | CPU, tokio | libasync/tokio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for threads in 1 2; do
	la() { run_outside 1000000 "$out/bench/spawn" --threads "$threads" --iters 1000000 --yields 1; }
	tko() { run_outside 1000000 "$tokio_bin" 1000000 "$threads"; }
	read -r wl wt cl ct < <(pair la tko)
	[ -n "$ct" ] || die "no result from the tokio comparison"
	echo "| $threads | $wl ns/task | $wt ns/task | $(ratio "$wl" "$wt") |" \
		"$cl ns/task | $ct ns/task | $(ratio "$cl" "$ct") |"
done
