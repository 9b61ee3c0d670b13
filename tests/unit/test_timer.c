/* SPDX-License-Identifier: MIT */
/* Timers: sleep accuracy and no early polls, firing order, deadlines, timeout, drop. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec_modes.h"
#include "core.h"

/* Sleeps once; records when it was first polled, when it completed, and its polls. */
struct sleeper {
	struct async_frame frame;
	struct async_sleep sleep;
	uint64_t ns;	   /* relative, or */
	uint64_t deadline; /* absolute when nonzero */
	uint64_t first_poll_ns, done_ns;
	int polls;
	int slot;
	_Atomic int *order_next;
	int *order;
};

static enum async_poll sleeper_poll(struct sleeper *s, struct async_cx *cx)
{
	s->polls++;
	ASYNC_BEGIN(s);
	s->first_poll_ns = async_now_ns();
	if (s->deadline)
		async_deadline_init(&s->sleep, s->deadline);
	else
		async_sleep_init(&s->sleep, s->ns);
	ASYNC_AWAIT(s, cx, async_sleep, &s->sleep);
	s->done_ns = async_now_ns();
	if (s->order)
		s->order[atomic_fetch_add(s->order_next, 1)] = s->slot;
	ASYNC_RETURN(s);
}

static void test_sleep_accuracy(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct sleeper s = { .ns = 20 * ASYNC_MSEC };

	assert_int_equal(async_block_on(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll), &s), 0);
	assert_true(s.done_ns - s.first_poll_ns >= 20 * ASYNC_MSEC);
	assert_true(s.done_ns - s.first_poll_ns <= 220 * ASYNC_MSEC);
	/* polled once to start, once when the timer fired: never before */
	assert_int_equal(s.polls, 2);
	async_exec_free(exec);
}

static void test_sleep_zero_and_past(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct sleeper a = { .ns = 0 };
	struct sleeper b = { .deadline = 1 }; /* long past */

	assert_int_equal(async_block_on(exec, "a", ASYNC_POLL_FN(sleeper_poll), &a), 0);
	assert_int_equal(a.polls, 1);
	assert_int_equal(async_block_on(exec, "b", ASYNC_POLL_FN(sleeper_poll), &b), 0);
	assert_int_equal(b.polls, 1);
	async_exec_free(exec);
}

#define NTIMERS 200

static void test_timer_order(void **state)
{
	struct async_exec *exec = mode_exec(state);
	const struct exec_mode *m = *state;
	struct sleeper *s = calloc(NTIMERS, sizeof(*s));
	int perm[NTIMERS], order[NTIMERS];
	_Atomic int next = 0;
	uint64_t base = async_now_ns() + 100 * ASYNC_MSEC; /* after every first poll */

	for (int i = 0; i < NTIMERS; i++)
		perm[i] = i;
	srand(42);
	for (int i = NTIMERS - 1; i > 0; i--) {
		int j = rand() % (i + 1), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
	}
	for (int i = 0; i < NTIMERS; i++) {
		/* slot perm[i] fires at base + perm[i] * 200 µs; spawned in shuffled order */
		s[i].deadline = base + (uint64_t)perm[i] * 200 * ASYNC_USEC;
		s[i].slot = perm[i];
		s[i].order = order;
		s[i].order_next = &next;
		assert_int_equal(
		    async_spawn(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll), &s[i], NULL, NULL),
		    0);
	}
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(atomic_load(&next), NTIMERS);
	for (int i = 0; i < NTIMERS; i++) {
		assert_int_equal(s[i].polls, 2);
		assert_true(s[i].done_ns >= s[i].deadline);
	}
	/* one thread runs tasks in the order their timers fire; workers may overlap */
	if (m->single)
		for (int i = 0; i < NTIMERS; i++)
			assert_int_equal(order[i], i);
	free(s);
	async_exec_free(exec);
}

static void test_timer_ties_fifo(void **state)
{
	struct async_exec *exec = mode_exec(state);
	enum { N = 50 };
	struct sleeper s[N];
	int order[N];
	_Atomic int next = 0;
	uint64_t deadline = async_now_ns() + 100 * ASYNC_MSEC; /* after every first poll */

	memset(s, 0, sizeof(s));
	for (int i = 0; i < N; i++) {
		s[i].deadline = deadline;
		s[i].slot = i;
		s[i].order = order;
		s[i].order_next = &next;
		assert_int_equal(
		    async_spawn(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll), &s[i], NULL, NULL),
		    0);
	}
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(atomic_load(&next), N);
	for (int i = 0; i < N; i++)
		assert_true(s[i].done_ns >= deadline);
	/* the timers fire in insertion order; one thread then runs the tasks in that order */
	if (((const struct exec_mode *)*state)->single)
		for (int i = 0; i < N; i++)
			assert_int_equal(order[i], i);
	async_exec_free(exec);
}

/* ---- timer internals: cancel returns the waker, a due timer fires ------------------- */

struct canceller {
	struct async_frame frame;
	struct async__timer *b;
	int polls;
	bool ok;
};

static enum async_poll canceller_poll(struct canceller *c, struct async_cx *cx)
{
	struct async__timer *a;

	if (++c->polls == 1) {
		uint32_t refs = atomic_load(&cx->task->refs);

		/* a timer far away, cancelled before it fires: its waker reference goes back */
		assert_int_equal(async__timer_add(async_cx_exec(cx), async_now_ns() + ASYNC_SEC,
						  async_waker_clone(cx), &a),
				 0);
		assert_int_equal(atomic_load(&cx->task->refs), refs + 1);
		assert_false(async__timer_fired(a));
		async__timer_cancel(a);
		assert_int_equal(atomic_load(&cx->task->refs), refs);
		/* a timer 2 ms away wakes the task */
		assert_int_equal(async__timer_add(async_cx_exec(cx),
						  async_now_ns() + 2 * ASYNC_MSEC,
						  async_waker_clone(cx), &c->b),
				 0);
		return ASYNC_PENDING;
	}
	c->ok = async__timer_fired(c->b);
	async__timer_cancel(c->b); /* after firing: only releases */
	async__timer_cancel(NULL);
	return ASYNC_READY;
}

static void test_timer_cancel(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct canceller c = { 0 };

	assert_int_equal(async_block_on(exec, "c", ASYNC_POLL_FN(canceller_poll), &c), 0);
	assert_int_equal(c.polls, 2);
	assert_true(c.ok);
	async_exec_free(exec);
}

/* ---- timeout ------------------------------------------------------------------------------ */

struct timed {
	struct async_frame frame;
	struct async_sleep inner;
	struct async_timeout to;
	uint64_t inner_ns, limit_ns;
	int result;
	int polls;
};

static enum async_poll timed_poll(struct timed *t, struct async_cx *cx)
{
	t->polls++;
	ASYNC_BEGIN(t);
	async_sleep_init(&t->inner, t->inner_ns);
	async_timeout_init(&t->to, t->limit_ns, ASYNC_POLL_FN(async_sleep_poll), &t->inner);
	ASYNC_AWAIT(t, cx, async_timeout, &t->to);
	t->result = t->to.result;
	async_sleep_drop(&t->inner);
	async_timeout_drop(&t->to);
	ASYNC_RETURN(t);
}

static void test_timeout(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct timed ok = { .inner_ns = 5 * ASYNC_MSEC, .limit_ns = 2 * ASYNC_SEC, .result = 1 };
	struct timed late = { .inner_ns = 10 * ASYNC_SEC, .limit_ns = 10 * ASYNC_MSEC };
	uint64_t t0 = async_now_ns();

	assert_int_equal(async_block_on(exec, "ok", ASYNC_POLL_FN(timed_poll), &ok), 0);
	assert_int_equal(ok.result, 0);
	assert_int_equal(ok.polls, 2);
	assert_true(async_now_ns() - t0 < ASYNC_SEC);
	t0 = async_now_ns();
	assert_int_equal(async_block_on(exec, "late", ASYNC_POLL_FN(timed_poll), &late), 0);
	assert_int_equal(late.result, ASYNC_ETIMEDOUT);
	assert_int_equal(late.polls, 2);
	assert_true(async_now_ns() - t0 >= 10 * ASYNC_MSEC);
	assert_true(async_now_ns() - t0 < 5 * ASYNC_SEC);
	async_exec_free(exec);
}

/* A pending sleep's task aborted: the drop cancels the timer (no leak, no late wake). */
struct sleep_forever {
	struct async_frame frame;
	struct async_sleep s;
	int polls;
};

static enum async_poll sleep_forever_poll(struct sleep_forever *f, struct async_cx *cx)
{
	f->polls++;
	ASYNC_BEGIN(f);
	async_sleep_init(&f->s, 3600 * ASYNC_SEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->s);
	ASYNC_RETURN(f);
}

static void sleep_forever_drop(struct sleep_forever *f)
{
	async_sleep_drop(&f->s);
	async_sleep_drop(&f->s); /* twice is fine */
}

struct stop_later {
	struct async_frame frame;
};

static enum async_poll stop_later_poll(struct stop_later *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	ASYNC_YIELD(s, cx);
	ASYNC_YIELD(s, cx);
	async_exec_stop(async_cx_exec(cx));
	ASYNC_RETURN(s);
}

static void test_sleep_drop_on_free(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct sleep_forever f[4];
	struct stop_later st = { 0 };

	memset(f, 0, sizeof(f));
	for (int i = 0; i < 4; i++)
		assert_int_equal(async_spawn(exec, "f", ASYNC_POLL_FN(sleep_forever_poll), &f[i],
					     ASYNC_DROP_FN(sleep_forever_drop), NULL),
				 0);
	assert_int_equal(async_spawn(exec, "st", ASYNC_POLL_FN(stop_later_poll), &st, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(exec), 0);
	for (int i = 0; i < 4; i++) {
		/* one thread: polled before the stopper; workers: maybe not yet */
		if (((const struct exec_mode *)*state)->single || f[i].polls)
			assert_non_null(f[i].s.timer);
		if (((const struct exec_mode *)*state)->single)
			assert_int_equal(f[i].polls, 1);
	}
	async_exec_free(exec); /* aborts them: their drops cancel the timers (ASan checks) */
	for (int i = 0; i < 4; i++)
		assert_null(f[i].s.timer);
	async_sleep_drop(NULL);
}

/* A timer fires on time while another task keeps the executor busy (yielding). */
struct spinner {
	struct async_frame frame;
	_Atomic int *stop;
	long polls;
};

static enum async_poll spinner_poll(struct spinner *s, struct async_cx *cx)
{
	s->polls++;
	if (atomic_load(s->stop))
		return ASYNC_READY;
	async_cx_wake_self(cx);
	return ASYNC_PENDING;
}

struct stop_after_sleep {
	struct async_frame frame;
	struct sleeper s;
	_Atomic int *stop;
};

static enum async_poll stop_after_sleep_poll(struct stop_after_sleep *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	ASYNC_AWAIT(f, cx, sleeper, &f->s);
	atomic_store(f->stop, 1);
	ASYNC_RETURN(f);
}

static void test_timer_while_busy(void **state)
{
	struct async_exec *exec = mode_exec(state);
	_Atomic int stop = 0;
	struct spinner sp[3] = { { .stop = &stop }, { .stop = &stop }, { .stop = &stop } };
	struct stop_after_sleep f = { .s = { .ns = 10 * ASYNC_MSEC }, .stop = &stop };

	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    async_spawn(exec, "spin", ASYNC_POLL_FN(spinner_poll), &sp[i], NULL, NULL), 0);
	assert_int_equal(
	    async_spawn(exec, "sleep", ASYNC_POLL_FN(stop_after_sleep_poll), &f, NULL, NULL), 0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_true(f.s.done_ns - f.s.first_poll_ns >= 10 * ASYNC_MSEC);
	assert_true(f.s.done_ns - f.s.first_poll_ns <= 210 * ASYNC_MSEC);
	assert_int_equal(f.s.polls, 2);
	for (int i = 0; i < 3; i++)
		assert_true(sp[i].polls > 1);
	async_exec_free(exec);
}

static void test_now(void **state)
{
	(void)state;
	uint64_t a = async_now_ns(), b = async_now_ns();

	assert_true(a > 0);
	assert_true(b >= a);
}

/*
 * The deadline passes between the poll that armed the timer and the loop's next clock
 * read: the driver then fires the timer itself, right before it would sleep. It must
 * not sleep with the woken task queued (the lost wake-up behind test_abort_pending
 * hanging on a loaded machine). A guard thread stops the executor after 5 s, so a
 * regression fails here instead of hanging.
 */
struct late_sleeper {
	struct async_frame frame;
	struct async_sleep sleep;
	int polls;
};

static enum async_poll late_sleeper_poll(struct late_sleeper *f, struct async_cx *cx)
{
	if (f->polls++ == 0) {
		uint64_t until;

		async_sleep_init(&f->sleep, 1 * ASYNC_MSEC);
		assert_int_equal(async_sleep_poll(&f->sleep, cx), ASYNC_PENDING);
		until = async_now_ns() + 3 * ASYNC_MSEC;
		while (async_now_ns() < until)
			; /* outlive the deadline inside the poll */
		return ASYNC_PENDING;
	}
	return async_sleep_poll(&f->sleep, cx);
}

struct guard {
	struct async_exec *exec;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void *guard_main(void *arg)
{
	struct guard *g = arg;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&g->lock);
	while (!g->done)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &until)) {
			async_exec_stop(g->exec);
			break;
		}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static void test_deadline_passed_before_driver_sleeps(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct guard g = { .exec = exec,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER };
	pthread_t guard;

	assert_int_equal(pthread_create(&guard, NULL, guard_main, &g), 0);
	for (int round = 0; round < 20; round++) {
		struct late_sleeper f = { 0 };

		assert_int_equal(async_block_on(exec, "late", ASYNC_POLL_FN(late_sleeper_poll), &f),
				 0);
		assert_int_equal(f.polls, 2);
	}
	pthread_mutex_lock(&g.lock);
	g.done = true;
	pthread_cond_signal(&g.cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(guard, NULL);
	async_exec_free(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_sleep_accuracy),
		BOTH_MODES(test_sleep_zero_and_past),
		BOTH_MODES(test_timer_order),
		BOTH_MODES(test_timer_ties_fifo),
		BOTH_MODES(test_timer_cancel),
		BOTH_MODES(test_timeout),
		BOTH_MODES(test_sleep_drop_on_free),
		BOTH_MODES(test_timer_while_busy),
		BOTH_MODES(test_deadline_passed_before_driver_sleeps),
		cmocka_unit_test(test_now),
	};

	return RUN_AT_UPTIMES(tests);
}
