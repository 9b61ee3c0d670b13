// SPDX-License-Identifier: MIT
/* A recording replayed into timelines, summaries and pictures. See timeline.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "async/abi.h"
#include "aggregate.h"
#include "common.h"
#include "json.h"
#include "outfile.h"
#include "timeline.h"

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

	if (tl->flags & AI_TL_SLICES) {
		struct ai_tl_poll *p;

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
		p->from = prev_at;
		p->state = ai_poll_at(r);
		p->waker = r->waker_id;
		p->tid = r->tid;
		p->ready = r->result == ASYNC_RESULT_READY;
		p->wait_kind = t->wait_kind;
	}
	return 0;
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
	map_free(tl->task_map);
	map_free(tl->func_map);
	map_free(tl->await_map);
	ai_recfile_free(tl->rf);
	free(tl);
}

/* ---- names, as trace prints them ---------------------------------------------------- */

static const struct ai_desc *desc(const struct ai_timeline *tl, uint32_t pid, uint64_t addr)
{
	return addr ? ai_recfile_desc(tl->rf, pid, addr) : NULL;
}

/* "function@callee (file:line)" of an await point, NULL for none (0). */
static char *await_loc(const struct ai_timeline *tl, uint32_t pid, uint64_t addr)
{
	return addr ? ai_summary_desc_await(desc(tl, pid, addr), addr, true) : NULL;
}

/* Names into a caller buffer (exports): function, and the await point's callee. */
static const char *fn_name(const struct ai_timeline *tl, uint32_t pid, uint64_t fn, char *buf,
			   size_t len)
{
	const struct ai_desc *d = desc(tl, pid, fn);

	if (d && d->function)
		return d->function;
	snprintf(buf, len, fn ? "0x%" PRIx64 : "?", fn);
	return buf;
}

static const char *await_name(const struct ai_timeline *tl, uint32_t pid, uint64_t at, char *buf,
			      size_t len)
{
	const struct ai_desc *d = desc(tl, pid, at);

	if (d)
		snprintf(buf, len, "%s@%s", d->function ? d->function : "?",
			 d->callee ? d->callee : "?");
	else
		snprintf(buf, len, "0x%" PRIx64, at);
	return buf;
}

static const char *callee_name(const struct ai_timeline *tl, uint32_t pid, uint64_t at, char *buf,
			       size_t len)
{
	const struct ai_desc *d = desc(tl, pid, at);

	if (d && d->callee)
		return d->callee;
	snprintf(buf, len, "0x%" PRIx64, at);
	return buf;
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
static uint64_t end_of(const struct ai_timeline *tl)
{
	return tl->rf->info.end_ns > tl->last_ns ? tl->rf->info.end_ns : tl->last_ns;
}

static uint64_t act_end(const struct ai_timeline *tl)
{
	return tl->last_ns;
}

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
	if ((err = ai_summary_lost_add(s, "task_map_full", 0)) ||
	    (err = ai_summary_lost_add(s, "function_map_full", 0)) ||
	    (err = ai_summary_lost_add(s, "await_map_full", 0)) ||
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

/* ---- Chrome trace-event JSON ------------------------------------------------------------ */

/* Task tracks get synthetic thread ids above any real one (pid_max <= 2^22). */
#define TASK_TID_BASE 1000000000ull

/* ns since the first event: slices are placed and sized in integer ns, printed exactly */
static uint64_t rel_ns(const struct ai_timeline *tl, uint64_t ns)
{
	return ns >= tl->first_ns ? ns - tl->first_ns : 0;
}

static uint64_t task_tid(const struct ai_tl_task *t)
{
	return TASK_TID_BASE + t->id % (UINT32_MAX - TASK_TID_BASE);
}

static void ev_begin(struct ai_json *j, const char *ph, const char *name, const char *cat,
		     uint32_t pid, uint64_t tid)
{
	ai_json_object_begin(j);
	ai_json_kv_str(j, "ph", ph);
	if (name)
		ai_json_kv_str(j, "name", name);
	if (cat)
		ai_json_kv_str(j, "cat", cat);
	ai_json_kv_u64(j, "pid", pid);
	ai_json_kv_u64(j, "tid", tid);
}

static void meta(struct ai_json *j, const char *what, uint32_t pid, uint64_t tid, const char *name,
		 int64_t sort)
{
	ev_begin(j, "M", what, NULL, pid, tid);
	ai_json_key(j, "args");
	ai_json_object_begin(j);
	if (name)
		ai_json_kv_str(j, "name", name);
	else
		ai_json_kv_i64(j, "sort_index", sort);
	ai_json_object_end(j);
	ai_json_object_end(j);
}

static const char *thread_kind_name(uint32_t kind)
{
	switch (kind) {
	case ASYNC_THREAD_WORKER:
		return "worker";
	case ASYNC_THREAD_BLOCKING:
		return "blocking";
	case ASYNC_THREAD_REACTOR:
		return "reactor";
	default:
		return "thread";
	}
}

static void slice(struct ai_json *j, const struct ai_timeline *tl, const char *name,
		  const char *cat, uint32_t pid, uint64_t tid, uint64_t start, uint64_t end)
{
	ev_begin(j, "X", name, cat, pid, tid);
	ai_json_key(j, "ts");
	ai_json_us(j, rel_ns(tl, start));
	ai_json_key(j, "dur");
	ai_json_us(j, end > start ? rel_ns(tl, end) - rel_ns(tl, start) : 0);
}

static void flow(struct ai_json *j, const struct ai_timeline *tl, const char *ph, const char *name,
		 uint64_t id, uint32_t pid, uint64_t tid, uint64_t ts)
{
	ev_begin(j, ph, name, name, pid, tid);
	ai_json_kv_u64(j, "id", id);
	ai_json_key(j, "ts");
	ai_json_us(j, rel_ns(tl, ts));
	if (ph[0] == 'f')
		ai_json_kv_str(j, "bp", "e");
	ai_json_object_end(j);
}

/* The poll of task `t` running at `ts`, or NULL. */
static const struct ai_tl_poll *poll_at(const struct ai_tl_task *t, uint64_t ts)
{
	size_t lo = 0, hi = t->npl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->pl[mid].end_ns < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->npl && t->pl[lo].start_ns <= ts && ts <= t->pl[lo].end_ns)
		return &t->pl[lo];
	return NULL;
}

/*
 * Where a wake by task `t` at `ts` starts its arrow: inside the poll running then, or
 * at the end of its last poll before `ts` (a wake right after a poll, e.g. a join woken
 * by completion). 0 if `t` had not been polled yet.
 */
static uint64_t wake_origin(const struct ai_tl_task *t, uint64_t ts)
{
	size_t lo = 0, hi = t->npl;

	if (poll_at(t, ts))
		return ts;
	while (lo < hi) { /* last poll starting at or before ts */
		size_t mid = lo + (hi - lo) / 2;

		if (t->pl[mid].start_ns <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? t->pl[lo - 1].end_ns : 0;
}

struct run {
	uint32_t pid, tid;
	uint64_t start;
	size_t task, poll;
};

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->task < y->task ? -1 : x->task > y->task;
}

int ai_tl_write_chrome(const struct ai_timeline *tl, FILE *f)
{
	const struct ai_recfile *rf = tl->rf;
	struct ai_json j;
	uint64_t flow_id = 0;
	char buf[512], b1[128], b2[128];

	ai_json_init(&j, f, false);
	ai_json_object_begin(&j);
	ai_json_kv_str(&j, "displayTimeUnit", "ns");
	ai_json_key(&j, "otherData");
	ai_json_object_begin(&j);
	ai_json_kv_str(&j, "source", "async-inspect report");
	ai_json_kv_u64(&j, "start_monotonic_ns", tl->first_ns);
	ai_json_kv_u64(&j, "lost_events", rf->lost_total);
	ai_json_kv_u64(&j, "dropped_slices", tl->dropped_slices);
	ai_json_kv_str(&j, "warning", rf->warning[0] ? rf->warning : NULL);
	ai_json_object_end(&j);
	ai_json_key(&j, "traceEvents");
	ai_json_array_begin(&j);

	/* processes, worker threads first, then one track per task */
	for (size_t i = 0; i < rf->nprocs; i++) {
		snprintf(buf, sizeof(buf), "%s (%u)", rf->procs[i].comm, rf->procs[i].pid);
		meta(&j, "process_name", rf->procs[i].pid, 0, buf, 0);
	}
	for (size_t i = 0; i < tl->nthreads; i++) {
		const struct ai_tl_thread *th = &tl->threads[i];

		if (th->kind)
			snprintf(buf, sizeof(buf), "%s %u (tid %u)", thread_kind_name(th->kind),
				 th->index, th->tid);
		else
			snprintf(buf, sizeof(buf), "thread %u", th->tid);
		meta(&j, "thread_name", th->pid, th->tid, buf, 0);
		meta(&j, "thread_sort_index", th->pid, th->tid, NULL, (int64_t)i);
	}
	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];

		snprintf(buf, sizeof(buf), "%s #%" PRIu64,
			 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
		meta(&j, "thread_name", t->pid, task_tid(t), buf, 0);
		meta(&j, "thread_sort_index", t->pid, task_tid(t), NULL, (int64_t)(10000 + i));
	}

	/* per task: polls and the waits between them, in time order */
	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		const char *fname = fn_name(tl, t->pid, t->fn, b1, sizeof(b1));
		uint64_t tid = task_tid(t);

		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];
			uint64_t wend;

			if (p->ready)
				snprintf(buf, sizeof(buf), "%s: ready", fname);
			else
				snprintf(buf, sizeof(buf), "%s -> %s", fname,
					 callee_name(tl, t->pid, p->state, b2, sizeof(b2)));
			slice(&j, tl, buf, "poll", t->pid, tid, p->start_ns, p->end_ns);
			ai_json_key(&j, "args");
			ai_json_object_begin(&j);
			ai_json_kv_u64(&j, "task", t->id);
			ai_json_kv_u64(&j, "poll", k + 1);
			ai_json_kv_u64(&j, "thread", p->tid);
			ai_json_kv_str(&j, "resumed_at",
				       p->from ? await_name(tl, t->pid, p->from, b2, sizeof(b2))
					       : NULL);
			ai_json_kv_str(&j, "state",
				       p->ready ? "ready"
						: await_name(tl, t->pid, p->state, b2, sizeof(b2)));
			if (p->waker)
				ai_json_kv_u64(&j, "woken_by", p->waker);
			ai_json_object_end(&j);
			ai_json_object_end(&j);
			if (p->ready)
				continue;
			/* pending: waits at its await point until the next poll (or the end) */
			wend = k + 1 < t->npl ? t->pl[k + 1].start_ns
			       : t->done      ? t->done_ns
					      : act_end(tl);
			if (wend <= p->end_ns)
				continue;
			snprintf(buf, sizeof(buf), "wait %s",
				 await_name(tl, t->pid, p->state, b2, sizeof(b2)));
			slice(&j, tl, buf, "wait", t->pid, tid, p->end_ns, wend);
			ai_json_key(&j, "args");
			ai_json_object_begin(&j);
			{
				const struct ai_desc *d = desc(tl, t->pid, p->state);

				ai_json_kv_str(&j, "location",
					       d ? ai_desc_location(d, b2, sizeof(b2)) : NULL);
			}
			ai_json_kv_str(&j, "wait_kind", ai_summary_wait_kind_name(p->wait_kind));
			ai_json_object_end(&j);
			ai_json_object_end(&j);
		}
	}

	/* worker threads: what they polled, in time order per thread */
	{
		struct run *runs = malloc((tl->slices ? tl->slices : 1) * sizeof(*runs));
		size_t nruns = 0;

		if (!runs)
			return -ENOMEM;
		for (size_t i = 0; i < tl->ntasks; i++)
			for (size_t k = 0; k < tl->tasks[i].npl && nruns < tl->slices; k++)
				runs[nruns++] =
				    (struct run){ tl->tasks[i].pid, tl->tasks[i].pl[k].tid,
						  tl->tasks[i].pl[k].start_ns, i, k };
		qsort(runs, nruns, sizeof(*runs), cmp_run);
		for (size_t r = 0; r < nruns; r++) {
			const struct ai_tl_task *t = &tl->tasks[runs[r].task];
			const struct ai_tl_poll *p = &t->pl[runs[r].poll];

			snprintf(buf, sizeof(buf), "%s #%" PRIu64,
				 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
			slice(&j, tl, buf, "run", t->pid, p->tid, p->start_ns, p->end_ns);
			ai_json_object_end(&j);
		}
		free(runs);
	}

	/* flows: spawn (parent's poll -> child's first poll), wake (waker's poll -> poll) */
	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		const struct ai_tl_task *src;

		if (!t->npl)
			continue;
		src =
		    t->parent ? task_get((struct ai_timeline *)tl, t->pid, t->parent, false) : NULL;
		if (src && t->spawn_ns && poll_at(src, t->spawn_ns) &&
		    t->spawn_ns <= t->pl[0].start_ns) {
			flow_id++;
			flow(&j, tl, "s", "spawn", flow_id, t->pid, task_tid(src), t->spawn_ns);
			flow(&j, tl, "f", "spawn", flow_id, t->pid, task_tid(t), t->pl[0].start_ns);
		}
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];

			uint64_t at;

			if (!p->waker || p->waker == t->id || !p->woken_ns ||
			    p->woken_ns > p->start_ns)
				continue;
			/* a first poll woken by its parent: the spawn arrow says it already */
			if (k == 0 && p->waker == t->parent)
				continue;
			src = task_get((struct ai_timeline *)tl, t->pid, p->waker, false);
			at = src ? wake_origin(src, p->woken_ns) : 0;
			if (!at || at > p->start_ns)
				continue;
			flow_id++;
			flow(&j, tl, "s", "wake", flow_id, t->pid, task_tid(src), at);
			flow(&j, tl, "f", "wake", flow_id, t->pid, task_tid(t), p->start_ns);
		}
	}
	ai_json_array_end(&j);
	ai_json_finish(&j);
	return ferror(f) ? -EIO : 0;
}

/* ---- rows for the pictures ----------------------------------------------------------- */

/* The await point a task spent most of its waiting time at (0 if none). */
static uint64_t main_await(const struct ai_tl_task *t)
{
	struct {
		uint64_t at, ns;
	} seen[8] = { { 0 } };
	uint64_t best = 0, best_ns = 0;
	size_t n = 0;

	for (size_t k = 0; k + 1 < t->npl; k++) {
		const struct ai_tl_poll *p = &t->pl[k];
		uint64_t w =
		    t->pl[k + 1].start_ns > p->end_ns ? t->pl[k + 1].start_ns - p->end_ns : 0;
		size_t m;

		if (p->ready || !p->state)
			continue;
		for (m = 0; m < n && seen[m].at != p->state; m++)
			;
		if (m == n) {
			if (n == 8)
				continue;
			seen[n++].at = p->state;
		}
		seen[m].ns += w;
		if (seen[m].ns > best_ns) {
			best_ns = seen[m].ns;
			best = seen[m].at;
		}
	}
	return best;
}

static uint64_t task_begin(const struct ai_tl_task *t)
{
	if (t->spawn_ns)
		return t->spawn_ns;
	return t->npl ? t->pl[0].start_ns : 0;
}

static uint64_t task_end(const struct ai_timeline *tl, const struct ai_tl_task *t)
{
	if (t->done && t->done_ns)
		return t->done_ns;
	if (t->npl && t->pl[t->npl - 1].ready)
		return t->pl[t->npl - 1].end_ns;
	return act_end(tl);
}

/* ---- SVG ------------------------------------------------------------------------------ */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* A "nice" tick step (1, 2, 5 x 10^n ns) giving about `want` ticks over `span`. */
static uint64_t tick_step(uint64_t span, unsigned want)
{
	uint64_t step = 1, target = span / want;

	while (step < target) {
		if (step * 2 >= target)
			return step * 2;
		if (step * 5 >= target)
			return step * 5;
		if (step > UINT64_MAX / 100)
			return step;
		step *= 10;
	}
	return step;
}

static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.3gs", (double)ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, len, "%.3gms", (double)ns / 1e6);
	else if (ns >= 1000)
		snprintf(buf, len, "%.3gus", (double)ns / 1e3);
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
}

#define SVG_LABEL_W 220
#define SVG_PLOT_W  1000
#define SVG_ROW_H   18
#define SVG_TOP	    48

int ai_tl_write_svg(const struct ai_timeline *tl, FILE *f)
{
	uint64_t t0 = tl->first_ns, t1 = act_end(tl), span, step;
	unsigned height = SVG_TOP + (unsigned)tl->ntasks * SVG_ROW_H + 40;
	char buf[512], b1[128], b2[128];

	if (t1 <= t0)
		t1 = t0 + 1;
	span = t1 - t0;
#define X(ns) (SVG_LABEL_W + (double)((ns)-t0) * SVG_PLOT_W / (double)span)
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		"font-family=\"monospace\" font-size=\"11\">\n"
		"<title>async-inspect timeline</title>\n"
		"<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n",
		SVG_LABEL_W + SVG_PLOT_W + 20, height, SVG_LABEL_W + SVG_PLOT_W + 20, height);
	/* legend and time axis */
	fprintf(f, "<g class=\"legend\">"
		   "<rect x=\"4\" y=\"6\" width=\"10\" height=\"10\" fill=\"#2e7d32\"/>"
		   "<text x=\"18\" y=\"15\">running (polled)</text>"
		   "<rect x=\"134\" y=\"6\" width=\"10\" height=\"10\" fill=\"#f9a825\"/>"
		   "<text x=\"148\" y=\"15\">scheduled (woken)</text>"
		   "<rect x=\"274\" y=\"6\" width=\"10\" height=\"10\" fill=\"#cfd8dc\"/>"
		   "<text x=\"288\" y=\"15\">waiting at an await point</text></g>\n");
	step = tick_step(span, 10);
	fprintf(f, "<g class=\"axis\">\n");
	for (uint64_t t = 0; t <= span; t += step) {
		fmt_time(t, buf, sizeof(buf));
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%u\" x2=\"%.1f\" y2=\"%u\" stroke=\"#eeeeee\"/>"
			"<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">%s</text>\n",
			X(t0 + t), SVG_TOP - 6, X(t0 + t), height - 30, X(t0 + t), SVG_TOP - 10,
			buf);
		if (t > UINT64_MAX - step)
			break;
	}
	fprintf(f, "</g>\n");

	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		unsigned y = SVG_TOP + (unsigned)i * SVG_ROW_H;
		uint64_t b = task_begin(t), e = task_end(tl, t);

		fprintf(f, "<g class=\"task\" data-task=\"%" PRIu64 "\" data-pid=\"%u\">", t->id,
			t->pid);
		snprintf(buf, sizeof(buf), "%s #%" PRIu64,
			 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
		fprintf(f, "<text x=\"4\" y=\"%u\">", y + 12);
		xml_text(f, buf);
		fprintf(f, "</text>");
		if (b && e > b)
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
				"fill=\"#cfd8dc\"/>",
				X(b), y + 2, X(e) - X(b), SVG_ROW_H - 4);
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];

			if (p->woken_ns && p->woken_ns < p->start_ns && p->woken_ns >= t0 &&
			    (k == 0 || p->woken_ns >= t->pl[k - 1].end_ns))
				fprintf(f,
					"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
					"fill=\"#f9a825\"/>",
					X(p->woken_ns), y + 2, X(p->start_ns) - X(p->woken_ns),
					SVG_ROW_H - 4);
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
				"fill=\"#2e7d32\"><title>",
				X(p->start_ns), y + 2,
				X(p->end_ns) - X(p->start_ns) < 0.5 ? 0.5
								    : X(p->end_ns) - X(p->start_ns),
				SVG_ROW_H - 4);
			snprintf(buf, sizeof(buf), "poll %zu: %s", k + 1,
				 p->ready ? "ready"
					  : await_name(tl, t->pid, p->state, b2, sizeof(b2)));
			xml_text(f, buf);
			fprintf(f, "</title></rect>");
		}
		/* label each wait with its await point where the bar has room for it */
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];
			uint64_t wend = k + 1 < t->npl ? t->pl[k + 1].start_ns : e;
			const char *label;

			if (p->ready || wend <= p->end_ns)
				continue;
			label = callee_name(tl, t->pid, p->state, b2, sizeof(b2));
			if (X(wend) - X(p->end_ns) < 7.0 * (double)strlen(label) + 8)
				continue;
			fprintf(f, "<text x=\"%.1f\" y=\"%u\" fill=\"#37474f\">", X(p->end_ns) + 4,
				y + 12);
			xml_text(f, label);
			fprintf(f, "</text>");
		}
		fprintf(f, "</g>\n");
	}
	if (tl->rf->warning[0]) {
		fprintf(f, "<text x=\"4\" y=\"%u\" fill=\"#b71c1c\">warning: ", height - 12);
		xml_text(f, tl->rf->warning);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
#undef X
	return ferror(f) ? -EIO : 0;
}

/* ---- coloured text -------------------------------------------------------------------- */

/* Adds the part of [a, b) in each cell to acc[cell] (cells of `w` ns from t0). */
static void cells_add(double *acc, unsigned width, uint64_t t0, double w, uint64_t a, uint64_t b)
{
	double x0, x1;

	if (b <= a || a < t0)
		return;
	x0 = (double)(a - t0) / w;
	x1 = (double)(b - t0) / w;
	for (unsigned c = (unsigned)x0; c < width && c <= (unsigned)x1; c++) {
		double lo = x0 > c ? x0 : c, hi = x1 < c + 1.0 ? x1 : c + 1.0;

		if (hi > lo)
			acc[c] += hi - lo;
	}
}

int ai_tl_write_text(const struct ai_timeline *tl, FILE *f, unsigned width, bool color,
		     size_t max_rows)
{
	/* 0 outside the task's life, 1 waiting, 2 scheduled, 3 running, 4 polled briefly */
	static const char *const glyph[] = { " ", "\u2591", "\u2592", "\u2588", "\u2502" };
	static const char *const col[] = { "", "\033[90m", "\033[33m", "\033[32m", "\033[32m" };
	uint64_t t0 = tl->first_ns, t1 = act_end(tl), span;
	char buf[512], b1[128], b2[128];
	double *run, *sched, *life, w;
	unsigned char *cells;

	if (width < 10)
		width = 10;
	if (t1 <= t0)
		t1 = t0 + 1;
	span = t1 - t0;
	w = (double)span / width;
	cells = malloc(width);
	run = calloc(3 * (size_t)width, sizeof(*run));
	if (!cells || !run) {
		free(cells);
		free(run);
		return -ENOMEM;
	}
	sched = run + width;
	life = sched + width;
	fmt_time(span, b1, sizeof(b1));
	fprintf(f, "%-28s 0%*s%s\n", "task", (int)width - 1 - (int)strlen(b1), "", b1);
	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		uint64_t b = task_begin(t), e = task_end(tl, t), ma;
		unsigned last = 0;

		if (max_rows && i >= max_rows) {
			fprintf(f, "... %zu more tasks (--svg or --timeline show all)\n",
				tl->ntasks - i);
			break;
		}
		memset(cells, 0, width);
		memset(run, 0, 3 * (size_t)width * sizeof(*run));
		/* each cell shows what filled most of it; a poll too short for that is a thin bar
		 */
		cells_add(life, width, t0, w, b, e > b ? e : b + 1);
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];
			uint64_t c;

			if (p->woken_ns && p->woken_ns < p->start_ns &&
			    (k == 0 || p->woken_ns >= t->pl[k - 1].end_ns))
				cells_add(sched, width, t0, w, p->woken_ns, p->start_ns);
			cells_add(run, width, t0, w, p->start_ns,
				  p->end_ns > p->start_ns ? p->end_ns : p->start_ns + 1);
			if (p->start_ns >= t0 &&
			    (c = (uint64_t)((double)(p->start_ns - t0) / w)) < width)
				cells[c] = 4;
		}
		for (unsigned c = 0; c < width; c++) {
			if (run[c] >= 0.5)
				cells[c] = 3;
			else if (cells[c] == 4)
				continue;
			else if (sched[c] >= 0.5)
				cells[c] = 2;
			else if (!cells[c] && (life[c] > 0 || run[c] > 0))
				cells[c] = 1;
		}
		snprintf(buf, sizeof(buf), "%s #%" PRIu64,
			 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
		fprintf(f, "%-28.28s ", buf);
		for (unsigned c = 0; c < width; c++) {
			if (color && cells[c] != last)
				fputs(cells[c] ? col[cells[c]] : "\033[0m", f);
			last = cells[c];
			fputs(glyph[cells[c]], f);
		}
		if (color && last)
			fputs("\033[0m", f);
		ma = main_await(t);
		fprintf(f, " %s\n", ma ? callee_name(tl, t->pid, ma, b2, sizeof(b2)) : "");
	}
	fprintf(f, "%s%s running  %s%s polled briefly  %s%s scheduled  %s%s waiting%s\n",
		color ? col[3] : "", glyph[3], color ? col[4] : "", glyph[4], color ? col[2] : "",
		glyph[2], color ? col[1] : "", glyph[1], color ? "\033[0m" : "");
	free(cells);
	free(run);
	return ferror(f) ? -EIO : 0;
}
