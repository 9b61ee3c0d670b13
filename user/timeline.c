// SPDX-License-Identifier: MIT
/* A recording replayed into timelines, summaries and pictures. See timeline.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "async/abi.h"
#include "bpf/aggregate.h"
#include "common.h"
#include "foldedwait.h"
#include "json.h"
#include "outfile.h"
#include "timeline.h"
#include "timeline_int.h"

_Static_assert(AI_HIST_SLOTS == TRACE_HIST_SLOTS, "report and trace share histogram slots");

/* ---- (pid, key) -> index ------------------------------------------------------------- */

struct ai_tl_map {
	uint64_t *keys;
	uint32_t *pids;
	uint32_t *vals; /* index + 1; 0 = empty */
	size_t cap, n;
};

static uint64_t mix(uint32_t pid, uint64_t k)
{
	uint64_t x = k ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ull);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static long map_find(const struct ai_tl_map *m, uint32_t pid, uint64_t key)
{
	if (!m || !m->cap)
		return -1;
	for (size_t i = mix(pid, key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->vals[i])
			return -1;
		if (m->keys[i] == key && m->pids[i] == pid)
			return (long)m->vals[i] - 1;
	}
}

static int map_insert_raw(struct ai_tl_map *m, uint32_t pid, uint64_t key, uint32_t val)
{
	size_t i = mix(pid, key) & (m->cap - 1);

	while (m->vals[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->pids[i] = pid;
	m->vals[i] = val + 1;
	m->n++;
	return 0;
}

static int map_put(struct ai_tl_map **mp, uint32_t pid, uint64_t key, uint32_t val)
{
	struct ai_tl_map *m = *mp;

	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		*mp = m;
	}
	if ((m->n + 1) * 2 > m->cap) {
		struct ai_tl_map nm = { .cap = m->cap ? m->cap * 2 : 64 };

		nm.keys = calloc(nm.cap, sizeof(*nm.keys));
		nm.pids = calloc(nm.cap, sizeof(*nm.pids));
		nm.vals = calloc(nm.cap, sizeof(*nm.vals));
		if (!nm.keys || !nm.pids || !nm.vals) {
			free(nm.keys);
			free(nm.pids);
			free(nm.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->vals[i])
				map_insert_raw(&nm, m->pids[i], m->keys[i], m->vals[i] - 1);
		free(m->keys);
		free(m->pids);
		free(m->vals);
		*m = nm;
	}
	return map_insert_raw(m, pid, key, val);
}

static void map_free(struct ai_tl_map *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->pids);
	free(m->vals);
	free(m);
}

/* ---- replay ----------------------------------------------------------------------------- */

static struct ai_tl_task *task_get(struct ai_timeline *tl, uint32_t pid, uint64_t id, bool create)
{
	long i = map_find(tl->task_map, pid, id);
	struct ai_tl_task *t;

	if (i >= 0)
		return &tl->tasks[i];
	if (!create || tl->ntasks >= UINT32_MAX - 1)
		return NULL;
	t = ai_add_row((void **)&tl->tasks, &tl->ntasks, &tl->cap_tasks, sizeof(*t));
	if (!t)
		return NULL;
	if (map_put(&tl->task_map, pid, id, (uint32_t)(tl->ntasks - 1))) {
		tl->ntasks--;
		return NULL;
	}
	t->pid = pid;
	t->id = id;
	return t;
}

const struct ai_tl_task *ai_tl__task_find(const struct ai_timeline *tl, uint32_t pid, uint64_t id)
{
	long i = map_find(tl->task_map, pid, id);

	return i >= 0 ? &tl->tasks[i] : NULL;
}

static struct ai_tl_func *func_get(struct ai_timeline *tl, uint32_t pid, uint64_t fn)
{
	long i = map_find(tl->func_map, pid, fn);
	struct ai_tl_func *f;

	if (i >= 0)
		return &tl->funcs[i];
	f = ai_add_row((void **)&tl->funcs, &tl->nfuncs, &tl->cap_funcs, sizeof(*f));
	if (!f)
		return NULL;
	if (map_put(&tl->func_map, pid, fn, (uint32_t)(tl->nfuncs - 1))) {
		tl->nfuncs--;
		return NULL;
	}
	f->pid = pid;
	f->fn = fn;
	return f;
}

static struct ai_tl_await *await_get(struct ai_timeline *tl, uint32_t pid, uint64_t desc)
{
	long i = map_find(tl->await_map, pid, desc);
	struct ai_tl_await *a;

	if (i >= 0)
		return &tl->awaits[i];
	a = ai_add_row((void **)&tl->awaits, &tl->nawaits, &tl->cap_awaits, sizeof(*a));
	if (!a)
		return NULL;
	if (map_put(&tl->await_map, pid, desc, (uint32_t)(tl->nawaits - 1))) {
		tl->nawaits--;
		return NULL;
	}
	a->pid = pid;
	a->desc = desc;
	return a;
}

static struct ai_tl_thread *thread_get(struct ai_timeline *tl, uint32_t pid, uint32_t tid)
{
	struct ai_tl_thread *th;

	for (size_t i = tl->nthreads; i-- > 0;)
		if (tl->threads[i].tid == tid && tl->threads[i].pid == pid)
			return &tl->threads[i];
	if (tl->nthreads >= 4096)
		return NULL; /* a track per thread stops being useful long before this */
	th = ai_add_row((void **)&tl->threads, &tl->nthreads, &tl->cap_threads, sizeof(*th));
	if (th) {
		th->pid = pid;
		th->tid = tid;
	}
	return th;
}

static void seen_time(struct ai_timeline *tl, uint64_t t)
{
	if (!t)
		return;
	if (!tl->first_ns || t < tl->first_ns)
		tl->first_ns = t;
	if (t > tl->last_ns)
		tl->last_ns = t;
}

/* With AI_TL_SLICES: the poll r of task t as a slice (from: the await it resumed at). */
static int add_slice(struct ai_timeline *tl, struct ai_tl_task *t, const struct async_poll_rec *r,
		     uint64_t from, uint32_t wait_kind)
{
	struct ai_tl_poll *p;

	if (!(tl->flags & AI_TL_SLICES))
		return 0;
	if (tl->slices >= AI_TL_MAX_SLICES) {
		tl->dropped_slices++;
		return 0;
	}
	p = ai_add_row((void **)&t->pl, &t->npl, &t->cap_pl, sizeof(*p));
	if (!p)
		return -ENOMEM;
	tl->slices++;
	p->start_ns = r->start_ns;
	p->end_ns = r->end_ns;
	p->woken_ns = r->woken_ns;
	p->from = from;
	p->state = ai_poll_at(r);
	p->leaf = ai_poll_leaf(r);
	p->waker = r->waker_id;
	p->tid = r->tid;
	p->ready = r->result == ASYNC_RESULT_READY;
	p->wait_kind = wait_kind;
	return 0;
}

/*
 * bpf/trace.bpf.c aggregate_poll, in userspace, on the same record: the arithmetic is
 * shared (bpf/aggregate.h); only where the counters live differs.
 */
static int replay_poll(struct ai_timeline *tl, uint32_t pid, const struct async_poll_rec *r)
{
	struct ai_poll_times pt;
	struct ai_tl_task *t;
	struct ai_tl_func *f;
	struct ai_tl_await *a;
	uint64_t prev_at, fn;
	int first;

	t = task_get(tl, pid, r->task_id, true);
	if (!t)
		return -ENOMEM;
	ai_poll_times(r, t->last_end_ns, t->spawn_ns, &pt);
	first = t->polls == 0;
	prev_at = t->at;
	if (r->fn)
		t->fn = r->fn;
	fn = t->fn;

	AI_POLL_UPDATE_TASK(t, r, &pt, prev_at);

	f = func_get(tl, pid, fn);
	if (!f)
		return -ENOMEM;
	AI_POLL_UPDATE_FUNC(f, &pt, first, tl->long_poll_ns);

	if (prev_at && pt.gap) {
		a = await_get(tl, pid, prev_at);
		if (!a)
			return -ENOMEM;
		AI_POLL_UPDATE_AWAIT(a, &pt);
	}

	return add_slice(tl, t, r, prev_at, t->wait_kind);
}

static struct ai_tl_chain *chain_get(struct ai_timeline *tl, uint32_t pid,
				     const struct async_ring_rec *rr)
{
	uint32_t depth = rr->depth < ASYNC_RING_DEPTH ? rr->depth : ASYNC_RING_DEPTH;
	struct ai_tl_chain *c;

	for (size_t i = 0; i < tl->nchains; i++) {
		c = &tl->chains[i];
		if (c->pid == pid && c->depth == depth &&
		    !memcmp(c->fn, rr->fn, depth * sizeof(c->fn[0])) &&
		    !memcmp(c->at, rr->at, depth * sizeof(c->at[0])))
			return c;
	}
	c = ai_add_row((void **)&tl->chains, &tl->nchains, &tl->cap_chains, sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->depth = depth;
	memcpy(c->fn, rr->fn, depth * sizeof(c->fn[0]));
	memcpy(c->at, rr->at, depth * sizeof(c->at[0]));
	return c;
}

/*
 * A poll from a poll ring (AI_REC_RING): bpf/trace.bpf.c ai_ring_record and user/chains.c
 * in one, in any order among the task's polls. The task's times from the record's own
 * previous end; its "where is it now" fields only from its latest poll; the root function's
 * row; every function below the root that the poll resumed in; every await point of the
 * chain it resumed from gets the wait this poll ended.
 */
static int replay_ring(struct ai_timeline *tl, uint32_t pid, uint32_t tid,
		       const struct async_ring_rec *rr)
{
	uint32_t depth = rr->depth < ASYNC_RING_DEPTH ? rr->depth : ASYNC_RING_DEPTH;
	uint64_t prev_end = rr->prev_end_ns; /* 0 when before the recording (record.bpf.c) */
	struct async_poll_rec r;
	struct ai_poll_times pt;
	struct ai_tl_task *t;
	struct ai_tl_func *f;
	struct ai_tl_await *a;
	struct ai_tl_chain *c;

	ai_ring_poll_rec(rr, tid, &r);
	t = task_get(tl, pid, r.task_id, true);
	if (!t)
		return -ENOMEM;
	AI_RING_UPDATE_TASK(t, rr, &r, &pt, prev_end);

	f = func_get(tl, pid, rr->fn[0] ? rr->fn[0] : t->fn);
	if (!f)
		return -ENOMEM;
	AI_POLL_UPDATE_FUNC(f, &pt, !prev_end, tl->long_poll_ns);
	for (uint32_t i = 1; i < depth; i++) {
		bool dup = false;

		for (uint32_t k = 0; k < i; k++)
			dup |= rr->fn[k] == rr->fn[i];
		if (!rr->at[i] || !rr->fn[i] || dup)
			continue;
		f = func_get(tl, pid, rr->fn[i]);
		if (!f)
			return -ENOMEM;
		f->polls++;
		f->busy_ns += pt.dur;
		f->idle_ns += pt.idle;
		f->sched_ns += pt.sched;
		if (pt.dur > f->max_poll_ns)
			f->max_poll_ns = pt.dur;
		if (pt.dur > tl->long_poll_ns)
			f->long_polls++;
		f->poll_hist[ai_poll_slot(pt.dur)]++;
		if (pt.has_sched)
			f->sched_hist[ai_poll_slot(pt.sched)]++;
		if (prev_end && pt.gap && rr->at[0])
			f->calls++;
	}
	if (prev_end && pt.gap && rr->at[0]) {
		for (uint32_t i = 0; i < depth; i++) {
			if (!rr->at[i])
				continue;
			a = await_get(tl, pid, rr->at[i]);
			if (!a)
				return -ENOMEM;
			AI_POLL_UPDATE_AWAIT(a, &pt);
		}
		c = chain_get(tl, pid, rr);
		if (!c)
			return -ENOMEM;
		c->waits++;
		c->wait_ns += pt.gap;
	}

	return add_slice(tl, t, &r, rr->at[0], rr->end_wait_kind);
}

static int cmp_poll(const void *a, const void *b)
{
	const struct ai_tl_poll *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int on_event(void *ctx, const struct ai_rec_hdr *h)
{
	struct ai_timeline *tl = ctx;
	struct ai_tl_task *t;

	seen_time(tl, h->ts);
	switch (h->type) {
	case AI_REC_SPAWN: {
		const struct ai_rec_spawn *e = (const void *)h;

		t = task_get(tl, h->pid, e->task_id, true);
		if (!t)
			return -ENOMEM;
		t->parent = e->parent_id;
		if (e->fn)
			t->fn = e->fn;
		t->name_addr = e->name_addr;
		t->spawn_ns = h->ts;
		t->spawn_tid = h->tid;
		if (!t->polls) {
			t->state = ASYNC_TASK_SCHEDULED;
			t->state_since_ns = t->spawn_ns;
		}
		return 0;
	}
	case AI_REC_POLL: {
		const struct ai_rec_poll *e = (const void *)h;
		struct async_poll_rec r = e->rec;

		r.tid = h->tid;
		seen_time(tl, r.start_ns);
		seen_time(tl, r.end_ns);
		thread_get(tl, h->pid, h->tid); /* NULL past 4096 threads: no track */
		return replay_poll(tl, h->pid, &r);
	}
	case AI_REC_RING: {
		const struct ai_rec_ring *e = (const void *)h;

		seen_time(tl, e->rec.start_ns);
		seen_time(tl, e->rec.end_ns);
		thread_get(tl, h->pid, h->tid);
		return replay_ring(tl, h->pid, h->tid, &e->rec);
	}
	case AI_REC_DONE: {
		const struct ai_rec_done *e = (const void *)h;

		t = task_get(tl, h->pid, e->task_id, true);
		if (!t)
			return -ENOMEM;
		seen_time(tl, e->end_ns);
		t->done = true;
		t->result = e->result;
		t->state = ASYNC_TASK_DONE;
		t->state_since_ns = e->end_ns;
		t->done_ns = e->end_ns;
		t->at = 0;
		t->leaf = 0;
		return 0;
	}
	case AI_REC_WAIT: {
		const struct ai_rec_wait *e = (const void *)h;

		t = task_get(tl, h->pid, e->task_id, false);
		if (t) {
			t->wait_kind = e->kind;
			/* a probe fires inside the poll it belongs to, before its end */
			t->wait_poll = e->flags & AI_REC_WAIT_F_CURRENT ? t->polls : t->polls + 1;
		}
		return 0;
	}
	case AI_REC_THREAD: {
		const struct ai_rec_thread *e = (const void *)h;
		struct ai_tl_thread *th = thread_get(tl, h->pid, e->thread_tid);

		if (th && !th->kind) {
			uint32_t idx = 0;

			for (size_t i = 0; i < tl->nthreads; i++)
				if (tl->threads[i].pid == h->pid && tl->threads[i].kind == e->kind)
					idx++;
			th->kind = e->kind;
			th->index = idx;
		}
		return 0;
	}
	default:
		return 0; /* acquire/release: not in the aggregates */
	}
}

int ai_tl_fload(FILE *f, unsigned flags, uint64_t long_poll_ns, struct ai_timeline **out, char *err,
		size_t errlen)
{
	struct ai_timeline *tl = calloc(1, sizeof(*tl));
	int ret;

	*out = NULL;
	if (!tl) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tl->flags = flags;
	tl->long_poll_ns = long_poll_ns ? long_poll_ns : 10000000ull;
	ret = ai_recfile_fread(f, on_event, tl, &tl->rf, err, errlen);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		ai_tl_free(tl);
		return ret;
	}
	/* ring events arrive a worker's batch at a time: each task's polls in time order */
	for (size_t i = 0; i < tl->ntasks; i++)
		if (tl->tasks[i].npl > 1)
			qsort(tl->tasks[i].pl, tl->tasks[i].npl, sizeof(*tl->tasks[i].pl),
			      cmp_poll);
	*out = tl;
	return 0;
}

int ai_tl_load(const char *path, unsigned flags, uint64_t long_poll_ns, struct ai_timeline **out,
	       char *err, size_t errlen)
{
	int ret = 0;
	FILE *f = ai_fopen_input(path, &ret, err, errlen);

	*out = NULL;
	if (!f)
		return ret;
	ret = ai_tl_fload(f, flags, long_poll_ns, out, err, errlen);
	fclose(f);
	return ret;
}

void ai_tl_free(struct ai_timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->ntasks; i++)
		free(tl->tasks[i].pl);
	free(tl->tasks);
	free(tl->funcs);
	free(tl->awaits);
	free(tl->threads);
	free(tl->chains);
	map_free(tl->task_map);
	map_free(tl->func_map);
	map_free(tl->await_map);
	ai_recfile_free(tl->rf);
	free(tl);
}

/* ---- the summary model ------------------------------------------------------------- */

/* Long-poll warnings name the plain functions the async function calls (ASYNC_CALL). */
static int annotate_long_polls(const struct ai_timeline *tl, struct ai_summary *s)
{
	for (size_t i = 0; i < s->nwarnings; i++) {
		struct ai_sum_warning *w = &s->warnings[i];

		if (strcmp(w->kind, AI_WARN_LONG_POLL) || !w->function)
			continue;
		for (size_t o = 0; o < tl->rf->nobjects; o++) {
			const struct ai_rf_object *obj = &tl->rf->objects[o];

			if (obj->pid != (uint32_t)w->pid)
				continue;
			for (size_t k = 0; k < obj->n; k++) {
				const struct ai_desc *d = &obj->descs[k];
				char loc[512], *nd = NULL;

				if (d->kind != ASYNC_DESC_CALL || !d->function || !d->callee ||
				    strcmp(d->function, w->function))
					continue;
				if (asprintf(&nd, "%s; it calls %s() at %s", w->detail, d->callee,
					     ai_desc_location(d, loc, sizeof(loc))) < 0)
					return -ENOMEM;
				free(w->detail);
				w->detail = nd;
			}
		}
	}
	return 0;
}

/* End of the recording (summary), and end of its activity (pictures). */
int ai_tl_summary(const struct ai_timeline *tl, const struct ai_lint_opts *lo, struct ai_summary *s)
{
	const struct ai_recfile *rf = tl->rf;
	struct ai_lint_opts dlo;
	int err;

	err =
	    ai_summary_init(s, rf->info.flags & AI_RF_F_SYSTEM ? -1 : (int32_t)rf->info.target_pid);
	if (err)
		return err;
	s->source = strdup("report");
	s->start_ns = rf->info.start_ns;
	s->duration_ns = end_of(tl) > rf->info.start_ns ? end_of(tl) - rf->info.start_ns : 0;
	if (!s->source)
		return -ENOMEM;

	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *tt = &tl->tasks[i];
		struct ai_sum_task *t = ai_summary_add_task(s);
		const char *name;

		if (!t)
			return -ENOMEM;
		t->pid = (int32_t)tt->pid;
		t->id = tt->id;
		t->parent = tt->parent;
		t->function =
		    tt->fn ? ai_summary_desc_name(desc(tl, tt->pid, tt->fn), tt->fn) : strdup("?");
		name = ai_recfile_name(rf, tt->pid, tt->name_addr);
		t->name = name ? strdup(name) : NULL;
		t->state = ai_summary_state_name(tt->done ? ASYNC_TASK_DONE : tt->state);
		if (tt->at && !tt->done) {
			t->location = ai_summary_desc_location(desc(tl, tt->pid, tt->at));
			t->await = ai_summary_desc_await(desc(tl, tt->pid, tt->at), tt->at, false);
		}
		t->spawn_ns = tt->spawn_ns;
		t->state_since_ns = tt->state_since_ns;
		t->polls = tt->polls;
		t->busy_ns = tt->busy_ns;
		t->idle_ns = tt->idle_ns;
		t->sched_delay_ns = tt->sched_ns;
		t->max_poll_ns = tt->max_poll_ns;
		if (tt->polls) {
			t->max_poll_from = await_loc(tl, tt->pid, tt->max_poll_from);
			t->max_poll_to = await_loc(tl, tt->pid, tt->max_poll_to);
		}
		t->wakes_self = tt->wakes_self;
		t->wakes_other = tt->wakes_other;
		t->wait_kind = tt->wait_poll == tt->polls ? tt->wait_kind : ASYNC_WAIT_NONE;
		t->done = tt->done || tt->state == ASYNC_TASK_DONE;
		t->result = tt->result;
	}
	for (size_t i = 0; i < tl->nfuncs; i++) {
		const struct ai_tl_func *v = &tl->funcs[i];
		struct ai_sum_function *f = ai_summary_add_function(s);

		if (!f)
			return -ENOMEM;
		f->pid = (int32_t)v->pid;
		f->name = ai_summary_desc_name(desc(tl, v->pid, v->fn), v->fn);
		f->location = ai_summary_desc_location(desc(tl, v->pid, v->fn));
		f->tasks = v->tasks;
		f->calls = v->calls;
		f->polls = v->polls;
		f->busy_ns = v->busy_ns;
		f->idle_ns = v->idle_ns;
		f->sched_delay_ns = v->sched_ns;
		f->max_poll_ns = v->max_poll_ns;
		f->long_polls = v->long_polls;
		memcpy(f->poll_ns_log2, v->poll_hist, sizeof(f->poll_ns_log2));
		memcpy(f->sched_delay_ns_log2, v->sched_hist, sizeof(f->sched_delay_ns_log2));
	}
	for (size_t i = 0; i < tl->nawaits; i++) {
		const struct ai_tl_await *v = &tl->awaits[i];
		const struct ai_desc *d = desc(tl, v->pid, v->desc);
		struct ai_sum_await *a = ai_summary_add_await(s);

		if (!a)
			return -ENOMEM;
		a->pid = (int32_t)v->pid;
		a->function = ai_summary_desc_name(d, v->desc);
		a->callee = d && d->callee ? strdup(d->callee) : NULL;
		a->location = ai_summary_desc_location(desc(tl, v->pid, v->desc));
		a->waits = v->waits;
		a->wait_ns = v->wait_ns;
		a->max_wait_ns = v->max_wait_ns;
		memcpy(a->wait_ns_log2, v->wait_hist, sizeof(a->wait_ns_log2));
	}
	for (size_t i = 0; i < rf->nprocs; i++) {
		const struct ai_rf_proc *rp = &rf->procs[i];
		struct ai_sum_process *sp;
		size_t k;

		for (k = 0; k < s->nprocs; k++)
			if (s->procs[k].pid == (int32_t)rp->pid)
				break;
		if (k < s->nprocs)
			continue;
		sp = ai_summary_add_process(s);
		if (!sp)
			return -ENOMEM;
		sp->pid = (int32_t)rp->pid;
		sp->comm = strdup(rp->comm);
		/* the footer knows how the recorded command ended */
		sp->exited = (rf->info.flags & AI_RF_F_COMMAND) && rp->pid == rf->info.target_pid &&
			     rf->info.exit_status >= 0;
		sp->exit_status = sp->exited ? rf->info.exit_status : -1;
	}
	if ((err = ai_summary_lost_add(s, "ring_overruns", 0)) ||
	    (err = ai_summary_lost_add(s, "task_map_full", 0)) ||
	    (err = ai_summary_lost_add(s, "chain_map_full", 0)) ||
	    (err = ai_summary_lost_add(s, "ringbuf_drops", rf->lost_total)))
		return err;
	if (!lo) {
		ai_summary_lint_defaults(&dlo);
		dlo.now_ns = end_of(tl);
		lo = &dlo;
	}
	err = ai_summary_lint(s, lo);
	if (err < 0)
		return err;
	return annotate_long_polls(tl, s);
}
