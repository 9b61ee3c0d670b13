/* SPDX-License-Identifier: MIT */
/*
 * Timers: a min-heap per executor ordered by (deadline, insertion order), fired by the
 * driver (reactor.c). A timer owns a waker until it fires or is cancelled; the future
 * owns the other reference, so a future freed without its drop only leaks the timer.
 */
#include <errno.h>
#include <stdlib.h>

#include "core.h"

#define NOT_IN_HEAP SIZE_MAX

struct async__timer {
	uint64_t deadline;
	uint64_t seq;
	size_t idx; /* heap index, NOT_IN_HEAP once fired or cancelled (under lock) */
	struct async_waker waker;
	struct async__timers *owner;
	_Atomic int refs;
	_Atomic int fired;
	_Atomic int in_heap;
};

#ifdef ASYNC_TEST_CLOCK
uint64_t async__test_clock_offset;
#endif

uint64_t async_now_ns(void)
{
	return async__clock();
}

static inline bool before(const struct async__timer *a, const struct async__timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct async__timers *tm, size_t i, struct async__timer *t)
{
	tm->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct async__timers *tm, size_t i)
{
	struct async__timer *t = tm->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!before(t, tm->heap[p]))
			break;
		heap_set(tm, i, tm->heap[p]);
		i = p;
	}
	heap_set(tm, i, t);
}

static void sift_down(struct async__timers *tm, size_t i)
{
	struct async__timer *t = tm->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= tm->n)
			break;
		if (c + 1 < tm->n && before(tm->heap[c + 1], tm->heap[c]))
			c++;
		if (!before(tm->heap[c], t))
			break;
		heap_set(tm, i, tm->heap[c]);
		i = c;
	}
	heap_set(tm, i, t);
}

static void update_next(struct async__timers *tm)
{
	atomic_store_explicit(&tm->next_deadline, tm->n ? tm->heap[0]->deadline : UINT64_MAX,
			      memory_order_relaxed);
}

static void heap_remove(struct async__timers *tm, struct async__timer *t)
{
	size_t i = t->idx;
	struct async__timer *last = tm->heap[--tm->n];

	t->idx = NOT_IN_HEAP;
	atomic_store_explicit(&t->in_heap, 0, memory_order_release);
	if (last != t) {
		heap_set(tm, i, last);
		sift_down(tm, i);
		sift_up(tm, last->idx);
	}
	update_next(tm);
}

static void timer_put(struct async__timer *t)
{
	int old = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);

	ASYNC_ASSERT(old > 0); /* a timer reference dropped twice */
	if (old == 1)
		free(t);
}

int async__timers_init(struct async__timers *tm)
{
	int err = pthread_mutex_init(&tm->lock, NULL);

	if (err)
		return -err;
	tm->n = 0;
	tm->cap = 0;
	tm->heap = NULL;
	atomic_store(&tm->next_deadline, UINT64_MAX);
	return 0;
}

int async__timer_add(struct async_exec *exec, uint64_t deadline_ns, struct async_waker waker,
		     struct async__timer **out)
{
	struct async__timers *tm = &exec->timers;
	struct async__timer *t = malloc(sizeof(*t));
	bool wake_driver = false;

	if (!t) {
		async_waker_drop(&waker);
		return ASYNC_ENOMEM;
	}
	t->deadline = deadline_ns;
	t->waker = waker;
	t->owner = tm;
	atomic_init(&t->refs, 2);
	atomic_init(&t->fired, 0);
	atomic_init(&t->in_heap, 1);
	pthread_mutex_lock(&tm->lock);
	if (tm->n == tm->cap) {
		size_t cap = tm->cap ? tm->cap * 2 : 64;
		struct async__timer **h = realloc(tm->heap, cap * sizeof(*h));

		if (!h) {
			pthread_mutex_unlock(&tm->lock);
			async_waker_drop(&t->waker);
			free(t);
			return ASYNC_ENOMEM;
		}
		tm->heap = h;
		tm->cap = cap;
	}
	t->seq = tm->seq++;
	tm->heap[tm->n++] = t;
	sift_up(tm, tm->n - 1);
	update_next(tm);
	/* the driver sleeps until a later deadline: make it recompute */
	if (tm->driver_deadline && deadline_ns < tm->driver_deadline) {
		tm->driver_deadline = 0;
		wake_driver = true;
	}
	pthread_mutex_unlock(&tm->lock);
	if (wake_driver) {
		struct async__worker *w = async__cur_worker;

		/* from a poll: wake it once the poll is over (a woken driver thread can preempt
		 * the worker, and that time would count in the poll and shorten the sleep) */
		if (w && w->exec == exec && w->polling)
			w->wake_driver = true;
		else
			async__driver_wake(exec);
	}
	*out = t;
	return 0;
}

void async__timer_cancel(struct async__timer *t)
{
	struct async_waker w = { 0 };

	if (!t)
		return;
	if (atomic_load_explicit(&t->in_heap, memory_order_acquire)) {
		struct async__timers *tm = t->owner;

		pthread_mutex_lock(&tm->lock);
		if (t->idx != NOT_IN_HEAP) {
			heap_remove(tm, t);
			w = t->waker;
			t->waker.task = NULL;
			pthread_mutex_unlock(&tm->lock);
			async_waker_drop(&w);
			timer_put(t); /* the heap's reference */
		} else {
			pthread_mutex_unlock(&tm->lock);
		}
	}
	timer_put(t);
}

int async__timer_fired(const struct async__timer *t)
{
	return t && atomic_load_explicit(&t->fired, memory_order_acquire);
}

unsigned async__timers_fire(struct async__timers *tm, uint64_t now)
{
	unsigned n = 0;

	if (atomic_load_explicit(&tm->next_deadline, memory_order_relaxed) > now)
		return 0;
	for (;;) {
		pthread_mutex_lock(&tm->lock);
		if (!tm->n || tm->heap[0]->deadline > now) {
			pthread_mutex_unlock(&tm->lock);
			return n;
		}
		struct async__timer *t = tm->heap[0];
		struct async_waker w = t->waker;

		heap_remove(tm, t);
		t->waker.task = NULL;
		atomic_store_explicit(&t->fired, 1, memory_order_release);
		pthread_mutex_unlock(&tm->lock);
		async_waker_wake(&w);
		timer_put(t);
		n++;
	}
}

void async__timers_fini(struct async__timers *tm)
{
	for (;;) {
		pthread_mutex_lock(&tm->lock);
		if (!tm->n) {
			pthread_mutex_unlock(&tm->lock);
			return;
		}
		struct async__timer *t = tm->heap[0];
		struct async_waker w = t->waker;

		heap_remove(tm, t);
		t->waker.task = NULL;
		pthread_mutex_unlock(&tm->lock);
		async_waker_drop(&w);
		timer_put(t);
	}
}

/* ---- sleep / deadline ------------------------------------------------------------------ */

#define SLEEP_DONE UINT32_MAX

static const struct async_desc sleep_desc
    __attribute__((section(ASYNC_DESC_SECTION), used, aligned(8))) = {
	    .magic = ASYNC_DESC_MAGIC,
	    .kind = ASYNC_DESC_LEAF,
	    .line = __LINE__,
	    .function = "async_sleep_poll",
	    .file = __FILE__,
    };

static const struct async_desc timeout_desc
    __attribute__((section(ASYNC_DESC_SECTION), used, aligned(8))) = {
	    .magic = ASYNC_DESC_MAGIC,
	    .kind = ASYNC_DESC_LEAF,
	    .line = __LINE__,
	    .function = "async_timeout_poll",
	    .file = __FILE__,
    };

static const struct async_desc timeout_await_desc
    __attribute__((section(ASYNC_DESC_SECTION), used, aligned(8))) = {
	    .magic = ASYNC_DESC_MAGIC,
	    .kind = ASYNC_DESC_AWAIT,
	    .line = __LINE__,
	    .function = "async_timeout_poll",
	    .callee = "inner",
	    .file = __FILE__,
    };

void async_sleep_init(struct async_sleep *s, uint64_t ns)
{
	*s = (struct async_sleep){ .frame.fn = &sleep_desc, .duration_ns = ns };
}

void async_deadline_init(struct async_sleep *s, uint64_t deadline_ns)
{
	*s = (struct async_sleep){ .frame.fn = &sleep_desc, .deadline_ns = deadline_ns };
}

static enum async_poll sleep_ready(struct async_sleep *s, struct async_cx *cx)
{
	s->frame.resume = SLEEP_DONE;
	if (cx->task->abi.wait_kind == ASYNC_WAIT_TIMER)
		async__store(&cx->task->abi.wait_kind, ASYNC_WAIT_NONE);
	return ASYNC_READY;
}

enum async_poll async_sleep_poll(struct async_sleep *s, struct async_cx *cx)
{
	if (s->frame.resume == SLEEP_DONE)
		return ASYNC_READY;
	if (!s->timer) {
		uint64_t now = async__clock();

		if (s->frame.resume == 0) {
			s->frame.resume = 1;
			if (s->duration_ns)
				s->deadline_ns = async__deadline_after(now, s->duration_ns);
			else if (!s->deadline_ns)
				s->deadline_ns = now;
		}
		if (now >= s->deadline_ns)
			return sleep_ready(s, cx);
		if (async__timer_add(cx->exec, s->deadline_ns, async_waker_clone(cx), &s->timer)) {
			/* out of memory: poll again soon rather than hang */
			s->timer = NULL;
			async_cx_wake_self(cx);
			return ASYNC_PENDING;
		}
		async__wait_timer(cx);
		return ASYNC_PENDING;
	}
	if (async__timer_fired(s->timer)) {
		async__timer_cancel(s->timer);
		s->timer = NULL;
		return sleep_ready(s, cx);
	}
	return ASYNC_PENDING;
}

void async_sleep_drop(struct async_sleep *s)
{
	if (!s || !s->timer)
		return;
	async__timer_cancel(s->timer);
	s->timer = NULL;
}

/* ---- timeout ------------------------------------------------------------------------------ */

void async_timeout_init(struct async_timeout *t, uint64_t ns, async_poll_fn inner_poll, void *inner)
{
	*t = (struct async_timeout){ .frame.fn = &timeout_desc,
				     .inner_poll = inner_poll,
				     .inner = inner };
	async_sleep_init(&t->sleep, ns);
}

enum async_poll async_timeout_poll(struct async_timeout *t, struct async_cx *cx)
{
	if (t->frame.resume == SLEEP_DONE)
		return ASYNC_READY;
	t->frame.at = &timeout_await_desc;
	t->frame.child = t->inner;
	if (t->inner_poll(t->inner, cx) == ASYNC_READY) {
		async_sleep_drop(&t->sleep);
		if (cx->task->abi.wait_kind == ASYNC_WAIT_TIMER)
			async__store(&cx->task->abi.wait_kind, ASYNC_WAIT_NONE);
		t->result = 0;
	} else if (async_sleep_poll(&t->sleep, cx) == ASYNC_READY) {
		t->result = ASYNC_ETIMEDOUT;
	} else {
		return ASYNC_PENDING;
	}
	t->frame.resume = SLEEP_DONE;
	t->frame.at = NULL;
	t->frame.child = NULL;
	return ASYNC_READY;
}

void async_timeout_drop(struct async_timeout *t)
{
	if (t)
		async_sleep_drop(&t->sleep);
}
