/* SPDX-License-Identifier: MIT */
/*
 * The async mutex. FIFO without barging: unlock hands the lock straight to the longest
 * waiter (it becomes holder_id before it is woken), and a new locker queues behind any
 * waiter. holder_id and waiters (the struct async_mutex_abi prefix) are kept current
 * so a tracer reading process memory can name who holds a lock and how many wait.
 */
#include <stdlib.h>

#include "internal.h"
#include "waitq.h"

void async__mutex_init(struct async_mutex *m, const struct async_desc *desc)
{
	m->magic = ASYNC_MUTEX_MAGIC;
	m->waiters = 0;
	m->holder_id = 0;
	m->desc = desc;
	m->lock = 0;
	m->queue.head = NULL;
	m->queue.tail = NULL;
}

int async_mutex_destroy(struct async_mutex *m)
{
	int err = 0;

	if (!m)
		return 0;
	async__spin_lock(&m->lock);
	if (m->holder_id || m->queue.head)
		err = ASYNC_EBUSY;
	else
		m->magic = 0;
	async__spin_unlock(&m->lock);
	return err;
}

/*
 * Gives the lock to the longest waiter, or frees it. Called with m->lock held; returns
 * the waker to wake once the lock is released (empty if there was no waiter).
 */
static struct async_waker mutex_pass_on(struct async_mutex *m)
{
	struct async_waker waker = { 0 };
	struct async__waiter *w = async__waitq_pop(&m->queue, ASYNC__GRANTED, &waker);

	if (w) {
		__atomic_store_n(&m->waiters, m->waiters - 1, __ATOMIC_RELAXED);
		__atomic_store_n(&m->holder_id, w->task_id, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&m->holder_id, 0, __ATOMIC_RELAXED);
	}
	return waker;
}

void async_lock_init(struct async_lock *l, struct async_mutex *m)
{
	l->frame = (struct async_frame){ 0 };
	l->mutex = m;
	l->waiter = NULL;
}

/* The current task takes the free mutex. Under m->lock. */
static enum async_poll lock_taken(struct async_lock *l, struct async_cx *cx)
{
	struct async_mutex *m = l->mutex;

	__atomic_store_n(&m->holder_id, async_cx_task_id(cx), __ATOMIC_RELAXED);
	async__spin_unlock(&m->lock);
	l->frame.resume = 1;
	async__wait_end(cx, ASYNC_WAIT_MUTEX, (uint64_t)m, 1);
	return ASYNC_READY;
}

enum async_poll async_lock_poll(struct async_lock *l, struct async_cx *cx)
{
	struct async_mutex *m = l->mutex;
	struct async__waiter *w = l->waiter;
	struct async_waker old = { 0 };
	uint64_t holder;

	ASYNC_TRACE(l->frame);
	if (l->frame.resume) /* acquired earlier */
		return ASYNC_READY;

	if (w) {
		async__spin_lock(&m->lock);
		if (w->state == ASYNC__GRANTED) {
			async__spin_unlock(&m->lock);
			async__waiter_free(w);
			l->waiter = NULL;
			l->frame.resume = 1;
			async__wait_end(cx, ASYNC_WAIT_MUTEX, (uint64_t)m, 1);
			return ASYNC_READY;
		}
		async__waiter_refresh(w, cx, &old);
		async__spin_unlock(&m->lock);
		async_waker_drop(&old);
		return ASYNC_PENDING;
	}

	/* Looks held: allocate the queue entry before taking the spinlock. */
	if (__atomic_load_n(&m->holder_id, __ATOMIC_RELAXED))
		w = async__waiter_new(cx);
	for (;;) {
		async__spin_lock(&m->lock);
		if (!m->holder_id && !m->queue.head) {
			enum async_poll r = lock_taken(l, cx);

			async__waiter_free(w);
			return r;
		}
		if (w)
			break;
		async__spin_unlock(&m->lock);
		w = async__waiter_new(cx);
		if (!w) {
			/* No memory to queue: retry on the next poll rather than fail a lock. */
			async_cx_wake_self(cx);
			return ASYNC_PENDING;
		}
	}
	async__waitq_push(&m->queue, w);
	__atomic_store_n(&m->waiters, m->waiters + 1, __ATOMIC_RELAXED);
	holder = m->holder_id;
	l->waiter = w;
	async__spin_unlock(&m->lock);
	async__wait_begin(cx, ASYNC_WAIT_MUTEX, (uint64_t)m, holder);
	return ASYNC_PENDING;
}

void async_lock_drop(struct async_lock *l)
{
	struct async__waiter *w;
	struct async_mutex *m;
	struct async_waker next = { 0 };

	if (!l || !l->waiter)
		return;
	w = l->waiter;
	m = l->mutex;
	async__spin_lock(&m->lock);
	if (w->state == ASYNC__WAITING) {
		async__waitq_remove(&m->queue, w);
		__atomic_store_n(&m->waiters, m->waiters - 1, __ATOMIC_RELAXED);
	} else {
		/* Handed the lock but never saw it: pass it on to the next waiter. */
		next = mutex_pass_on(m);
	}
	async__spin_unlock(&m->lock);
	l->waiter = NULL;
	async__waiter_free(w);
	if (next.task)
		async_waker_wake(&next);
}

int async_mutex_trylock(struct async_mutex *m, struct async_cx *cx)
{
	int err = ASYNC_EBUSY;

	if (!m || !cx)
		return ASYNC_EINVAL;
	async__spin_lock(&m->lock);
	if (!m->holder_id && !m->queue.head) {
		__atomic_store_n(&m->holder_id, async_cx_task_id(cx), __ATOMIC_RELAXED);
		err = 0;
	}
	async__spin_unlock(&m->lock);
	if (!err)
		async__wait_end(cx, ASYNC_WAIT_MUTEX, (uint64_t)m, 1);
	return err;
}

void async_mutex_unlock(struct async_mutex *m, struct async_cx *cx)
{
	struct async_waker next;

	if (!m)
		return;
	async__spin_lock(&m->lock);
	next = mutex_pass_on(m);
	async__spin_unlock(&m->lock);
	if (cx)
		async__release(cx, ASYNC_WAIT_MUTEX, (uint64_t)m);
	if (next.task)
		async_waker_wake(&next);
}
