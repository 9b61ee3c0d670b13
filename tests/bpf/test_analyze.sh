#!/bin/bash
# analyze --show-call-graph and list: static analysis of the descriptor section.
# Needs no root (nothing is traced), so it never skips: the exact call graph of every
# example, of the test fixture (recursion) and of libasync.so, in text, DOT (rendered
# by dot) and JSON; a stripped copy; every documented error on garbage, truncated and
# hand-corrupted ELF files. Expected lines come from the sources (grep), never typed in.
# With root, also `list -p` on a live process and `--profile` on a real recording.
# shellcheck source=tests/bpf/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$AI" ] || fail "$AI not built"
FIX=$OUT/tests/callgraph_fixture
[ -x "$FIX" ] || fail "$FIX not built"
for e in http_server fetch_user deadlock blocking; do
	[ -x "$EX/$e" ] || fail "$EX/$e not built"
done
command -v dot >/dev/null || fail "graphviz (dot) is not installed (make tests installs it)"
cd "$ROOT" || fail "cannot cd to $ROOT"

# ---- expected lines, from the sources ----------------------------------------------------

# Line numbers of the lines of FUNC_poll's body (in FILE) that contain every PATTERN.
in_poll() { # file func pattern...
	local file=$1 fn=$2
	shift 2
	awk -v fn="$fn" -v pats="$(printf '%s\037' "$@")" '
		BEGIN { n = split(pats, p, "\037") - 1 }
		$0 ~ "^static enum async_poll " fn "_poll\\(" { inside = 1 }
		inside { m = 1; for (i = 1; i <= n; i++) if (!index($0, p[i])) m = 0; if (m) print NR }
		inside && /^}/ { inside = 0 }' "$file"
}
one() { # what lines...: exactly one line number
	local what=$1
	shift
	[ $# -eq 1 ] || fail "expected exactly one source line for $what, found: $*"
	echo "$1"
}
# shellcheck disable=SC2046
begin() { one "ASYNC_BEGIN in $2" $(in_poll "$1" "$2" "ASYNC_BEGIN("); }
# shellcheck disable=SC2046
await() { one "await of $3 in $2" $(in_poll "$1" "$2" "ASYNC_AWAIT(" ", $3,"); }
# shellcheck disable=SC2046
call() { one "call of $3 in $2" $(in_poll "$1" "$2" "ASYNC_CALL($3,"); }
# shellcheck disable=SC2046
yield() { one "yield in $2" $(in_poll "$1" "$2" "ASYNC_YIELD("); }

# The text tree without the box, runs of spaces squeezed.
tree_of() { # binary
	"$AI" analyze "$1" --show-call-graph --color=never | sed -e '1d' -e '/^[┌└]/d' \
		-e 's/^│ //' -e 's/ *│$//' | tr -s ' '
}

check_tree() { # name binary expected
	local got
	got=$(tree_of "$2") || fail "$1: analyze failed"
	if [ "$got" != "$3" ]; then
		diff <(echo "$3") <(echo "$got") >&2
		fail "$1: the call graph differs from the expected one (see diff: < expected > got)"
	fi
	ok "$1: exact call graph ($(echo "$got" | wc -l) lines)"
}

# ---- http_server ----------------------------------------------------------------------------
S=examples/http_server.c
exp_http="connection (async) $S:$(begin $S connection)
├─ async_read (async) $S:$(await $S connection async_read)
├─ handle_request (async) $S:$(await $S connection handle_request)
│ ├─ db_get_user (async) $S:$(await $S handle_request db_get_user)
│ │ └─ async_sleep (async) $S:$(await $S db_get_user async_sleep)
│ ├─ check_permissions (async) $S:$(await $S handle_request check_permissions)
│ │ └─ async_sleep (async) $S:$(await $S check_permissions async_sleep)
│ ├─ fetch_data (async) $S:$(await $S handle_request fetch_data)
│ │ └─ async_sleep (async) $S:$(await $S fetch_data async_sleep)
│ └─ render_json (sync) $S:$(call $S handle_request render_json)
└─ async_write (async) $S:$(await $S connection async_write)
acceptor (async) $S:$(begin $S acceptor)
├─ async_accept (async) $S:$(await $S acceptor async_accept)
├─ serve_connection (sync) $S:$(call $S acceptor serve_connection)
└─ async_sleep (async) $S:$(await $S acceptor async_sleep)"
check_tree http_server "$EX/http_server" "$exp_http"

# ---- fetch_user -----------------------------------------------------------------------------
S=examples/fetch_user.c
# the async function that joins the spawned tasks (its name is the example's business)
main=$(awk '/^static enum async_poll [a-z_0-9]+_poll\(/ { fn = $4; sub(/_poll\(.*/, "", fn) }
	/ASYNC_AWAIT\(.*, async_join,/ { print fn }' $S)
# shellcheck disable=SC2086 # one() counts the words
main=$(one "the function awaiting async_join in $S" $main)
exp_fetch="fetch_user (async) $S:$(begin $S fetch_user)
├─ fetch_profile (async) $S:$(await $S fetch_user fetch_profile)
│ └─ async_sleep (async) $S:$(await $S fetch_profile async_sleep)
└─ fetch_posts (async) $S:$(await $S fetch_user fetch_posts)
 └─ async_sleep (async) $S:$(await $S fetch_posts async_sleep)
$main (async) $S:$(begin $S "$main")
└─ async_join (async) $S:$(await $S "$main" async_join)"
check_tree fetch_user "$EX/fetch_user" "$exp_fetch"

# ---- deadlock: lock_both is awaited twice, the second shows "(see above)" -----------------
S=examples/deadlock.c
lock1=$(in_poll $S lock_both "ASYNC_AWAIT(" ", async_lock," | head -n 1)
lock2=$(in_poll $S lock_both "ASYNC_AWAIT(" ", async_lock," | tail -n 1)
exp_dead="transfer (async) $S:$(begin $S transfer)
└─ lock_both (async) $S:$(await $S transfer lock_both)
 ├─ async_lock (async) $S:$lock1
 ├─ async_sleep (async) $S:$(await $S lock_both async_sleep)
 └─ async_lock (async) $S:$lock2
audit (async) $S:$(begin $S audit)
└─ lock_both (async) $S:$(await $S audit lock_both) (see above)
post_entry (async) $S:$(begin $S post_entry)
└─ async_lock (async) $S:$(await $S post_entry async_lock)
reconcile (async) $S:$(begin $S reconcile)
└─ async_join (async) $S:$(await $S reconcile async_join)
settle (async) $S:$(begin $S settle)
├─ async_lock (async) $S:$(await $S settle async_lock)
└─ async_join (async) $S:$(await $S settle async_join)
watcher (async) $S:$(begin $S watcher)
└─ async_sleep (async) $S:$(await $S watcher async_sleep)"
[ "$lock1" != "$lock2" ] || fail "deadlock.c: lock_both should await async_lock twice"
check_tree deadlock "$EX/deadlock" "$exp_dead"

# ---- blocking ---------------------------------------------------------------------------------
S=examples/blocking.c
exp_block="checksum (async) $S:$(begin $S checksum)
├─ async_blocking (async) $S:$(await $S checksum async_blocking)
├─ compress_blocking (sync) $S:$(call $S checksum compress_blocking)
└─ async_yield (async) $S:$(yield $S checksum)
ticker (async) $S:$(begin $S ticker)
└─ async_sleep (async) $S:$(await $S ticker async_sleep)"
check_tree blocking "$EX/blocking" "$exp_block"

# ---- the fixture: self and mutual recursion, marked and not followed ------------------------
S=tests/bpf/callgraph_fixture.c
walk1=$(in_poll $S fixture_main "ASYNC_AWAIT(" ", walk," | head -n 1)
walk2=$(in_poll $S fixture_main "ASYNC_AWAIT(" ", walk," | tail -n 1)
exp_fix="fixture_main (async) $S:$(begin $S fixture_main)
├─ walk (async) $S:$walk1
│ └─ walk (async) $S:$(await $S walk walk) (recursive)
├─ ping (async) $S:$(await $S fixture_main ping)
│ └─ pong (async) $S:$(await $S ping pong)
│ └─ ping (async) $S:$(await $S pong ping) (recursive)
├─ async_yield (async) $S:$(yield $S fixture_main)
├─ walk (async) $S:$walk2 (see above)
└─ log_line (sync) $S:$(call $S fixture_main log_line)"
# The fixture links libasync statically: the runtime's own futures are roots too.
got=$(tree_of "$FIX" | grep -v ' runtime/' | grep -v '^└─ inner ')
[ "$got" = "$exp_fix" ] || {
	diff <(echo "$exp_fix") <(echo "$got") >&2
	fail "fixture: the call graph differs from the expected one"
}
ok "fixture: recursion marked (recursive), repeated subtree marked (see above)"
"$FIX" >/dev/null || fail "the fixture program does not run"

# ---- colour: names only, the layout stays the same -------------------------------------------
c=$("$AI" analyze "$EX/http_server" --color=always) || fail "--color=always failed"
[ "$(echo "$c" | sed 's/\x1b\[[0-9;]*m//g')" = "$("$AI" analyze "$EX/http_server" --color=never)" ] ||
	fail "--color=always changes more than the colour"
echo "$c" | grep -qF $'\e[31mhandle_request\e[0m (async)' || fail "handle_request is not red"
echo "$c" | grep -qF $'\e[32mrender_json\e[0m (sync)' || fail "render_json is not green"
"$AI" analyze "$EX/http_server" | grep -q $'\e' && fail "colour when stdout is not a terminal"
ok "colour: red awaiting functions, green plain ones, none into a pipe"

# ---- DOT: renders, and has exactly one edge per await/call --------------------------------
for e in http_server fetch_user deadlock blocking; do
	"$AI" analyze "$EX/$e" --show-call-graph --dot >"$TMP/$e.dot" || fail "$e: --dot failed"
	dot -Tsvg "$TMP/$e.dot" >"$TMP/$e.svg" 2>"$TMP/dot.err" || fail "$e: dot: $(cat "$TMP/dot.err")"
	[ -s "$TMP/dot.err" ] && fail "$e: dot warned: $(cat "$TMP/dot.err")"
	n_src=$(grep -c 'ASYNC_AWAIT(\|ASYNC_CALL(\|ASYNC_YIELD(' "examples/$e.c")
	n_dot=$(grep -c -- ' -> ' "$TMP/$e.dot")
	assert_eq "$e: DOT edges = awaits + calls in the source" "$n_src" "$n_dot"
done
S=examples/http_server.c
for c in db_get_user check_permissions fetch_data; do
	grep -qF "\"handle_request\" -> \"$c\" [label=\"await :$(await $S handle_request $c)\"]" \
		"$TMP/http_server.dot" || fail "DOT lacks handle_request -> $c"
done
grep -qF "\"handle_request\" -> \"render_json\" [label=\"call :$(call $S handle_request render_json)\", style=dashed]" \
	"$TMP/http_server.dot" || fail "DOT lacks the dashed call edge to render_json"
ok "DOT: handle_request's edges with their lines"
"$AI" analyze "$FIX" --show-call-graph --dot >"$TMP/fix.dot" || fail "fixture --dot failed"
dot -Tsvg "$TMP/fix.dot" >/dev/null || fail "fixture DOT does not render"
assert_eq "fixture: DOT edges marked recursive" 2 "$(grep -c '(recursive)' "$TMP/fix.dot")"

# ---- JSON -------------------------------------------------------------------------------------
"$AI" analyze "$EX/http_server" --show-call-graph --json >"$TMP/http.json" || fail "--json failed"
S=examples/http_server.c
exp="[('db_get_user', 'async', 'await', $(await $S handle_request db_get_user)), \
('check_permissions', 'async', 'await', $(await $S handle_request check_permissions)), \
('fetch_data', 'async', 'await', $(await $S handle_request fetch_data)), \
('render_json', 'sync', 'call', $(call $S handle_request render_json))]"
got=$(json_eval "$TMP/http.json" '[(c["name"], c["kind"], c["via"], c["line"]) for t in d["tree"] for c in t["children"] if c["name"] == "handle_request" for c in c["children"]]')
assert_eq "JSON: handle_request's children" "$exp" "$got"
assert_eq "JSON: roots" "['connection', 'acceptor']" "$(json_eval "$TMP/http.json" '[t["name"] for t in d["tree"]]')"
assert_eq "JSON: root flags" "['acceptor', 'connection']" \
	"$(json_eval "$TMP/http.json" 'sorted(f["name"] for f in d["functions"] if f["root"])')"
assert_eq "JSON: edges" "$(grep -c 'ASYNC_AWAIT(\|ASYNC_CALL(' $S)" \
	"$(json_eval "$TMP/http.json" 'sum(len(f["edges"]) for f in d["functions"])')"
assert_eq "JSON: handle_request must be async, render_json need not" "True False" \
	"$(json_eval "$TMP/http.json" '" ".join(str(f["must_be_async"]) for f in d["functions"] if f["name"] in ("handle_request", "render_json"))')"
for e in fetch_user deadlock blocking; do
	"$AI" analyze "$EX/$e" --show-call-graph --json | python3 -m json.tool >/dev/null ||
		fail "$e: --json is not valid JSON"
done
"$AI" analyze "$FIX" --show-call-graph --json >"$TMP/fix.json" || fail "fixture --json"
assert_eq "JSON: recursive edges of the fixture" "[('pong', 'ping'), ('walk', 'walk')]" \
	"$(json_eval "$TMP/fix.json" 'sorted((f["name"], e["callee"]) for f in d["functions"] for e in f["edges"] if e["recursive"])')"

# ---- libasync.so: its leaf futures ------------------------------------------------------------
LIB=$OUT/libasync.so
# Expected: every ASYNC_TRACE (named after its enclosing C function) and every hand-written
# LEAF descriptor (.function = "X_poll" after .kind = ASYNC_DESC_LEAF) in runtime/*.c.
expected=$(for f in runtime/*.c; do
	awk -v file="$f" '
		/^[a-z].*[ *][a-z_0-9]+\(/ { s = $0; sub(/\(.*/, "", s); sub(/.*[ *]/, "", s); fn = s }
		/ASYNC_TRACE\(/ { n = fn; sub(/_poll$/, "", n); print n, "traced", file ":" NR }
		/\.kind = ASYNC_DESC_LEAF,/ { leaf = NR }
		leaf && /\.line = __LINE__/ { line = NR }
		leaf && /\.function = "/ { n = $0; sub(/.*= "/, "", n); sub(/".*/, "", n)
			sub(/_poll$/, "", n); print n, "leaf", file ":" line; leaf = 0 }' "$f"
done | sort)
[ "$(echo "$expected" | wc -l)" -ge 5 ] || fail "found too few runtime futures in runtime/*.c"
"$AI" analyze "$LIB" --show-call-graph --json >"$TMP/lib.json" || fail "analyze libasync.so"
got=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for f in d["functions"]:
    if f["kind"] in ("leaf", "traced"):
        print(f["name"], f["kind"], "%s:%d" % (f["file"], f["line"]))' "$TMP/lib.json" | sort)
assert_eq "libasync.so: its leaf and traced futures" "$expected" "$got"
"$AI" analyze "$LIB" --show-call-graph >"$TMP/lib.txt" || fail "analyze libasync.so (text)"
"$AI" analyze "$LIB" --show-call-graph --dot | dot -Tsvg >/dev/null || fail "libasync.so DOT"

# ---- a stripped copy: the section survives strip ----------------------------------------------
for e in http_server fetch_user; do
	cp "$EX/$e" "$TMP/$e.stripped"
	strip "$TMP/$e.stripped" || fail "strip failed"
	readelf -S "$TMP/$e.stripped" | grep -q '\.symtab' && fail "strip left a .symtab"
	a=$(tree_of "$EX/$e")
	b=$(tree_of "$TMP/$e.stripped")
	if [ -z "$a" ] || [ "$a" != "$b" ]; then
		fail "$e: the stripped copy's graph differs"
	fi
	ok "$e: the stripped copy gives the same graph"
done
cp "$LIB" "$TMP/libasync.stripped.so" && strip "$TMP/libasync.stripped.so"
"$AI" analyze "$TMP/libasync.stripped.so" --show-call-graph --json >"$TMP/lib2.json" ||
	fail "stripped libasync.so"
assert_eq "stripped libasync.so: same functions" \
	"$(json_eval "$TMP/lib.json" 'd["functions"]')" "$(json_eval "$TMP/lib2.json" 'd["functions"]')"

# ---- errors: one documented line each, exit 2 ----------------------------------------------------
expect_error() { # what expected-substring command...
	local what=$1 want=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$what: expected exit 2, got $rc ($(cat "$TMP/err"))"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$what: expected one line, got: $(cat "$TMP/err")"
	grep -qF -- "$want" "$TMP/err" || fail "$what: '$(cat "$TMP/err")' lacks '$want'"
	[ -s "$TMP/out" ] && fail "$what: printed output besides the error"
	ok "$what: exit 2, $(cat "$TMP/err")"
}
# Patches an ELF64 file in place: patch_elf FILE ACTION (see the python below).
patch_elf() {
	python3 - "$1" "$2" <<'EOF' || fail "patch_elf $2 failed"
import struct, sys
path, action = sys.argv[1], sys.argv[2]
b = bytearray(open(path, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", b, 0x3a)
def sh(i):
    return shoff + i * shentsize
stroff, = struct.unpack_from("<Q", b, sh(shstrndx) + 0x18)
def name(i):
    n, = struct.unpack_from("<I", b, sh(i))
    return bytes(b[stroff + n:b.index(0, stroff + n)]).decode()
secs = {name(i): i for i in range(shnum)}
d = secs["async_desc"]
addr, off, size = struct.unpack_from("<QQQ", b, sh(d) + 0x10)
if action == "magic":
    struct.pack_into("<I", b, off + 40, 0x12345678)
elif action == "kind":
    struct.pack_into("<H", b, off + 40 + 4, 9)
elif action == "size":
    struct.pack_into("<Q", b, sh(d) + 0x20, size + 8)
elif action == "offset":
    struct.pack_into("<Q", b, sh(d) + 0x18, len(b) + 4096)
elif action == "string":
    # the file pointer of descriptor 1: its R_X86_64_RELATIVE addend (PIE), or the value
    r = secs.get(".rela.dyn")
    target, done = addr + 40 + 32, False
    if r is not None:
        roff, rsize = struct.unpack_from("<QQ", b, sh(r) + 0x18)
        for e in range(roff, roff + rsize, 24):
            o, info = struct.unpack_from("<QQ", b, e)
            if o == target and info & 0xffffffff == 8:
                struct.pack_into("<q", b, e + 16, 0x7fff0000dead)
                done = True
    if not done:
        struct.pack_into("<Q", b, off + 40 + 32, 0x7fff0000dead)
elif action == "class32":
    b[4] = 1
elif action == "bigendian":
    b[5] = 2
else:
    sys.exit("unknown action " + action)
open(path, "wb").write(b)
EOF
}
H=$EX/http_server
for cmd in analyze list; do
	args=()
	[ $cmd = analyze ] && args=(--show-call-graph)
	expect_error "$cmd: missing file" "failed to read '$TMP/nope': No such file or directory" \
		"$AI" $cmd "$TMP/nope" "${args[@]}"
	head -c 4096 /dev/urandom >"$TMP/garbage"
	expect_error "$cmd: garbage" "failed to read '$TMP/garbage': not an ELF file" \
		"$AI" $cmd "$TMP/garbage" "${args[@]}"
	echo "just some text" >"$TMP/text"
	expect_error "$cmd: text file" "not an ELF file" "$AI" $cmd "$TMP/text" "${args[@]}"
	expect_error "$cmd: directory" "Is a directory" "$AI" $cmd "$TMP" "${args[@]}"
	head -c $(($(stat -c %s "$H") / 2)) "$H" >"$TMP/truncated"
	expect_error "$cmd: truncated ELF" "truncated" "$AI" $cmd "$TMP/truncated" "${args[@]}"
	head -c 40 "$H" >"$TMP/tiny"
	expect_error "$cmd: 40-byte ELF" "truncated" "$AI" $cmd "$TMP/tiny" "${args[@]}"
	cp "$H" "$TMP/c32" && patch_elf "$TMP/c32" class32
	expect_error "$cmd: 32-bit ELF" "32-bit ELF file is not supported" \
		"$AI" $cmd "$TMP/c32" "${args[@]}"
	cp "$H" "$TMP/be" && patch_elf "$TMP/be" bigendian
	expect_error "$cmd: big-endian ELF" "big-endian ELF file is not supported" \
		"$AI" $cmd "$TMP/be" "${args[@]}"
	cp "$H" "$TMP/magic" && patch_elf "$TMP/magic" magic
	expect_error "$cmd: corrupted magic" "has a bad magic 0x12345678" \
		"$AI" $cmd "$TMP/magic" "${args[@]}"
	cp "$H" "$TMP/kind" && patch_elf "$TMP/kind" kind
	expect_error "$cmd: corrupted kind" "has an unknown kind 9" "$AI" $cmd "$TMP/kind" "${args[@]}"
	cp "$H" "$TMP/size" && patch_elf "$TMP/size" size
	expect_error "$cmd: section size" "is not a multiple of 40" "$AI" $cmd "$TMP/size" "${args[@]}"
	cp "$H" "$TMP/offset" && patch_elf "$TMP/offset" offset
	expect_error "$cmd: section past the end" "section lies outside the file" \
		"$AI" $cmd "$TMP/offset" "${args[@]}"
	cp "$H" "$TMP/string" && patch_elf "$TMP/string" string
	expect_error "$cmd: string reference out of range" \
		"file string at 0x7fff0000dead is outside the file's loaded segments" \
		"$AI" $cmd "$TMP/string" "${args[@]}"
done
expect_error "analyze: no descriptor section" "no async_desc section" \
	"$AI" analyze /bin/true --show-call-graph
expect_error "list: neither probes nor descriptors" "no libasync probes and no async_desc section" \
	"$AI" list /bin/true
expect_error "analyze: no BINARY" "BINARY is missing" "$AI" analyze --show-call-graph
expect_error "analyze: --dot and --json" "exclude each other" "$AI" analyze "$H" --dot --json
expect_error "analyze: unknown option" "unknown option '--bogus'" "$AI" analyze "$H" --bogus
expect_error "analyze: bad --color" "failed to parse --color 'pink'" "$AI" analyze "$H" --color=pink
expect_error "analyze: --profile garbage" "failed to read recording '$TMP/garbage'" \
	"$AI" analyze "$H" --show-call-graph --profile "$TMP/garbage"
expect_error "list: BINARY and -p" "either BINARY or -p PID" "$AI" list "$H" -p 1
expect_error "list: no such process" "failed to find process '1073741823'" "$AI" list -p 1073741823
expect_error "list: bad PID" "PID" "$AI" list -p abc
"$AI" analyze --help | grep -q '^EXAMPLES:' || fail "analyze --help has no EXAMPLES"
"$AI" list --help | grep -q '^EXAMPLES:' || fail "list --help has no EXAMPLES"
ok "--help of both has EXAMPLES"

# ---- list BINARY ----------------------------------------------------------------------------------
"$AI" list "$LIB" --json >"$TMP/list.json" || fail "list libasync.so"
n_notes=$(readelf -n "$LIB.0" | grep -c 'Provider: libasync')
assert_eq "list libasync.so: every probe" "$n_notes" \
	"$(json_eval "$TMP/list.json" 'len([p for p in d["objects"][0]["probes"] if p["provider"] == "libasync"])')"
assert_eq "list libasync.so: semaphores" "$(readelf -n "$LIB.0" | grep -c 'Semaphore: 0x0*[1-9a-f]')" \
	"$(json_eval "$TMP/list.json" 'len([p for p in d["objects"][0]["probes"] if p["semaphore"]])')"
assert_eq "list libasync.so: poll's argument spec as readelf shows it" \
	"$(readelf -n "$LIB.0" | awk '/Name: poll$/ { f = 1 } f && /Arguments:/ { sub(/.*Arguments: /, ""); print; exit }')" \
	"$(json_eval "$TMP/list.json" '[p["args"] for p in d["objects"][0]["probes"] if p["name"] == "poll"][0]')"
"$AI" list "$H" --json >"$TMP/list-http.json" || fail "list http_server"
S=examples/http_server.c
assert_eq "list http_server: handle_request's await points" \
	"[('await', 'db_get_user', $(await $S handle_request db_get_user)), ('await', 'check_permissions', $(await $S handle_request check_permissions)), ('await', 'fetch_data', $(await $S handle_request fetch_data)), ('call', 'render_json', $(call $S handle_request render_json))]" \
	"$(json_eval "$TMP/list-http.json" '[(a["kind"], a["callee"], a["line"]) for f in d["objects"][0]["functions"] if f["name"] == "handle_request" for a in f["awaits"]]')"
"$AI" list "$H" | grep -q "^    handle_request (async)  $S:$(begin $S handle_request)$" ||
	fail "list text lacks handle_request's definition line"
ok "list BINARY: probes and await points"

# ---- root only: list -p on a live process, --profile on a real recording --------------------------
if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "note: not root (or no BTF): list -p semaphores and --profile were not exercised"
	exit 0
fi
bg "$EX/fetch_user" --forever --users 20 --io-ms 5
P=$BG_PID
sleep 0.3
"$AI" list -p "$P" --json >"$TMP/listp.json" || fail "list -p"
assert_eq "list -p: objects" "2" "$(json_eval "$TMP/listp.json" 'len(d["objects"])')"
assert_eq "list -p: no probe enabled without a tracer" "0" \
	"$(json_eval "$TMP/listp.json" 'sum(1 for o in d["objects"] for p in o["probes"] if p["enabled"])')"
if command -v bpftrace >/dev/null; then
	bpftrace -p "$P" -e "usdt:$(readlink -f "$LIB"):libasync:poll { @n = count(); }" \
		>"$TMP/bt.log" 2>&1 &
	BT=$!
	PIDS+=("$BT")
	en=""
	for _ in $(seq 100); do
		en=$("$AI" list -p "$P" --json | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sorted(p["name"] for o in d["objects"] for p in o["probes"] if p["enabled"]))')
		[ "$en" = "['poll']" ] && break
		sleep 0.1
	done
	kill -INT "$BT" 2>/dev/null
	wait "$BT" 2>/dev/null
	assert_eq "list -p: with bpftrace on libasync:poll, exactly poll is enabled" "['poll']" "$en"
	"$AI" list -p "$P" | grep -q 'libasync:poll .* yes\|libasync:poll .* no' ||
		fail "list -p text lacks the ENABLED column"
fi
kill "$P"

"$AI" record -o "$TMP/rec.air" -- "$EX/fetch_user" --users 50 --io-ms 5 >"$TMP/rec.log" 2>&1 ||
	fail "record failed: $(tail -n 3 "$TMP/rec.log")"
"$AI" analyze "$EX/fetch_user" --show-call-graph --profile "$TMP/rec.air" --json >"$TMP/prof.json" ||
	fail "analyze --profile failed"
assert_eq "--profile: fetch_user polls (3 per task)" 150 \
	"$(json_eval "$TMP/prof.json" '[f["polls"] for f in d["functions"] if f["name"] == "fetch_user"][0]')"
assert_eq "--profile: waits at fetch_profile's await of async_sleep" 50 \
	"$(json_eval "$TMP/prof.json" '[e["waits"] for f in d["functions"] if f["name"] == "fetch_profile" for e in f["edges"]][0]')"
assert_eq "--profile: fetch_profile waited >= 50 x 5 ms" True \
	"$(json_eval "$TMP/prof.json" '[f["wait_ns"] for f in d["functions"] if f["name"] == "fetch_profile"][0] >= 250e6')"
assert_eq "--profile: bottlenecks" "['fetch_posts', 'fetch_profile']" \
	"$(json_eval "$TMP/prof.json" 'sorted(f["name"] for f in d["functions"] if f["bottleneck"])')"
"$AI" analyze "$EX/fetch_user" --show-call-graph --profile "$TMP/rec.air" | grep -q 'fetch_profile (async) .* BOTTLENECK' ||
	fail "--profile text does not mark fetch_profile as a bottleneck"
"$AI" analyze "$EX/fetch_user" --profile "$TMP/rec.air" --color=always | grep -qF $'\e[1;33mfetch_profile\e[0m' ||
	fail "--profile: the bottleneck is not yellow"
"$AI" analyze "$EX/fetch_user" --show-call-graph --profile "$TMP/rec.air" --dot | dot -Tsvg >/dev/null ||
	fail "--profile DOT does not render"
ok "analyze --profile"
