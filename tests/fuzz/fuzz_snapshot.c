// SPDX-License-Identifier: MIT
// fuzz-sources: user/snapshot.c user/waitgraph.c user/proc.c user/common.c user/desc.c
// fuzz-sources: user/outfile.c user/cli.c
/*
 * libFuzzer target for the registry reader (user/snapshot.c) and the cycle search
 * (user/waitgraph.c): the memory of a traced process is untrusted input that changes
 * under the reader. The input is a process image at address FUZZ_BASE with the
 * registry at its start; every read outside it faults. Any input must give an error or
 * a bounded snapshot, never a crash, a leak or an unbounded walk.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "snapshot.h"
#include "waitgraph.h"

#define FUZZ_BASE 0x1000ull

struct image {
	const uint8_t *data;
	size_t size;
};

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *m = ctx;

	if (addr < FUZZ_BASE || addr - FUZZ_BASE > m->size || len > m->size - (addr - FUZZ_BASE))
		return -EFAULT;
	memcpy(buf, m->data + (addr - FUZZ_BASE), len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image m = { data, size };
	struct ai_snap_opts opts = { .max_tasks = 256, .now_ns = 1ull << 40 };
	struct ai_snapshot *s;
	struct ai_waitgraph *g;
	size_t sum = 0;

	if (ai_snapshot_read(image_read, &m, FUZZ_BASE, &opts, &s))
		return 0;
	if (s->ntasks > 256 || s->nthreads > AI_SNAP_MAX_THREADS)
		__builtin_trap();
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];

		if (t->chain_len > ASYNC_CHAIN_MAX ||
		    strnlen(t->name, AI_SNAP_NAME_MAX) >= AI_SNAP_NAME_MAX)
			__builtin_trap();
		if (i && s->tasks[i - 1].abi.id >= t->abi.id)
			__builtin_trap(); /* sorted, unique */
		sum += ai_snap_task_in_state(s, t) & 1;
	}
	if (!ai_wg_from_snapshot(s, &g)) {
		int n = ai_wg_find_cycles(g, 64);

		for (int k = 0; k < n; k++)
			for (size_t i = 0; i < g->cycles[k].len; i++)
				if (g->cycles[k].nodes[i] >= s->ntasks ||
				    g->edges[g->cycles[k].edges[i]].from != g->cycles[k].nodes[i])
					__builtin_trap();
		ai_wg_free(g);
	}
	ai_snapshot_free(s);
	return (int)(sum & 0);
}
