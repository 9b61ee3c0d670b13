/* SPDX-License-Identifier: MIT */
/*
 * The per-chain rows of bpf/trace.bpf.c (struct trace_chain), summed over CPUs and turned
 * into the rows of every async function and every await point on the chains: a poll adds
 * to exactly one chain, so each function's and await point's totals and histograms are the
 * sums over the chains that hold it (docs/trace.md, "nested functions").
 */
#ifndef AI_CHAINS_H
#define AI_CHAINS_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/trace.h"

struct ai_chain {
	int32_t pid;
	struct trace_chain v; /* summed over CPUs (max for the max fields) */
};

/* A function (desc = its FUNCTION/LEAF/TRACED descriptor) or await point (an AWAIT one). */
struct ai_chain_row {
	int32_t pid;
	uint64_t desc;
	uint64_t fn;	    /* await rows: the function the await point is in */
	uint32_t wait_kind; /* await rows: the last wait kind seen ending there */
	uint64_t tasks;	    /* function rows: tasks whose root it is */
	uint64_t nested_waits;
	uint64_t polls, busy_ns, idle_ns, sched_ns, max_poll_ns, long_polls;
	uint64_t waits, wait_ns, max_wait_ns;
	__u64 poll_hist[TRACE_HIST_SLOTS];
	__u64 sched_hist[TRACE_HIST_SLOTS];
	__u64 wait_hist[TRACE_HIST_SLOTS];
};

struct ai_chains {
	struct ai_chain *chains;
	size_t nchains;
	struct ai_chain_row *funcs, *awaits;
	size_t nfuncs, nawaits;
	size_t cap_chains, cap_funcs, cap_awaits;
};

/* Reads the per-CPU chain map (ncpus values per key) and builds the rows; -ENOMEM. */
int ai_chains_read(int map_fd, int ncpus, struct ai_chains *out);
void ai_chains_free(struct ai_chains *c);

#endif /* AI_CHAINS_H */
