/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "chains.h"
#include "common.h"

static struct ai_chain_row *row_get(struct ai_chain_row **rows, size_t *n, size_t *cap, int32_t pid,
				    uint64_t desc)
{
	struct ai_chain_row *r;

	for (size_t i = 0; i < *n; i++)
		if ((*rows)[i].pid == pid && (*rows)[i].desc == desc)
			return &(*rows)[i];
	r = ai_add_row((void **)rows, n, cap, sizeof(**rows));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->desc = desc;
	return r;
}

static void add_hist(__u64 *dst, const __u64 *src)
{
	for (int i = 0; i < TRACE_HIST_SLOTS; i++)
		dst[i] += src[i];
}

static void max_into(uint64_t *dst, uint64_t v)
{
	if (v > *dst)
		*dst = v;
}

/* A chain's polls to the function of its frame i (the root for i == 0). */
static void add_polls(struct ai_chain_row *f, const struct trace_chain *v, int root)
{
	if (root)
		f->tasks += v->tasks;
	else
		f->nested_waits += v->waits;
	f->polls += v->polls;
	f->busy_ns += v->busy_ns;
	f->idle_ns += v->idle_ns;
	f->sched_ns += v->sched_ns;
	max_into(&f->max_poll_ns, v->max_poll_ns);
	f->long_polls += v->long_polls;
	f->waits += v->waits;
	f->wait_ns += v->wait_ns;
	max_into(&f->max_wait_ns, v->max_wait_ns);
	add_hist(f->poll_hist, v->poll_hist);
	add_hist(f->sched_hist, v->sched_hist);
	add_hist(f->wait_hist, v->wait_hist);
}

static int add_chain(struct ai_chains *c, int32_t pid, const struct trace_chain *v)
{
	uint32_t depth = v->depth < ASYNC_RING_DEPTH ? v->depth : ASYNC_RING_DEPTH;
	struct ai_chain_row *r;

	for (uint32_t i = 0; i < depth; i++) {
		/* frames: the root, and the functions below it stopped at an await (not
		 * the innermost runtime leaf, which no poll resumes "in") */
		if (v->fn[i] && (i == 0 || v->at[i])) {
			/* a function twice on one chain (recursion) counts once */
			bool dup = false;

			for (uint32_t k = 0; k < i; k++)
				dup |= v->fn[k] == v->fn[i];
			if (!dup) {
				r = row_get(&c->funcs, &c->nfuncs, &c->cap_funcs, pid, v->fn[i]);
				if (!r)
					return -ENOMEM;
				add_polls(r, v, i == 0);
			}
		}
		if (v->at[i] && v->waits) {
			r = row_get(&c->awaits, &c->nawaits, &c->cap_awaits, pid, v->at[i]);
			if (!r)
				return -ENOMEM;
			r->fn = v->fn[i];
			if (v->wait_kind)
				r->wait_kind = v->wait_kind;
			r->waits += v->waits;
			r->wait_ns += v->wait_ns;
			max_into(&r->max_wait_ns, v->max_wait_ns);
			add_hist(r->wait_hist, v->wait_hist);
		}
	}
	return 0;
}

int ai_chains_read(int map_fd, int ncpus, struct ai_chains *out)
{
	struct trace_key key, next;
	struct trace_chain *vals;
	bool started = false;
	int err = 0;

	memset(out, 0, sizeof(*out));
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (!err && !bpf_map_get_next_key(map_fd, started ? &key : NULL, &next)) {
		struct ai_chain *ch;

		key = next;
		started = true;
		if (bpf_map_lookup_elem(map_fd, &key, vals))
			continue;
		ch =
		    ai_add_row((void **)&out->chains, &out->nchains, &out->cap_chains, sizeof(*ch));
		if (!ch) {
			err = -ENOMEM;
			break;
		}
		memset(ch, 0, sizeof(*ch));
		ch->pid = (int32_t)key.pid;
		for (int cpu = 0; cpu < ncpus; cpu++) {
			const struct trace_chain *v = &vals[cpu];
			struct trace_chain *s = &ch->v;

			if (v->depth && !s->depth) {
				memcpy(s->fn, v->fn, sizeof(s->fn));
				memcpy(s->at, v->at, sizeof(s->at));
				s->depth = v->depth;
			}
			if (v->wait_kind)
				s->wait_kind = v->wait_kind;
			s->tasks += v->tasks;
			s->polls += v->polls;
			s->busy_ns += v->busy_ns;
			s->idle_ns += v->idle_ns;
			s->sched_ns += v->sched_ns;
			if (v->max_poll_ns > s->max_poll_ns)
				s->max_poll_ns = v->max_poll_ns;
			s->long_polls += v->long_polls;
			s->waits += v->waits;
			s->wait_ns += v->wait_ns;
			if (v->max_wait_ns > s->max_wait_ns)
				s->max_wait_ns = v->max_wait_ns;
			add_hist(s->poll_hist, v->poll_hist);
			add_hist(s->sched_hist, v->sched_hist);
			add_hist(s->wait_hist, v->wait_hist);
		}
		err = add_chain(out, ch->pid, &ch->v);
	}
	free(vals);
	if (err)
		ai_chains_free(out);
	return err;
}

void ai_chains_free(struct ai_chains *c)
{
	free(c->chains);
	free(c->funcs);
	free(c->awaits);
	memset(c, 0, sizeof(*c));
}
