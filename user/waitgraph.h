/* SPDX-License-Identifier: MIT */
/*
 * The wait-for graph: nodes are tasks, an edge u -> v says "u cannot go on until v
 * does something" (v holds the mutex u waits for, u awaits v's JoinHandle). Cycles are
 * deadlocks. Every elementary cycle is found (Johnson's algorithm), each reported once,
 * rotated so that it starts at its smallest node.
 */
#ifndef AI_WAITGRAPH_H
#define AI_WAITGRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define AI_WG_MAX_CYCLES 1024 /* default cap on the cycles reported */

struct ai_wg_edge {
	uint32_t from, to; /* node indexes */
	uint32_t kind;	   /* enum async_wait_kind */
	uint64_t obj;	   /* the object waited on (mutex / task record address) */
};

struct ai_wg_cycle {
	size_t len;
	uint32_t *nodes; /* nodes[i] -> nodes[(i + 1) % len] */
	uint32_t *edges; /* index of the edge nodes[i] -> nodes[i + 1] */
};

struct ai_waitgraph {
	size_t nnodes;
	struct ai_wg_edge *edges;
	size_t nedges, cap;
	struct ai_wg_cycle *cycles;
	size_t ncycles;
	int cycles_truncated; /* more cycles than the cap, or the work budget ran out */
};

int ai_wg_new(size_t nnodes, struct ai_waitgraph **out);
void ai_wg_free(struct ai_waitgraph *g);
/* -EINVAL when a node is out of range. Duplicate edges are kept once. */
int ai_wg_add_edge(struct ai_waitgraph *g, uint32_t from, uint32_t to, uint32_t kind, uint64_t obj);

/*
 * Finds every elementary cycle (self-loops included), at most max_cycles (0: the
 * default), into g->cycles sorted by their first node. Returns the count or -ENOMEM.
 */
int ai_wg_find_cycles(struct ai_waitgraph *g, size_t max_cycles);

/*
 * The graph of a snapshot: node i is s->tasks[i]. Edges for tasks that are pending
 * (not running, scheduled or done): MUTEX waiter -> the mutex's current holder, JOIN
 * waiter -> the joined task while that task has not completed.
 */
int ai_wg_from_snapshot(const struct ai_snapshot *s, struct ai_waitgraph **out);

#endif /* AI_WAITGRAPH_H */
