/* SPDX-License-Identifier: MIT */
/* Findings from a series of registry snapshots (see findings.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "waitgraph.h"

/* A leak grows in every interval, by this many tasks over the window at least. */
#define LEAK_MIN_GROWTH 8

const char *ai_finding_kind_name(enum ai_finding_kind kind)
{
	switch (kind) {
	case AI_FINDING_DEADLOCK:
		return "deadlock";
	case AI_FINDING_LOST_WAKE:
		return "lost-wakeup";
	case AI_FINDING_ORPHAN_LOCK:
		return "orphan-lock";
	case AI_FINDING_STALL:
		return "stall";
	case AI_FINDING_BLOCKING:
		return "blocking";
	case AI_FINDING_LEAK:
		return "task-leak";
	case AI_FINDING_PREEMPTION:
		return "preemption";
	}
	return "?";
}

void ai_finding_innermost(const struct ai_snap_task *t, uint64_t *fn, uint64_t *at)
{
	*fn = t->abi.fn;
	*at = 0;
	for (unsigned i = 0; i < t->chain_len; i++) {
		if (t->chain[i].at) {
			*fn = t->chain[i].fn;
			*at = t->chain[i].at;
		}
	}
}

void ai_findings_free(struct ai_findings *f)
{
	if (!f)
		return;
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static struct ai_finding *finding_new(struct ai_findings *f, enum ai_finding_kind kind)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		void *v = realloc(f->v, cap * sizeof(*f->v));

		if (!v)
			return NULL;
		f->v = v;
		f->cap = cap;
	}
	memset(&f->v[f->n], 0, sizeof(f->v[0]));
	f->v[f->n].kind = kind;
	return &f->v[f->n++];
}

static void finding_add_task(struct ai_finding *x, uint64_t id)
{
	for (size_t i = 0; i < x->ntask_ids; i++)
		if (x->task_ids[i] == id)
			return;
	if (x->ntask_ids < AI_FINDING_MAX_TASKS)
		x->task_ids[x->ntask_ids++] = id;
}

/* The snapshots of the window, oldest first. */
struct window {
	const struct ai_snapshot *const *snaps;
	size_t n;
	const struct ai_snapshot *last;
};

/*
 * The task of the last snapshot is in the same state as in an earlier one: it has not
 * moved for at least one interval. Any earlier snapshot will do, so a bug that begins
 * during the window is found as well as one that began before it.
 */
static bool steady(const struct window *w, const struct ai_snap_task *t)
{
	for (size_t k = 0; k + 1 < w->n; k++)
		if (ai_snap_task_unmoved(ai_snapshot_find(w->snaps[k], t->abi.id), t))
			return true;
	return false;
}

/* The task `t` cannot go on until, or 0: mutex holder, joined task, channel's other end. */
static uint64_t peer_of(const struct ai_snapshot *s, const struct ai_snap_task *t)
{
	const struct ai_snap_task *p;

	switch (t->abi.wait_kind) {
	case ASYNC_WAIT_MUTEX:
		return t->wait_for;
	case ASYNC_WAIT_JOIN:
		p = ai_snapshot_find(s, t->wait_for);
		return p && p->abi.state != ASYNC_TASK_DONE ? t->wait_for : 0;
	case ASYNC_WAIT_CHAN_SEND:
	case ASYNC_WAIT_CHAN_RECV:
		return t->chan_peer;
	default:
		return 0;
	}
}

/* ---- deadlocks -------------------------------------------------------------------------- */

static int find_deadlocks(const struct window *w, struct ai_findings *out, bool *in_cycle)
{
	const struct ai_snapshot *s = w->last;
	struct ai_waitgraph *g;
	int err = ai_wg_new(s->ntasks, &g);

	if (err)
		return err;
	for (size_t i = 0; i < s->ntasks && !err; i++) {
		const struct ai_snap_task *t = &s->tasks[i];
		uint64_t peer = peer_of(s, t);
		long to = peer ? ai_snapshot_index(s, peer) : -1;

		if (to < 0 || !steady(w, t) || !steady(w, &s->tasks[to]))
			continue;
		err =
		    ai_wg_add_edge(g, (uint32_t)i, (uint32_t)to, t->abi.wait_kind, t->abi.wait_obj);
	}
	if (!err)
		err = ai_wg_find_cycles(g, 0) < 0 ? -ENOMEM : 0;
	for (size_t k = 0; !err && k < g->ncycles; k++) {
		const struct ai_wg_cycle *c = &g->cycles[k];
		struct ai_finding *x = finding_new(out, AI_FINDING_DEADLOCK);

		if (!x) {
			err = -ENOMEM;
			break;
		}
		x->count = c->len;
		ai_finding_innermost(&s->tasks[c->nodes[0]], &x->fn, &x->at);
		for (size_t i = 0; i < c->len; i++) {
			const struct ai_snap_task *t = &s->tasks[c->nodes[i]];
			uint64_t in_state = ai_snap_task_in_state(s, t);

			finding_add_task(x, t->abi.id);
			if (in_state > x->stuck_ns)
				x->stuck_ns = in_state;
			in_cycle[c->nodes[i]] = true;
		}
	}
	ai_wg_free(g);
	return err;
}

/* ---- grouping by (function, await point) --------------------------------------------- */

struct keyed {
	uint64_t fn, at;
	uint64_t id;
	size_t idx; /* in its snapshot */
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->fn != y->fn)
		return x->fn < y->fn ? -1 : 1;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The idle tasks of `s` sorted by (fn, at, id); *n of them. */
static struct keyed *keyed_idle(const struct ai_snapshot *s, size_t *n)
{
	struct keyed *v = malloc((s->ntasks ? s->ntasks : 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];

		if (t->abi.state != ASYNC_TASK_IDLE)
			continue;
		ai_finding_innermost(t, &v[*n].fn, &v[*n].at);
		v[*n].id = t->abi.id;
		v[*n].idx = i;
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_keyed);
	return v;
}

/* [*lo, *hi) of the entries of v with key (fn, at). */
static void key_range(const struct keyed *v, size_t n, uint64_t fn, uint64_t at, size_t *lo,
		      size_t *hi)
{
	struct keyed k = { .fn = fn, .at = at, .id = 0 };
	size_t a = 0, b = n;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (cmp_keyed(&v[m], &k) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	b = n;
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (v[m].fn == fn && v[m].at == at)
			a = m + 1;
		else
			b = m;
	}
	*hi = a;
}

/* ---- lost wake-ups and orphaned locks ----------------------------------------------- */

/* Why nothing can wake this idle task, as a finding kind, or -1 when something can. */
static int cannot_wake(const struct window *w, const struct ai_snap_task *t)
{
	for (size_t k = 0; k + 1 < w->n; k++) {
		const struct ai_snap_task *e = ai_snapshot_find(w->snaps[k], t->abi.id);

		if (!ai_snap_task_unmoved(e, t))
			continue;
		if (t->abi.polls > 0 && t->abi.wakers == 0 && e->abi.wakers == 0)
			return AI_FINDING_LOST_WAKE;
		/* the holder ended with the lock held (a partial snapshot proves nothing) */
		if (t->abi.wait_kind == ASYNC_WAIT_MUTEX && t->wait_for &&
		    t->wait_for != t->abi.id && !w->last->truncated &&
		    !ai_snapshot_find(w->last, t->wait_for))
			return AI_FINDING_ORPHAN_LOCK;
		return -1;
	}
	return -1;
}

static int find_unwakeable(const struct window *w, const struct keyed *v, size_t n,
			   struct ai_findings *out)
{
	const struct ai_snapshot *s = w->last;

	for (size_t i = 0; i < n;) {
		size_t lo, hi;
		long xi[2] = { -1, -1 }; /* this group's lost-wakeup and orphan-lock findings */

		key_range(v, n, v[i].fn, v[i].at, &lo, &hi);
		for (size_t k = lo; k < hi; k++) {
			const struct ai_snap_task *t = &s->tasks[v[k].idx];
			int kind = cannot_wake(w, t);
			long *slot = &xi[kind == AI_FINDING_ORPHAN_LOCK];
			struct ai_finding *x;
			uint64_t in_state;

			if (kind < 0)
				continue;
			if (*slot < 0) {
				x = finding_new(out, (enum ai_finding_kind)kind);
				if (!x)
					return -ENOMEM;
				*slot = (long)(x - out->v);
				x->fn = v[k].fn;
				x->at = v[k].at;
				if (kind == AI_FINDING_ORPHAN_LOCK)
					x->root_id = t->wait_for;
			}
			x = &out->v[*slot];
			x->count++;
			finding_add_task(x, t->abi.id);
			in_state = ai_snap_task_in_state(s, t);
			if (in_state > x->stuck_ns)
				x->stuck_ns = in_state;
		}
		i = hi;
	}
	return 0;
}

/* ---- stall chains ----------------------------------------------------------------------- */

/*
 * Follows t's wait through tasks that are themselves waiting (all steady) to the task
 * at the root, the first that waits for no task. Returns the root's index or -1 when
 * the chain is not a stall: its first hop is not a mutex or a channel, the task it
 * waits for is not waiting itself, or the chain runs into a cycle.
 */
static long stall_root(const struct window *w, size_t i, const bool *in_cycle, uint64_t *ids,
		       size_t *nids)
{
	const struct ai_snapshot *s = w->last;
	const struct ai_snap_task *t = &s->tasks[i];
	uint32_t kind = t->abi.wait_kind;
	long cur = (long)i, hops = 0;

	*nids = 0;
	/* a receiver idle on an empty channel is what consumers do: only a sender held up by
	 * a full channel, or a mutex waiter, is stalled by the task at the other end */
	if (kind != ASYNC_WAIT_MUTEX && kind != ASYNC_WAIT_CHAN_SEND)
		return -1;
	if (in_cycle[i] || !steady(w, t))
		return -1;
	for (;;) {
		const struct ai_snap_task *c = &s->tasks[cur];
		uint64_t peer = peer_of(s, c);
		long next = peer ? ai_snapshot_index(s, peer) : -1;

		if (*nids < AI_FINDING_MAX_TASKS)
			ids[(*nids)++] = c->abi.id;
		if (next < 0 || !steady(w, &s->tasks[next]))
			return hops >= 1 ? cur : -1; /* the root waits for no (steady) task */
		if (in_cycle[next] || ++hops > (long)s->ntasks)
			return -1;
		cur = next;
	}
}

static int find_stalls(const struct window *w, const bool *in_cycle, struct ai_findings *out)
{
	const struct ai_snapshot *s = w->last;
	long *root_finding = malloc((s->ntasks ? s->ntasks : 1) * sizeof(*root_finding));
	uint64_t ids[AI_FINDING_MAX_TASKS];
	int err = 0;

	if (!root_finding)
		return -ENOMEM;
	for (size_t i = 0; i < s->ntasks; i++)
		root_finding[i] = -1;
	for (size_t i = 0; i < s->ntasks; i++) {
		size_t nids;
		long r = stall_root(w, i, in_cycle, ids, &nids);
		struct ai_finding *x;

		if (r < 0)
			continue;
		if (root_finding[r] < 0) {
			x = finding_new(out, AI_FINDING_STALL);
			if (!x) {
				err = -ENOMEM;
				break;
			}
			root_finding[r] = (long)(x - out->v);
			x->root_id = s->tasks[r].abi.id;
			ai_finding_innermost(&s->tasks[r], &x->fn, &x->at);
			x->stuck_ns = ai_snap_task_in_state(s, &s->tasks[r]);
			memcpy(x->task_ids, ids, nids * sizeof(ids[0]));
			x->ntask_ids = nids;
		}
		out->v[root_finding[r]].count++;
	}
	free(root_finding);
	return err;
}

/* ---- task leaks ------------------------------------------------------------------------- */

/* Every task of the group in `a` is still in `b`, and has not moved (none went on). */
static bool none_moved_on(const struct ai_snapshot *a, const struct keyed *va, size_t lo, size_t hi,
			  const struct ai_snapshot *b)
{
	for (size_t k = lo; k < hi; k++)
		if (!ai_snap_task_unmoved(&a->tasks[va[k].idx], ai_snapshot_find(b, va[k].id)))
			return false;
	return true;
}

static int find_leaks(const struct ai_snapshot *const *snaps, size_t n, struct keyed **keyed,
		      const size_t *nkeyed, struct ai_findings *out)
{
	const struct ai_snapshot *last = snaps[n - 1];
	const struct keyed *v = keyed[n - 1];
	size_t nv = nkeyed[n - 1];

	for (size_t i = 0; i < nv;) {
		size_t lo, hi, from = n - 1, a, b, first;

		key_range(v, nv, v[i].fn, v[i].at, &lo, &hi);
		/*
		 * The run of snapshots, ending with the last, over which the group grew at every
		 * step and none of its tasks moved on: a bug that began in the window starts
		 * its run at the last snapshot before it.
		 */
		for (size_t prev = hi - lo; from > 0; from--) {
			key_range(keyed[from - 1], nkeyed[from - 1], v[i].fn, v[i].at, &a, &b);
			if (b - a >= prev ||
			    !none_moved_on(snaps[from - 1], keyed[from - 1], a, b, snaps[from]))
				break;
			prev = b - a;
		}
		key_range(keyed[from], nkeyed[from], v[i].fn, v[i].at, &a, &b);
		first = b - a;
		/* two intervals of growth at least, where the window has them */
		if (n - 1 - from >= (n >= 3 ? 2 : 1) && hi - lo >= first + LEAK_MIN_GROWTH) {
			struct ai_finding *x = finding_new(out, AI_FINDING_LEAK);

			if (!x)
				return -ENOMEM;
			x->fn = v[i].fn;
			x->at = v[i].at;
			x->count = hi - lo;
			x->first_count = first;
			x->window_ns = last->taken_ns - snaps[from]->taken_ns;
			for (size_t k = lo; k < hi; k++) {
				const struct ai_snap_task *t = &last->tasks[v[k].idx];
				uint64_t age = last->taken_ns > t->abi.spawn_ns
						   ? last->taken_ns - t->abi.spawn_ns
						   : 0;

				if (age > x->stuck_ns)
					x->stuck_ns = age;
			}
			/* the oldest few (ids grow with spawn order) */
			for (size_t k = lo; k < hi && x->ntask_ids < 3; k++)
				finding_add_task(x, v[k].id);
		}
		i = hi;
	}
	return 0;
}

/* ---- ranking ------------------------------------------------------------------------------ */

static int cmp_finding(const void *a, const void *b)
{
	const struct ai_finding *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->stuck_ns > y->stuck_ns ? -1 : x->stuck_ns < y->stuck_ns;
}

static void rank(struct ai_findings *out, size_t start)
{
	if (out->n > start + 1)
		qsort(out->v + start, out->n - start, sizeof(*out->v), cmp_finding);
}

void ai_findings_rank(struct ai_findings *f)
{
	rank(f, 0);
}

/* ---- long polls ------------------------------------------------------------------------- */

/* Preemption of long polls worth a finding: this share (percent) of the workers' time. */
#define PREEMPTION_MIN_PERCENT 5

int ai_findings_from_polls(const struct ai_long_poll *polls, size_t n, uint64_t min_ns,
			   uint64_t window_ns, unsigned workers, const struct ai_cpu_quota *quota,
			   struct ai_findings *out)
{
	size_t start = out->n, preempted_polls = 0;
	uint64_t preempted = 0, preempted_wall = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ai_long_poll *p = &polls[i];
		struct ai_finding *x = NULL;

		if (p->on_cpu_ns + p->blocked_ns < min_ns) {
			/* the OS took the time: not the code's fault */
			if (p->preempted_ns) {
				preempted_polls++;
				preempted += p->preempted_ns;
				preempted_wall += p->wall_ns;
			}
			continue;
		}
		for (size_t k = start; k < out->n && !x; k++)
			if (out->v[k].kind == AI_FINDING_BLOCKING && out->v[k].fn == p->fn &&
			    out->v[k].at == p->at && out->v[k].after_line == p->after_line)
				x = &out->v[k];
		if (!x) {
			x = finding_new(out, AI_FINDING_BLOCKING);
			if (!x)
				return -ENOMEM;
			x->fn = p->fn;
			x->at = p->at;
			x->after_line = p->after_line;
		}
		x->count++;
		finding_add_task(x, p->task_id);
		if (p->wall_ns > x->stuck_ns) {
			x->stuck_ns = p->wall_ns;
			x->on_cpu_ns = p->on_cpu_ns;
			x->blocked_ns = p->blocked_ns;
			x->preempted_ns = p->preempted_ns;
			x->syscall = p->syscall;
			memcpy(x->kstack, p->kstack, sizeof(x->kstack));
		}
	}
	if (preempted_polls && window_ns && workers &&
	    preempted * 100 >= (uint64_t)PREEMPTION_MIN_PERCENT * window_ns * workers) {
		struct ai_finding *x = finding_new(out, AI_FINDING_PREEMPTION);

		if (!x)
			return -ENOMEM;
		x->count = preempted_polls;
		x->preempted_ns = preempted;
		x->stuck_ns = preempted_wall;
		x->window_ns = window_ns;
		x->syscall = -1;
		if (quota) {
			x->quota_us = quota->quota_us;
			x->period_us = quota->period_us;
			x->throttled_ns = quota->throttled_ns;
		}
	}
	rank(out, start);
	return 0;
}

/* ---- all of it ------------------------------------------------------------------------ */

int ai_findings_from_snapshots(const struct ai_snapshot *const *snaps, size_t n,
			       struct ai_findings *out)
{
	struct window w;
	struct keyed **keyed = NULL;
	size_t *nkeyed = NULL, start = out->n;
	bool *in_cycle = NULL;
	int err = -ENOMEM;

	if (n < 2 || !snaps[0] || !snaps[n - 1])
		return -EINVAL;
	w.snaps = snaps;
	w.n = n;
	w.last = snaps[n - 1];
	keyed = calloc(n, sizeof(*keyed));
	nkeyed = calloc(n, sizeof(*nkeyed));
	in_cycle = calloc(w.last->ntasks ? w.last->ntasks : 1, sizeof(*in_cycle));
	if (!keyed || !nkeyed || !in_cycle)
		goto cleanup;
	for (size_t k = 0; k < n; k++) {
		keyed[k] = keyed_idle(snaps[k], &nkeyed[k]);
		if (!keyed[k])
			goto cleanup;
	}
	err = find_deadlocks(&w, out, in_cycle);
	if (!err)
		err = find_unwakeable(&w, keyed[n - 1], nkeyed[n - 1], out);
	if (!err)
		err = find_stalls(&w, in_cycle, out);
	if (!err)
		err = find_leaks(snaps, n, keyed, nkeyed, out);
	if (!err)
		rank(out, start);
cleanup:
	if (keyed)
		for (size_t k = 0; k < n; k++)
			free(keyed[k]);
	free(keyed);
	free(nkeyed);
	free(in_cycle);
	return err;
}
