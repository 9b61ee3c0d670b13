// SPDX-License-Identifier: MIT
/* The timeline as Chrome trace-event JSON (Perfetto, speedscope) (moved whole from timeline.c). See
 * timeline.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "async/abi.h"
#include "common.h"
#include "json.h"
#include "timeline_int.h"

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
			/* named after the innermost await point it waits at */
			snprintf(
			    buf, sizeof(buf), "wait %s",
			    await_name(tl, t->pid, p->leaf ? p->leaf : p->state, b2, sizeof(b2)));
			slice(&j, tl, buf, "wait", t->pid, tid, p->end_ns, wend);
			ai_json_key(&j, "args");
			ai_json_object_begin(&j);
			{
				const struct ai_desc *d =
				    desc(tl, t->pid, p->leaf ? p->leaf : p->state);

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
		src = t->parent ? ai_tl__task_find(tl, t->pid, t->parent) : NULL;
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
			src = ai_tl__task_find(tl, t->pid, p->waker);
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
