#!/bin/bash
# Regenerates the seed corpus of fuzz_desc (tests/fuzz/corpus/fuzz_desc/): small ELF
# objects with a descriptor section and libasync USDT notes, built the ways real ones
# are: a PIE shared object (pointers through R_X86_64_RELATIVE relocations) and a
# non-PIE static executable (pointers stored in place), each also stripped.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$here/tests/fuzz/corpus/fuzz_desc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/seed.c" <<'C'
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include "async/future.h"
volatile unsigned short libasync_poll_semaphore __attribute__((section(".probes")));
const void *fetch_user_poll(void)
{
	ASYNC__DESC(fn, ASYNC_DESC_FUNCTION, 0);
	ASYNC__DESC(aw, ASYNC_DESC_AWAIT, "fetch_profile");
	ASYNC__DESC(call, ASYNC_DESC_CALL, "render_json");
	if (libasync_poll_semaphore)
		STAP_PROBE2(libasync, poll, &fn, &aw);
	return &call;
}
void _start(void)
{
	fetch_user_poll();
	for (;;)
		;
}
C
# shellcheck disable=SC2054 # the commas are the linker's
flags=(-Os -nostdlib "-I$here/include" -Wl,-z,max-page-size=4096 -Wl,-z,norelro -Wl,--build-id=none)
cd "$tmp" # so that __FILE__ is "seed.c"
gcc "${flags[@]}" -fPIC -shared -o "$out/pie.so" seed.c
gcc "${flags[@]}" -static -no-pie -fno-pic -o "$out/static" seed.c
strip -o "$out/pie-stripped.so" "$out/pie.so"
strip -o "$out/static-stripped" "$out/static"
ls -l "$out"
