/* SPDX-License-Identifier: MIT */
/*
 * JoinHandles: awaiting a task's result, aborting it, detaching; and block_on. The
 * state bits T_JOIN / T_JOIN_WAKER (core.h) decide who runs the task's drop and who
 * owns the join waker, without a lock.
 */
#include <stdatomic.h>
#include <string.h>

#include "core.h"
#include "probes.h"

int async_spawn_cx(struct async_cx *cx, const char *name, async_poll_fn poll, void *future,
		   async_drop_fn drop, struct async_join *join)
{
	if (!cx) {
		if (join)
			memset(join, 0, sizeof(*join));
		return ASYNC_EINVAL;
	}
	return async_spawn(cx->exec, name, poll, future, drop, join);
}

#define JOIN_WAITING 1u /* frame.flags: the wait probe fired for this join */

static enum async_poll join_ready(struct async_join *join, struct async_cx *cx)
{
	join->result = join->task->result;
	join->frame.resume = UINT32_MAX;
	if (join->frame.flags & JOIN_WAITING) {
		join->frame.flags &= ~JOIN_WAITING;
		async__wait_end(cx, ASYNC_WAIT_JOIN, (uint64_t)(uintptr_t)join->task, 1);
	}
	return ASYNC_READY;
}

enum async_poll async_join_poll(struct async_join *join, struct async_cx *cx)
{
	struct async_task *t = join ? join->task : NULL;

	if (!t) {
		if (join)
			join->result = ASYNC_EINVAL;
		return ASYNC_READY;
	}
	uint32_t s = atomic_load_explicit(&t->st, memory_order_acquire);

	if (s & T_DONE)
		return join_ready(join, cx);
	if (s & T_JOIN_WAKER) {
		if (t->join_waker.task == cx->task)
			return ASYNC_PENDING;
		/* polled from another task: take the old waker back */
		while (!(s & T_DONE)) {
			if (atomic_compare_exchange_weak_explicit(&t->st, &s, s & ~T_JOIN_WAKER,
								  memory_order_acq_rel,
								  memory_order_acquire)) {
				async_waker_drop(&t->join_waker);
				s &= ~T_JOIN_WAKER;
				break;
			}
		}
		if (s & T_DONE)
			return join_ready(join, cx);
	}
	t->join_waker = async_waker_clone(cx);
	while (!(s & T_DONE)) {
		if (atomic_compare_exchange_weak_explicit(
			&t->st, &s, s | T_JOIN_WAKER, memory_order_acq_rel, memory_order_acquire)) {
			if (!(join->frame.flags & JOIN_WAITING)) {
				join->frame.flags |= JOIN_WAITING;
				async__wait_begin(cx, ASYNC_WAIT_JOIN, (uint64_t)(uintptr_t)t,
						  t->abi.id);
			}
			return ASYNC_PENDING;
		}
	}
	async_waker_drop(&t->join_waker);
	return join_ready(join, cx);
}

uint64_t async_join_task_id(const struct async_join *join)
{
	return join && join->task ? join->task->abi.id : 0;
}

void *async_join_future(const struct async_join *join)
{
	return join && join->task ? join->task->future : NULL;
}

int async_join_abort(struct async_join *join)
{
	struct async_task *t = join ? join->task : NULL;

	if (!t)
		return ASYNC_EINVAL;
	uint32_t s = atomic_load_explicit(&t->st, memory_order_acquire);

	for (;;) {
		if (s & T_DONE)
			return (s & T_ABORTED) ? 0 : ASYNC_EINVAL;
		if (s & T_ABORTED)
			return 0;
		if (s & (T_SCHED | T_RUNNING)) {
			/* whoever runs it next (or is running it) completes it */
			if (atomic_compare_exchange_weak_explicit(&t->st, &s, s | T_ABORTED,
								  memory_order_acq_rel,
								  memory_order_acquire))
				return 0;
			continue;
		}
		/* idle: claim it as if running and complete it here */
		if (atomic_compare_exchange_weak_explicit(&t->st, &s, s | T_ABORTED | T_RUNNING,
							  memory_order_acq_rel,
							  memory_order_acquire)) {
			async__task_complete(t, ASYNC_ECANCELED);
			return 0;
		}
	}
}

void async_join_drop(struct async_join *join)
{
	struct async_task *t = join ? join->task : NULL;

	if (!t)
		return;
	join->task = NULL;
	uint32_t s =
	    atomic_fetch_and_explicit(&t->st, ~(T_JOIN | T_JOIN_WAKER), memory_order_acq_rel);

	if (s & T_JOIN_WAKER)
		async_waker_drop(&t->join_waker);
	if (s & T_DONE)
		async__run_drop(t);
	async__task_release(t);
}

int async_block_on(struct async_exec *exec, const char *name, async_poll_fn poll, void *future)
{
	struct async_join join;
	int err = async_spawn(exec, name, poll, future, NULL, &join);

	if (err)
		return err;
	err = async_exec_run(exec);
	if (!err) {
		if (atomic_load_explicit(&join.task->st, memory_order_acquire) & T_DONE) {
			err = join.task->result;
		} else {
			async_join_abort(&join);
			err = ASYNC_ECANCELED;
		}
	} else {
		async_join_abort(&join);
	}
	async_join_drop(&join);
	return err;
}
