/* SPDX-License-Identifier: MIT */
/*
 * Wakers (task references that re-schedule), the poll context's accessors, and the
 * task record's "what it waits on" fields with the wait/acquire/release probes.
 */
#include <stdatomic.h>
#include <string.h>

#include "core.h"
#include "probes.h"

/* ---- wakers --------------------------------------------------------------------------- */

/*
 * A waker is a task reference that also counts in the task record's `wakers` (abi.h).
 * The count goes down only after a wake has scheduled the task, so a reader never sees
 * an IDLE task with no waker while a wake is on its way.
 */
static inline struct async_waker waker_new(struct async_task *t)
{
	uint32_t old = atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);

	ASYNC_ASSERT(old != 0); /* a waker made from a freed task */
	(void)old;
	__atomic_fetch_add(&t->abi.wakers, 1, __ATOMIC_RELAXED);
	return (struct async_waker){ .task = t };
}

static inline void waker_put(struct async_task *t)
{
	__atomic_fetch_sub(&t->abi.wakers, 1, __ATOMIC_RELEASE);
	async__task_release(t);
}

struct async_waker async_waker_clone(struct async_cx *cx)
{
	return waker_new(cx->task);
}

struct async_waker async_waker_dup(const struct async_waker *w)
{
	if (!w || !w->task)
		return (struct async_waker){ 0 };
	return waker_new(w->task);
}

void async_waker_wake(struct async_waker *w)
{
	struct async_task *t = w ? w->task : NULL;

	if (!t)
		return;
	w->task = NULL;
	async__schedule(t);
	waker_put(t);
}

void async_waker_wake_by_ref(const struct async_waker *w)
{
	if (w && w->task)
		async__schedule(w->task);
}

void async_waker_drop(struct async_waker *w)
{
	struct async_task *t = w ? w->task : NULL;

	if (!t)
		return;
	w->task = NULL;
	waker_put(t);
}

bool async_waker_will_wake(const struct async_waker *w, const struct async_cx *cx)
{
	return w && cx && w->task == cx->task;
}

/* ---- the poll context ------------------------------------------------------------------- */

struct async_exec *async_cx_exec(const struct async_cx *cx)
{
	return cx ? cx->exec : NULL;
}

uint64_t async_cx_task_id(const struct async_cx *cx)
{
	return cx && cx->task ? cx->task->abi.id : 0;
}

void async_cx_wake_self(struct async_cx *cx)
{
	if (cx && cx->worker)
		cx->worker->yield_now = true;
}

uint64_t async__now_cached(struct async_cx *cx)
{
	if (cx && cx->worker)
		return cx->worker->now;
	return async__clock();
}

/*
 * The wait fields of the task record: read by other threads (and processes) while the
 * task runs, so the kind is stored last, with release: a reader that sees the kind and
 * then reads the rest (acquire) gets this wait's fields or a newer one's.
 */
static inline void set_wait(struct async_task *t, enum async_wait_kind kind, uint64_t obj,
			    uint64_t holder, const struct async_desc *desc)
{
	async__store(&t->abi.wait_obj, obj);
	async__store(&t->abi.wait_holder, holder);
	async__store(&t->abi.wait_desc, (uint64_t)(uintptr_t)desc);
	__atomic_store_n(&t->abi.wait_kind, (uint32_t)kind, __ATOMIC_RELEASE);
}

static ASYNC__PROBE_COLD void probe_wait(const struct async_task *t, enum async_wait_kind kind,
					 uint64_t obj, uint64_t holder_id)
{
	ASYNC_PROBE(wait, t->abi.id, (uint32_t)kind, obj, holder_id, t->abi.wait_desc);
}

static ASYNC__PROBE_COLD void probe_acquire(const struct async_task *t, enum async_wait_kind kind,
					    uint64_t obj)
{
	ASYNC_PROBE(acquire, t->abi.id, (uint32_t)kind, obj);
}

static ASYNC__PROBE_COLD void probe_release(const struct async_task *t, enum async_wait_kind kind,
					    uint64_t obj)
{
	ASYNC_PROBE(release, t ? t->abi.id : 0, (uint32_t)kind, obj);
}

void async__wait_begin(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj,
		       uint64_t holder_id)
{
	struct async_task *t = cx ? cx->task : NULL;

	if (!t)
		return;
	set_wait(t, kind, obj, holder_id, async__leaf_at(t->future));
	if (ASYNC_PROBE_ENABLED(wait))
		probe_wait(t, kind, obj, holder_id);
}

void async__wait_timer(struct async_cx *cx)
{
	struct async_task *t = cx->task;

	/* no probe (too hot): the task record alone says it sleeps, and where */
	set_wait(t, ASYNC_WAIT_TIMER, 0, 0, async__leaf_at(t->future));
}

void async__wait_end(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj, int acquired)
{
	struct async_task *t = cx ? cx->task : NULL;

	if (!t)
		return;
	set_wait(t, ASYNC_WAIT_NONE, 0, 0, NULL);
	if (ASYNC_PROBE_ENABLED(acquire) && acquired) /* the semaphore first: one test */
		probe_acquire(t, kind, obj);
}

void async__release(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj)
{
	struct async_task *t = cx ? cx->task : NULL;

	if (ASYNC_PROBE_ENABLED(release))
		probe_release(t, kind, obj);
}
