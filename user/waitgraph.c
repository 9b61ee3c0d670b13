/* SPDX-License-Identifier: MIT */
/* Wait-for graph and its elementary cycles (Johnson, 1975): see waitgraph.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "waitgraph.h"

/* Steps of the cycle search before it gives up (a pathological dense graph). */
#define WG_WORK_BUDGET 10000000ull

int ai_wg_new(size_t nnodes, struct ai_waitgraph **out)
{
	struct ai_waitgraph *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->nnodes = nnodes;
	*out = g;
	return 0;
}

static void free_cycles(struct ai_waitgraph *g)
{
	for (size_t i = 0; i < g->ncycles; i++) {
		free(g->cycles[i].nodes);
		free(g->cycles[i].edges);
	}
	free(g->cycles);
	g->cycles = NULL;
	g->ncycles = 0;
	g->cycles_truncated = 0;
}

void ai_wg_free(struct ai_waitgraph *g)
{
	if (!g)
		return;
	free_cycles(g);
	free(g->edges);
	free(g);
}

int ai_wg_add_edge(struct ai_waitgraph *g, uint32_t from, uint32_t to, uint32_t kind, uint64_t obj)
{
	if (from >= g->nnodes || to >= g->nnodes)
		return -EINVAL;
	for (size_t i = 0; i < g->nedges; i++) {
		const struct ai_wg_edge *e = &g->edges[i];

		if (e->from == from && e->to == to && e->kind == kind && e->obj == obj)
			return 0;
	}
	if (g->nedges == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 16;
		void *p = realloc(g->edges, ncap * sizeof(*g->edges));

		if (!p)
			return -ENOMEM;
		g->edges = p;
		g->cap = ncap;
	}
	g->edges[g->nedges++] = (struct ai_wg_edge){ from, to, kind, obj };
	return 0;
}

/* ---- Johnson's algorithm ---------------------------------------------------------- */

struct johnson {
	struct ai_waitgraph *g;
	size_t *adj_start; /* CSR over edges sorted by `from`: edge indexes */
	uint32_t *adj;
	bool *blocked;
	uint32_t **b; /* Johnson's B lists */
	size_t *blen, *bcap;
	uint32_t *stack_nodes, *stack_edges;
	size_t depth;
	uint32_t start;
	size_t max_cycles;
	uint64_t work;
	int err;
	bool stop;
};

static void unblock(struct johnson *j, uint32_t u)
{
	/* Iterative: an explicit worklist instead of recursion. */
	uint32_t *work = j->stack_nodes + j->g->nnodes; /* second half of the buffer */
	size_t top = 0;

	work[top++] = u;
	j->blocked[u] = false;
	while (top) {
		uint32_t x = work[--top];

		while (j->blen[x]) {
			uint32_t w = j->b[x][--j->blen[x]];

			if (j->blocked[w]) {
				j->blocked[w] = false;
				work[top++] = w;
			}
		}
	}
}

static int b_add(struct johnson *j, uint32_t w, uint32_t v)
{
	for (size_t i = 0; i < j->blen[w]; i++)
		if (j->b[w][i] == v)
			return 0;
	if (j->blen[w] == j->bcap[w]) {
		size_t ncap = j->bcap[w] ? j->bcap[w] * 2 : 4;
		void *p = realloc(j->b[w], ncap * sizeof(uint32_t));

		if (!p)
			return -ENOMEM;
		j->b[w] = p;
		j->bcap[w] = ncap;
	}
	j->b[w][j->blen[w]++] = v;
	return 0;
}

static int emit_cycle(struct johnson *j)
{
	struct ai_waitgraph *g = j->g;
	struct ai_wg_cycle *c;
	void *p;

	if (g->ncycles == j->max_cycles) {
		g->cycles_truncated = 1;
		j->stop = true;
		return 0;
	}
	p = realloc(g->cycles, (g->ncycles + 1) * sizeof(*g->cycles));
	if (!p)
		return -ENOMEM;
	g->cycles = p;
	c = &g->cycles[g->ncycles];
	c->len = j->depth;
	c->nodes = malloc(j->depth * sizeof(uint32_t));
	c->edges = malloc(j->depth * sizeof(uint32_t));
	if (!c->nodes || !c->edges) {
		free(c->nodes);
		free(c->edges);
		return -ENOMEM;
	}
	memcpy(c->nodes, j->stack_nodes, j->depth * sizeof(uint32_t));
	memcpy(c->edges, j->stack_edges, j->depth * sizeof(uint32_t));
	g->ncycles++;
	return 0;
}

/*
 * CIRCUIT(v) of Johnson's paper, iterative. Frames hold the node and the position in
 * its adjacency list; `found` per frame says whether a cycle went through it.
 */
struct jframe {
	uint32_t v;
	size_t next;
	bool found;
};

static void circuit(struct johnson *j, struct jframe *frames)
{
	size_t top = 0;

	frames[0] = (struct jframe){ j->start, j->adj_start[j->start], false };
	j->stack_nodes[0] = j->start;
	j->depth = 1;
	j->blocked[j->start] = true;

	while (!j->stop) {
		struct jframe *f = &frames[top];

		if (++j->work > WG_WORK_BUDGET) {
			j->g->cycles_truncated = 1;
			j->stop = true;
			break;
		}
		if (f->next < j->adj_start[f->v + 1]) {
			uint32_t ei = j->adj[f->next++];
			uint32_t w = j->g->edges[ei].to;

			if (w < j->start)
				continue; /* only the subgraph of nodes >= start */
			j->stack_edges[j->depth - 1] = ei;
			if (w == j->start) {
				int err = emit_cycle(j);

				if (err) {
					j->err = err;
					j->stop = true;
					break;
				}
				f->found = true;
			} else if (!j->blocked[w]) {
				top++;
				frames[top] = (struct jframe){ w, j->adj_start[w], false };
				j->stack_nodes[j->depth++] = w;
				j->blocked[w] = true;
			}
			continue;
		}
		/* All successors done: leave v. */
		if (f->found) {
			unblock(j, f->v);
		} else {
			for (size_t k = j->adj_start[f->v]; k < j->adj_start[f->v + 1]; k++) {
				uint32_t w = j->g->edges[j->adj[k]].to;

				if (w < j->start)
					continue;
				if (b_add(j, w, f->v)) {
					j->err = -ENOMEM;
					j->stop = true;
					break;
				}
			}
		}
		j->depth--;
		if (!top)
			break;
		top--;
		if (f->found)
			frames[top].found = true;
	}
}

static int cmp_cycle(const void *a, const void *b)
{
	const struct ai_wg_cycle *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;

	for (size_t i = 0; i < n; i++)
		if (x->nodes[i] != y->nodes[i])
			return x->nodes[i] < y->nodes[i] ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

int ai_wg_find_cycles(struct ai_waitgraph *g, size_t max_cycles)
{
	struct johnson j = { .g = g, .max_cycles = max_cycles ? max_cycles : AI_WG_MAX_CYCLES };
	size_t n = g->nnodes;
	struct jframe *frames = NULL;
	int err = -ENOMEM;

	free_cycles(g);
	if (!n)
		return 0;
	j.adj_start = calloc(n + 1, sizeof(size_t));
	j.adj = malloc((g->nedges ? g->nedges : 1) * sizeof(uint32_t));
	j.blocked = calloc(n, sizeof(bool));
	j.b = calloc(n, sizeof(uint32_t *));
	j.blen = calloc(n, sizeof(size_t));
	j.bcap = calloc(n, sizeof(size_t));
	j.stack_nodes = malloc(2 * n * sizeof(uint32_t));
	j.stack_edges = malloc(n * sizeof(uint32_t));
	frames = malloc(n * sizeof(*frames));
	if (!j.adj_start || !j.adj || !j.blocked || !j.b || !j.blen || !j.bcap || !j.stack_nodes ||
	    !j.stack_edges || !frames)
		goto out;

	/* Adjacency in CSR form (counting sort by `from`). */
	for (size_t i = 0; i < g->nedges; i++)
		j.adj_start[g->edges[i].from + 1]++;
	for (size_t v = 0; v < n; v++)
		j.adj_start[v + 1] += j.adj_start[v];
	{
		size_t *fill = calloc(n, sizeof(size_t));

		if (!fill)
			goto out;
		for (size_t i = 0; i < g->nedges; i++) {
			uint32_t f = g->edges[i].from;

			j.adj[j.adj_start[f] + fill[f]++] = (uint32_t)i;
		}
		free(fill);
	}

	for (j.start = 0; j.start < n && !j.stop; j.start++) {
		/* Reset blocked and B for the nodes >= start. */
		for (size_t v = j.start; v < n; v++) {
			j.blocked[v] = false;
			j.blen[v] = 0;
		}
		if (j.adj_start[j.start] == j.adj_start[j.start + 1])
			continue;
		circuit(&j, frames);
	}
	if (j.err) {
		err = j.err;
		free_cycles(g);
		goto out;
	}
	/* Johnson emits each cycle once starting at its smallest node; order them. */
	if (g->ncycles > 1)
		qsort(g->cycles, g->ncycles, sizeof(*g->cycles), cmp_cycle);
	err = (int)g->ncycles;
out:
	if (j.b)
		for (size_t v = 0; v < n; v++)
			free(j.b[v]);
	free(j.b);
	free(j.blen);
	free(j.bcap);
	free(j.adj_start);
	free(j.adj);
	free(j.blocked);
	free(j.stack_nodes);
	free(j.stack_edges);
	free(frames);
	return err;
}

/* ---- from a snapshot ---------------------------------------------------------------- */

int ai_wg_from_snapshot(const struct ai_snapshot *s, struct ai_waitgraph **out)
{
	struct ai_waitgraph *g;
	int err = ai_wg_new(s->ntasks, &g);

	if (err)
		return err;
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];
		long to;

		if (t->abi.state != ASYNC_TASK_IDLE || !t->wait_for)
			continue;
		if (t->abi.wait_kind != ASYNC_WAIT_MUTEX && t->abi.wait_kind != ASYNC_WAIT_JOIN)
			continue;
		to = ai_snapshot_index(s, t->wait_for);
		if (to < 0)
			continue;
		if (t->abi.wait_kind == ASYNC_WAIT_JOIN &&
		    s->tasks[to].abi.state == ASYNC_TASK_DONE)
			continue;
		err =
		    ai_wg_add_edge(g, (uint32_t)i, (uint32_t)to, t->abi.wait_kind, t->abi.wait_obj);
		if (err) {
			ai_wg_free(g);
			return err;
		}
	}
	*out = g;
	return 0;
}
