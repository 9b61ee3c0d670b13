#!/bin/bash
# make install into a scratch prefix: the tool, libasync (static, shared, pkg-config),
# headers, the man page (one section per subcommand, from the tool's own --help) and the
# bash completion (subcommands, and each one's options as its --help lists them); a
# program built with `pkg-config --cflags --libs libasync` from the installed files runs.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v man >/dev/null || skip "man not installed"
prefix=$TMP/prefix
make -s -C "$ROOT" OUTPUT="$OUT" install PREFIX="$prefix" >"$TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 5 "$TMP/install.log")"
for f in bin/async-inspect lib/libasync.a lib/libasync.so.0 lib/libasync.so \
	lib/pkgconfig/libasync.pc include/async/async.h share/man/man8/async-inspect.8 \
	share/bash-completion/completions/async-inspect; do
	[ -e "$prefix/$f" ] || fail "not installed: $f"
done
ok "every file installed"

MANWIDTH=100 man -l "$prefix/share/man/man8/async-inspect.8" >"$TMP/man.txt" 2>"$TMP/man.err" ||
	fail "man cannot render the page: $(cat "$TMP/man.err")"
cmds=$("$AI" --help | awk '/^Commands:/ { f = 1; next } /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }')
[ "$(echo "$cmds" | wc -w)" -ge 11 ] || fail "too few commands in --help: $cmds"
for c in $cmds; do
	grep -q "^   $c\$" "$TMP/man.txt" || fail "the man page has no section for '$c'"
done
grep -q "EXAMPLES" "$TMP/man.txt" || fail "the man page has no EXAMPLES"
ok "man page: a section per subcommand ($(echo $cmds | wc -w))"

complete_words() { # words...: what the completion offers for the last one
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _async_inspect
		printf "%s\n" "${COMPREPLY[@]}"' _ \
		"$prefix/share/bash-completion/completions/async-inspect" "$@"
}
assert_eq "completes a subcommand" diagnose "$(complete_words "$prefix/bin/async-inspect" diag)"
assert_eq "completes an option" --duration "$(complete_words "$prefix/bin/async-inspect" diagnose --dur)"
complete_words "$prefix/bin/async-inspect" trace -p "$$" | grep -qx "$$" || fail "no PID completion after -p"
ok "bash completion"

cat >"$TMP/hello.c" <<'C'
#include <async/async.h>
#include <stdio.h>
struct hello { struct async_frame frame; };
static enum async_poll hello_poll(struct hello *h, struct async_cx *cx)
{
	(void)cx;
	ASYNC_BEGIN(h);
	puts("hello from libasync");
	ASYNC_RETURN(h);
}
int main(void)
{
	struct async_exec *e;
	struct hello h = { 0 };
	if (async_exec_new(NULL, &e))
		return 1;
	int err = async_block_on(e, "hello", ASYNC_POLL_FN(hello_poll), &h);
	async_exec_free(e);
	return err ? 1 : 0;
}
C
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
cc -o "$TMP/hello" "$TMP/hello.c" $(pkg-config --cflags --libs libasync) -Wl,-rpath,"$prefix/lib" ||
	fail "a program does not build against the installed libasync"
assert_eq "installed libasync runs" "hello from libasync" "$("$TMP/hello")"
