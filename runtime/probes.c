/* SPDX-License-Identifier: MIT */
#include "probes.h"

#ifndef ASYNC_NO_PROBES
/*
 * The semaphores, in the conventional .probes section, laid out by hand so that the
 * four on the spawn/poll/complete path share the aligned 8-byte word async__probes_hot
 * (probes.h). Each is an unsigned short the kernel increments per attached uprobe.
 */
#define ASYNC__SEMAPHORE_ASM(name)                      \
	".globl libasync_" #name "_semaphore\n"         \
	".hidden libasync_" #name "_semaphore\n"        \
	".type libasync_" #name "_semaphore, %object\n" \
	".size libasync_" #name "_semaphore, 2\n"       \
	"libasync_" #name "_semaphore:\n"               \
	".2byte 0\n"

__asm__(".pushsection .probes, \"aw\", %progbits\n"
	".balign 8\n"
	".globl async__probes_hot\n"
	".hidden async__probes_hot\n"
	".type async__probes_hot, %object\n"
	".size async__probes_hot, 8\n"
	"async__probes_hot:\n" ASYNC__PROBE_LIST(ASYNC__SEMAPHORE_ASM) ".popsection\n");

_Static_assert(sizeof(unsigned long long) == 8, "async__probes_hot is one 8-byte word");
#endif
