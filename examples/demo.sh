#!/bin/bash
# The demo `make demo` runs: start the example HTTP server on a free port, put a short
# loopback load on it and, with async-inspect built and root privileges, trace it by PID
# while the load runs and print the summary, then `diagnose` it (a healthy server: no
# findings). Without a working `async-inspect trace`
# it runs fetch_user instead and says why. Only the tracing part needs root.
#   examples/demo.sh OUTPUT_DIR        (make demo passes the build's output dir)
#   DEMO_SECONDS=5 examples/demo.sh .output
set -u
out=${1:-.output}
secs=${DEMO_SECONDS:-3}
ex=$out/examples
ai=$out/async-inspect

die() { echo "demo: $*" >&2; exit 1; }
if [ ! -x "$ex/http_server" ] || [ ! -x "$ex/fetch_user" ]; then
	die "examples not built in $out (run: make)"
fi

tmp=$(mktemp -d)
server=
load=
cleanup() {
	[ -n "$load" ] && kill "$load" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The server, on a port the kernel picks; it prints "listening on 127.0.0.1:PORT".
"$ex/http_server" --port 0 >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
for _ in $(seq 100); do
	grep -q '^listening on ' "$tmp/server.out" && break
	kill -0 "$server" 2>/dev/null || die "http_server exited: $(cat "$tmp/server.err")"
	sleep 0.05
done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/server.out")
[ -n "$port" ] || die "http_server did not report its port"
url=http://127.0.0.1:$port/users/1
echo "== http_server (pid $server) listening on 127.0.0.1:$port"
echo "== $(curl -s "$url" 2>/dev/null || echo '(curl not installed)')"

# 2. Load: wrk if installed, else a shell loop of keep-alive-less requests.
start_load() { # seconds
	if command -v wrk >/dev/null; then
		wrk -t2 -c32 -d"$1"s "$url" >"$tmp/load.out" 2>&1 &
	else
		(end=$((SECONDS + $1)); n=0
		 while [ $SECONDS -lt "$end" ]; do
			exec 3<>"/dev/tcp/127.0.0.1/$port" || break
			printf 'GET /users/%d HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' $n >&3
			cat <&3 >/dev/null; exec 3<&-; n=$((n + 1))
		 done; echo "$n requests (shell loop; install wrk for real load)") >"$tmp/load.out" 2>&1 &
	fi
	load=$!
}

# 3. Trace it, if async-inspect trace works here.
can_trace=no
why=
if [ ! -x "$ai" ]; then
	why="$ai is not built"
elif ! "$ai" trace --help >/dev/null 2>&1; then
	why="'async-inspect trace' is not available in this build"
elif [ "$(id -u)" -ne 0 ]; then
	why="tracing needs root: run 'sudo make demo'"
else
	can_trace=yes
fi

if [ $can_trace = yes ]; then
	echo "== async-inspect trace -p $server -d $secs   (under load)"
	"$ai" trace -p "$server" -d "$secs" >"$tmp/trace.out" 2>&1 &
	tracer=$!
	# Start the load once the probes are attached, so every connection is seen.
	for _ in $(seq 100); do
		grep -q '^Tracing' "$tmp/trace.out" && break
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.05
	done
	start_load "$secs"
	wait "$tracer"
	rc=$?
	cat "$tmp/trace.out"
	wait "$load"
	load=
	echo "== load: $(grep -E 'Requests/sec|requests|errors' "$tmp/load.out" | tr -s ' ' | paste -sd ';' -)"
	[ $rc -eq 0 ] || exit $rc
	# What is wrong with it? A healthy server: no findings (exit 0); 1 would mean findings.
	echo "== async-inspect diagnose -p $server -d 2"
	"$ai" diagnose -p "$server" -d 2
	rc=$?
	[ $rc -le 1 ] || exit $rc
	exit 0
fi

start_load "$secs"
wait "$load"
load=
echo "== load: $(grep -E 'Requests/sec|requests|errors' "$tmp/load.out" | tr -s ' ' | paste -sd ';' -)"
echo "== not tracing: $why"
echo "== instead, the brief's example: fetch_user --users 100 --io-ms 5"
"$ex/fetch_user" --users 100 --io-ms 5
