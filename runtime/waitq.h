/* SPDX-License-Identifier: MIT */
/*
 * Private to the waiting primitives (sync.c, chan.c): a tiny spinlock and a FIFO queue
 * of waiting futures. A waiter is allocated by the future that waits and freed by it;
 * whoever dequeues a waiter under the owner's lock moves the waker out before the lock
 * is released, so the waiter may be freed at any time after that.
 */
#ifndef ASYNC_RUNTIME_WAITQ_H
#define ASYNC_RUNTIME_WAITQ_H

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

/* ---- spinlock: held only for a few instructions -------------------------------------- */

static inline void async__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline void async__spin_lock(int *l)
{
	unsigned spins = 0;

	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
			/* The holder may have been preempted (2 vCPUs): let it run. */
			if (++spins > 64)
				sched_yield();
			else
				async__cpu_relax();
		}
	}
}

static inline void async__spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- waiters ------------------------------------------------------------------------- */

enum async__waiter_state {
	ASYNC__WAITING = 0, /* in its queue */
	ASYNC__GRANTED = 1, /* dequeued: lock handed over / item taken / woken to look again */
	ASYNC__CLOSED = 2,  /* dequeued because the other side went away */
};

struct async__waiter {
	struct async__waiter *next;
	struct async__waiter *prev;
	struct async_waker waker;
	uint64_t task_id;
	const void *item; /* a waiting sender's item */
	int state;	  /* enum async__waiter_state, under the owner's lock */
};

static inline void async__waitq_push(struct async__waitq *q, struct async__waiter *w)
{
	struct async__waiter *tail = q->tail;

	w->next = NULL;
	w->prev = tail;
	if (tail)
		tail->next = w;
	else
		q->head = w;
	q->tail = w;
	w->state = ASYNC__WAITING;
}

static inline void async__waitq_remove(struct async__waitq *q, struct async__waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
}

/* Dequeues the longest waiter, marks it `state` and moves its waker to *waker. */
static inline struct async__waiter *async__waitq_pop(struct async__waitq *q, int state,
						     struct async_waker *waker)
{
	struct async__waiter *w = q->head;

	if (!w)
		return NULL;
	async__waitq_remove(q, w);
	w->state = state;
	*waker = w->waker;
	w->waker.task = NULL;
	return w;
}

static inline struct async__waiter *async__waiter_new(struct async_cx *cx)
{
	struct async__waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->waker = async_waker_clone(cx);
	w->task_id = async_cx_task_id(cx);
	return w;
}

/*
 * Keeps the waiter's waker pointing at the task polling it now. Under the owner's lock;
 * a replaced waker goes to *old, for the caller to drop after unlocking.
 */
static inline void async__waiter_refresh(struct async__waiter *w, struct async_cx *cx,
					 struct async_waker *old)
{
	if (!w->waker.task || !async_waker_will_wake(&w->waker, cx)) {
		*old = w->waker;
		w->waker = async_waker_clone(cx);
		w->task_id = async_cx_task_id(cx);
	}
}

static inline void async__waiter_free(struct async__waiter *w)
{
	if (!w)
		return;
	async_waker_drop(&w->waker);
	free(w);
}

#endif /* ASYNC_RUNTIME_WAITQ_H */
