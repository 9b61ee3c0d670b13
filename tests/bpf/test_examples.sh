#!/bin/bash
# The example programs as programs: options and their errors, exit statuses, what each
# one does (fetch_user checks every result itself; deadlock hangs idle; blocking
# finishes; http_server answers, pipelines, rejects bad requests and serves wrk without
# errors). Needs no BPF and no root.
# shellcheck source=tests/bpf/lib.sh
. "$(dirname "$0")/lib.sh"

for p in fetch_user http_server deadlock blocking; do
	[ -x "$EX/$p" ] || fail "$EX/$p not built"
	"$EX/$p" --help >"$TMP/help" 2>&1 || fail "$p --help exited $?"
	grep -q '^EXAMPLES' "$TMP/help" || fail "$p --help has no EXAMPLES block"
	# Bad input: exit 2 and exactly one line on stderr naming the problem.
	for bad in "--no-such-option" "--threads x" "--threads 0" "stray-argument"; do
		# shellcheck disable=SC2086
		"$EX/$p" $bad >"$TMP/out" 2>"$TMP/err"
		rc=$?
		[ $rc -eq 2 ] || fail "$p $bad: expected exit 2, got $rc"
		[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$p $bad: expected one error line, got: $(cat "$TMP/err")"
		grep -q "^$p: " "$TMP/err" || fail "$p $bad: error not prefixed '$p: ': $(cat "$TMP/err")"
	done
	"$EX/$p" --threads >/dev/null 2>"$TMP/err"
	[ $? -eq 2 ] && grep -q "needs a value" "$TMP/err" || fail "$p --threads without a value: $(cat "$TMP/err")"
	ok "$p: --help with EXAMPLES, bad options exit 2 with one line"
done

# fetch_user checks every joined user itself (exit 1 on a wrong result); stdout stays empty.
timeout 60 "$EX/fetch_user" --users 300 --io-ms 2 >"$TMP/out" 2>"$TMP/err" || fail "fetch_user exited $?: $(cat "$TMP/err")"
[ ! -s "$TMP/out" ] || fail "fetch_user wrote to stdout: $(cat "$TMP/out")"
grep -q '^fetched 300 users in ' "$TMP/err" || fail "fetch_user summary: $(cat "$TMP/err")"
timeout 60 "$EX/fetch_user" --users 3000 --io-ms 0 --threads 2 2>/dev/null || fail "fetch_user --users 3000 exited $?"
ok "fetch_user: 300 and 3000 users fetched and checked"
# With I/O of M ms the two awaits take >= 2M ms.
start=$(date +%s%N)
"$EX/fetch_user" --users 10 --io-ms 50 2>/dev/null || fail "fetch_user --io-ms 50 failed"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 100 ] || fail "fetch_user --io-ms 50 took $ms ms, expected >= 100"
ok "fetch_user --io-ms 50: $ms ms (>= 100)"
# --forever keeps going until killed.
bg "$EX/fetch_user" --forever --users 20 --io-ms 1
sleep 0.5
kill -0 "$BG_PID" 2>/dev/null || fail "fetch_user --forever exited"
ok "fetch_user --forever still running after 0.5 s"

# deadlock: prints its ready line, then stays alive and idle.
for mode in "" "--three"; do
	# shellcheck disable=SC2086
	bg "$EX/deadlock" $mode >"$TMP/dl.out"
	for _ in $(seq 100); do grep -q '^deadlock: ready' "$TMP/dl.out" && break; sleep 0.05; done
	grep -q '^deadlock: ready' "$TMP/dl.out" || fail "deadlock $mode: no ready line"
	t0=$(awk '{ print $14 + $15 }' "/proc/$BG_PID/stat")
	sleep 1
	kill -0 "$BG_PID" 2>/dev/null || fail "deadlock $mode exited"
	t1=$(awk '{ print $14 + $15 }' "/proc/$BG_PID/stat")
	[ $((t1 - t0)) -le 5 ] || fail "deadlock $mode used $((t1 - t0)) ticks of CPU in 1 s: not idle"
	ok "deadlock $mode: ready, alive and idle ($((t1 - t0)) ticks in 1 s)"
	kill "$BG_PID"
done

# blocking: finishes; with 2 workers the tickers keep ticking while checksum blocks.
timeout 60 "$EX/blocking" --rounds 4 --block-ms 50 >/dev/null 2>"$TMP/err" || fail "blocking exited $?"
ticks=$(sed -n 's/.*tickers ticked \([0-9]*\) times.*/\1/p' "$TMP/err")
[ "${ticks:-0}" -ge 10 ] || fail "blocking: tickers ticked ${ticks:-?} times in 200 ms of blocking"
timeout 60 "$EX/blocking" --rounds 2 --fixed 2>/dev/null || fail "blocking --fixed exited $?"
ok "blocking: finished, tickers ticked $ticks times meanwhile; --fixed finished"

# http_server
"$EX/http_server" --port 0 >"$TMP/srv.out" 2>"$TMP/srv.err" &
srv=$!
PIDS+=("$srv")
for _ in $(seq 100); do grep -q '^listening on ' "$TMP/srv.out" && break; sleep 0.05; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/srv.out")
[ -n "$port" ] || fail "http_server printed no 'listening on 127.0.0.1:PORT': $(cat "$TMP/srv.out" "$TMP/srv.err")"
ok "http_server listening on port $port"
"$EX/http_server" --port "$port" >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && grep -q "failed to listen on 127.0.0.1:$port" "$TMP/err" ||
	fail "second server on a used port: $(cat "$TMP/err")"
ok "port in use: exit 1, $(cat "$TMP/err")"

python3 - "$port" <<'EOF' || fail "http_server protocol checks failed"
import json, socket, sys

port = int(sys.argv[1])

def talk(data, timeout=3.0):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, "closed"
            out += d
    except socket.timeout:
        return out, "open"
    except ConnectionResetError:
        return out, "reset"
    finally:
        s.close()

def responses(raw):
    """Splits a byte stream into (status, headers, body) by Content-Length."""
    res = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(hdrs["content-length"])
        res.append((status, hdrs, rest[:n]))
        raw = rest[n:]
    return res

def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        sys.exit(1)

out, state = talk(b"GET /users/42 HTTP/1.1\r\nHost: t\r\n\r\n", timeout=1.0)
r = responses(out)
check(len(r) == 1 and r[0][0] == 200 and state == "open", "GET /users/42: 200, keep-alive")
body = json.loads(r[0][2])
check(body["id"] == 42 and body["name"] == "user-42", "body is the JSON of user 42: %s" % body)

out, state = talk(b"GET /users/1 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
                  b"DELETE /users/3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
                  b"GET /users/4?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n")
r = responses(out)
check([x[0] for x in r] == [200, 404, 405, 200] and state == "closed",
      "pipelined 200, 404, 405 (body skipped), 200 then close: %s" % [x[0] for x in r])
check(json.loads(r[3][2])["id"] == 4, "the 4th pipelined answer is user 4")

for bad in [b"GARBAGE\r\n\r\n", b"GET /users/1 HTTP/2.0\r\n\r\n", b"get /users/1 HTTP/1.1\r\n\r\n",
            b"GET /users/1 HTTP/1.1\r\nNo colon here\r\n\r\n",
            b"GET /users/1 HTTP/1.1\r\nContent-Length: x\r\n\r\n"]:
    out, state = talk(bad)
    r = responses(out)
    check(len(r) == 1 and r[0][0] == 400 and r[0][1].get("connection") == "close"
          and state == "closed", "malformed %r: 400 and close" % bad[:30])

out, state = talk(b"GET /users/1 HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
check(out.startswith(b"HTTP/1.1 431 "), "9000-byte header: 431 (%s)" % state)
out, state = talk(b"GET /users/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
check(out.startswith(b"HTTP/1.1 501 ") and state == "closed", "chunked request: 501 and close")
out, state = talk(b"GET /users/1 HTTP/1.0\r\n\r\n")
check(out.startswith(b"HTTP/1.1 200 ") and state == "closed", "HTTP/1.0: answered, closed")
out, state = talk(b"GET /users/1 HTT", timeout=0.5)
check(out == b"" and state == "open", "partial request: waits for the rest")
EOF
ok "http_server: routes, pipelining, bad requests"

if command -v wrk >/dev/null; then
	wrk -t2 -c32 -d2s "http://127.0.0.1:$port/users/1" >"$TMP/wrk" 2>&1 || fail "wrk failed: $(cat "$TMP/wrk")"
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$TMP/wrk")
	grep -q -E 'Socket errors|Non-2xx' "$TMP/wrk" && fail "wrk saw errors: $(cat "$TMP/wrk")"
	[ "${reqs:-0}" -gt 100 ] || fail "wrk: only ${reqs:-0} requests: $(cat "$TMP/wrk")"
	ok "wrk -t2 -c32 -d2s: $reqs requests, no socket errors, no non-2xx"
fi
kill -0 "$srv" 2>/dev/null || fail "http_server died: $(cat "$TMP/srv.err")"
ok "http_server still running"
