/* SPDX-License-Identifier: MIT */
/* The async mutex: exclusion under contention, FIFO hand-off, drops, holder_id. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec_modes.h"
#include "countdown.h"

static void bump(int *v)
{
	__atomic_fetch_add(v, 1, __ATOMIC_SEQ_CST);
}

/* ---- mutual exclusion under contention ------------------------------------------------ */

#define CONTENDERS 50
#define ITERS	   1000

struct shared {
	struct async_mutex m;
	long counter;
	int inside;
	int violations;
	int wrong_holder;
};

struct incr {
	struct async_frame frame;
	struct shared *s;
	int i;
	long tmp;
	struct async_lock lock;
};

static enum async_poll incr_poll(struct incr *t, struct async_cx *cx)
{
	ASYNC_BEGIN(t);
	for (t->i = 0; t->i < ITERS; t->i++) {
		async_lock_init(&t->lock, &t->s->m);
		ASYNC_AWAIT(t, cx, async_lock, &t->lock);
		if (__atomic_fetch_add(&t->s->inside, 1, __ATOMIC_SEQ_CST) != 0)
			bump(&t->s->violations);
		if (__atomic_load_n(&t->s->m.holder_id, __ATOMIC_RELAXED) != async_cx_task_id(cx))
			bump(&t->s->wrong_holder);
		t->tmp = t->s->counter;
		ASYNC_YIELD(t, cx); /* hold the lock across a suspension */
		t->s->counter = t->tmp + 1;
		__atomic_fetch_sub(&t->s->inside, 1, __ATOMIC_SEQ_CST);
		async_mutex_unlock(&t->s->m, cx);
	}
	ASYNC_RETURN(t);
}

static void test_contention(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct shared s = { 0 };
	struct incr *tasks = calloc(CONTENDERS, sizeof(*tasks));

	assert_non_null(tasks);
	async_mutex_init(&s.m);
	assert_int_equal(s.m.magic, ASYNC_MUTEX_MAGIC);
	assert_non_null(s.m.desc);
	assert_int_equal(s.m.desc->kind, ASYNC_DESC_OBJECT);
	for (int i = 0; i < CONTENDERS; i++) {
		tasks[i].s = &s;
		assert_int_equal(
		    async_spawn(e, "incr", ASYNC_POLL_FN(incr_poll), &tasks[i], NULL, NULL), 0);
	}
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(s.counter, (long)CONTENDERS * ITERS);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.wrong_holder, 0);
	assert_int_equal(s.m.holder_id, 0);
	assert_int_equal(s.m.waiters, 0);
	assert_int_equal(async_mutex_destroy(&s.m), 0);
	async_exec_free(e);
	free(tasks);
}

/* ---- FIFO hand-off, holder_id, the task's wait record --------------------------------- */

#define FIFO_WAITERS 8

struct fifo_shared {
	struct async_mutex m;
	int order[FIFO_WAITERS];
	int pos;
	int wrong_holder;
};

struct fifo_waiter {
	struct async_frame frame;
	struct fifo_shared *s;
	int index;
	struct async_lock lock;
};

static enum async_poll fifo_waiter_poll(struct fifo_waiter *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	async_lock_init(&w->lock, &w->s->m);
	ASYNC_AWAIT(w, cx, async_lock, &w->lock);
	if (w->s->m.holder_id != async_cx_task_id(cx))
		bump(&w->s->wrong_holder);
	w->s->order[__atomic_fetch_add(&w->s->pos, 1, __ATOMIC_SEQ_CST)] = w->index;
	ASYNC_YIELD(w, cx);
	async_mutex_unlock(&w->s->m, cx);
	ASYNC_RETURN(w);
}

struct fifo_driver {
	struct async_frame frame;
	struct fifo_shared s;
	struct fifo_waiter waiters[FIFO_WAITERS];
	struct async_join joins[FIFO_WAITERS];
	struct async_lock lock;
	int k;
	long spins;
	int timed_out;
	uint64_t self_id;
	/* what the blocked tasks' records said */
	int wait_kind_ok;
	int wait_obj_ok;
	int wait_holder_ok;
	int spawn_err;
};

/* Waiter d->k is in the queue and its task record says it waits. */
static bool queued(struct fifo_driver *d)
{
	const struct async_task_abi *t = (const void *)d->joins[d->k].task;

	return __atomic_load_n(&d->s.m.waiters, __ATOMIC_ACQUIRE) == (uint32_t)d->k + 1 &&
	       __atomic_load_n(&t->wait_kind, __ATOMIC_ACQUIRE) == ASYNC_WAIT_MUTEX;
}

static enum async_poll fifo_driver_poll(struct fifo_driver *d, struct async_cx *cx)
{
	ASYNC_BEGIN(d);
	d->self_id = async_cx_task_id(cx);
	async_lock_init(&d->lock, &d->s.m);
	ASYNC_AWAIT(d, cx, async_lock, &d->lock);
	for (d->k = 0; d->k < FIFO_WAITERS; d->k++) {
		d->waiters[d->k].s = &d->s;
		d->waiters[d->k].index = d->k;
		if (async_spawn_cx(cx, "fifo_waiter", ASYNC_POLL_FN(fifo_waiter_poll),
				   &d->waiters[d->k], NULL, &d->joins[d->k]))
			d->spawn_err++;
		/* Wait until it has queued (and says so), so the queue order is known. */
		for (d->spins = 0; !queued(d); d->spins++) {
			if (d->spins > 10000000) {
				d->timed_out = 1;
				break;
			}
			ASYNC_YIELD(d, cx);
		}
	}
	for (d->k = 0; d->k < FIFO_WAITERS; d->k++) {
		const struct async_task_abi *t = (const void *)d->joins[d->k].task;

		d->wait_kind_ok += t->wait_kind == ASYNC_WAIT_MUTEX;
		d->wait_obj_ok += t->wait_obj == (uint64_t)&d->s.m;
		d->wait_holder_ok += t->wait_holder == d->self_id;
	}
	async_mutex_unlock(&d->s.m, cx);
	for (d->k = 0; d->k < FIFO_WAITERS; d->k++) {
		ASYNC_AWAIT(d, cx, async_join, &d->joins[d->k]);
		async_join_drop(&d->joins[d->k]);
	}
	ASYNC_RETURN(d);
}

static void test_fifo(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct fifo_driver *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	async_mutex_init(&d->s.m);
	assert_int_equal(
	    async_spawn(e, "fifo_driver", ASYNC_POLL_FN(fifo_driver_poll), d, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(d->spawn_err, 0);
	assert_int_equal(d->timed_out, 0);
	assert_int_equal(d->s.pos, FIFO_WAITERS);
	for (int i = 0; i < FIFO_WAITERS; i++)
		assert_int_equal(d->s.order[i], i);
	assert_int_equal(d->s.wrong_holder, 0);
	assert_int_equal(d->wait_kind_ok, FIFO_WAITERS);
	assert_int_equal(d->wait_obj_ok, FIFO_WAITERS);
	assert_int_equal(d->wait_holder_ok, FIFO_WAITERS);
	assert_int_equal(d->s.m.holder_id, 0);
	assert_int_equal(d->s.m.waiters, 0);
	async_exec_free(e);
	free(d);
}

/* ---- drops: while waiting, and after the hand-off but before the poll ----------------- */

struct drops {
	struct async_frame frame;
	struct async_mutex m;
	struct async_lock l0, l1, l2, l3;
	uint64_t self_id;
	int step_fail; /* first failed step, 0 if none */
};

#define CHECK(d, step, cond)                     \
	do {                                     \
		if (!(cond) && !(d)->step_fail)  \
			(d)->step_fail = (step); \
	} while (0)

static enum async_poll drops_poll(struct drops *d, struct async_cx *cx)
{
	ASYNC_TRACE(d->frame);
	d->self_id = async_cx_task_id(cx);
	async_mutex_init(&d->m);
	async_lock_init(&d->l0, &d->m);
	async_lock_init(&d->l1, &d->m);
	async_lock_init(&d->l2, &d->m);
	async_lock_init(&d->l3, &d->m);

	CHECK(d, 1, async_lock_poll(&d->l0, cx) == ASYNC_READY);
	CHECK(d, 2, d->m.holder_id == d->self_id);
	CHECK(d, 3, async_mutex_trylock(&d->m, cx) == ASYNC_EBUSY);
	CHECK(d, 4, async_mutex_destroy(&d->m) == ASYNC_EBUSY);
	CHECK(d, 5, async_lock_poll(&d->l1, cx) == ASYNC_PENDING);
	CHECK(d, 6, async_lock_poll(&d->l2, cx) == ASYNC_PENDING);
	CHECK(d, 7, async_lock_poll(&d->l3, cx) == ASYNC_PENDING);
	CHECK(d, 8, d->m.waiters == 3);
	/* l3 leaves the queue while waiting. */
	async_lock_drop(&d->l3);
	CHECK(d, 9, d->m.waiters == 2 && d->l3.waiter == NULL);
	/* Unlock hands the lock to l1 (the longest waiter) before anyone polls it. */
	async_mutex_unlock(&d->m, cx);
	CHECK(d, 10, d->m.waiters == 1 && d->m.holder_id == d->self_id);
	/* No barging: the lock belongs to l1 now, a newcomer cannot take it. */
	CHECK(d, 20, async_mutex_trylock(&d->m, cx) == ASYNC_EBUSY);
	/* l1 never sees it: its drop passes the lock on to l2. */
	async_lock_drop(&d->l1);
	CHECK(d, 11, d->m.waiters == 0 && d->m.holder_id == d->self_id);
	CHECK(d, 12, async_lock_poll(&d->l2, cx) == ASYNC_READY);
	CHECK(d, 13, async_lock_poll(&d->l2, cx) == ASYNC_READY); /* stays ready */
	async_lock_drop(&d->l2);				  /* acquired: no unlock */
	CHECK(d, 14, d->m.holder_id == d->self_id);
	async_mutex_unlock(&d->m, cx);
	CHECK(d, 15, d->m.holder_id == 0 && d->m.waiters == 0);
	CHECK(d, 16, async_mutex_trylock(&d->m, cx) == 0);
	CHECK(d, 17, d->m.holder_id == d->self_id);
	async_mutex_unlock(&d->m, cx);
	CHECK(d, 18, async_mutex_destroy(&d->m) == 0);
	CHECK(d, 19, async_mutex_trylock(NULL, cx) == ASYNC_EINVAL);
	async_lock_drop(NULL);
	async_lock_drop(&d->l0); /* acquired long ago: nothing to do */
	return ASYNC_READY;
}

static void test_drops(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct drops *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	assert_int_equal(async_spawn(e, "drops", ASYNC_POLL_FN(drops_poll), d, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(d->step_fail, 0);
	async_exec_free(e);
	free(d);
}

/* ---- no lost unlock: lock attempts abandoned at random points, across 2 workers ------- */

#define GIVERS	    16
#define GIVER_ITERS 300

struct giver_shared {
	struct async_mutex m;
	long acquired;
	int gave_up;
	int inside;
	int violations;
};

struct giver {
	struct async_frame frame;
	struct giver_shared *s;
	unsigned seed;
	int i;
	struct async_lock lock;
	struct countdown cd;
	struct async_branch br[2];
	struct async_select sel;
};

static enum async_poll giver_poll(struct giver *g, struct async_cx *cx)
{
	ASYNC_BEGIN(g);
	for (g->i = 0; g->i < GIVER_ITERS; g->i++) {
		async_lock_init(&g->lock, &g->s->m);
		g->cd = (struct countdown){ .left = rand_r(&g->seed) % 4 };
		g->br[0] = (struct async_branch){ ASYNC_POLL_FN(async_lock_poll), &g->lock };
		g->br[1] = (struct async_branch){ ASYNC_POLL_FN(countdown_poll), &g->cd };
		async_select_init(&g->sel, g->br, 2);
		ASYNC_AWAIT(g, cx, async_select, &g->sel);
		if (g->sel.winner == 0) {
			if (__atomic_fetch_add(&g->s->inside, 1, __ATOMIC_SEQ_CST) != 0)
				bump(&g->s->violations);
			g->s->acquired++;
			__atomic_fetch_sub(&g->s->inside, 1, __ATOMIC_SEQ_CST);
			async_mutex_unlock(&g->s->m, cx);
		} else {
			/* Possibly handed the lock already: the drop must pass it on. */
			async_lock_drop(&g->lock);
			bump(&g->s->gave_up);
			ASYNC_YIELD(g, cx);
		}
	}
	ASYNC_RETURN(g);
}

static void test_no_lost_unlock(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct giver_shared s = { 0 };
	struct giver *g = calloc(GIVERS, sizeof(*g));

	assert_non_null(g);
	async_mutex_init(&s.m);
	for (int i = 0; i < GIVERS; i++) {
		g[i].s = &s;
		g[i].seed = 1234 + i;
		assert_int_equal(
		    async_spawn(e, "giver", ASYNC_POLL_FN(giver_poll), &g[i], NULL, NULL), 0);
	}
	/* A lost unlock leaves tasks waiting forever: run would not return. */
	alarm(120);
	assert_int_equal(async_exec_run(e), 0);
	alarm(0);
	assert_int_equal(s.acquired + s.gave_up, (long)GIVERS * GIVER_ITERS);
	assert_true(s.acquired > 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.m.holder_id, 0);
	assert_int_equal(s.m.waiters, 0);
	assert_int_equal(async_mutex_destroy(&s.m), 0);
	async_exec_free(e);
	free(g);
}

/* ---- a task aborted while it waits leaves the queue (its drop runs) -------------------- */

struct aborted {
	struct async_frame frame;
	struct async_mutex *m;
	struct async_lock lock;
};

static enum async_poll aborted_poll(struct aborted *a, struct async_cx *cx)
{
	ASYNC_BEGIN(a);
	async_lock_init(&a->lock, a->m);
	ASYNC_AWAIT(a, cx, async_lock, &a->lock);
	async_mutex_unlock(a->m, cx);
	ASYNC_RETURN(a);
}

static void aborted_drop(struct aborted *a)
{
	async_lock_drop(&a->lock);
}

struct abort_driver {
	struct async_frame frame;
	struct async_mutex m;
	struct async_lock lock;
	struct aborted victim;
	struct async_join join;
	int waiters_seen;
	int abort_rc;
	int join_result;
};

static enum async_poll abort_driver_poll(struct abort_driver *d, struct async_cx *cx)
{
	ASYNC_BEGIN(d);
	async_lock_init(&d->lock, &d->m);
	ASYNC_AWAIT(d, cx, async_lock, &d->lock);
	d->victim.m = &d->m;
	async_spawn_cx(cx, "victim", ASYNC_POLL_FN(aborted_poll), &d->victim,
		       ASYNC_DROP_FN(aborted_drop), &d->join);
	while (__atomic_load_n(&d->m.waiters, __ATOMIC_RELAXED) != 1)
		ASYNC_YIELD(d, cx);
	d->waiters_seen = 1;
	d->abort_rc = async_join_abort(&d->join);
	ASYNC_AWAIT(d, cx, async_join, &d->join);
	d->join_result = d->join.result;
	async_join_drop(&d->join);
	async_mutex_unlock(&d->m, cx);
	ASYNC_RETURN(d);
}

static void test_abort_waiting_task(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct abort_driver *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	async_mutex_init(&d->m);
	assert_int_equal(
	    async_spawn(e, "abort_driver", ASYNC_POLL_FN(abort_driver_poll), d, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(d->waiters_seen, 1);
	assert_int_equal(d->abort_rc, 0);
	assert_int_equal(d->join_result, ASYNC_ECANCELED);
	assert_int_equal(d->m.waiters, 0);
	assert_int_equal(d->m.holder_id, 0);
	assert_int_equal(async_mutex_destroy(&d->m), 0);
	assert_int_equal(async_mutex_destroy(NULL), 0);
	async_exec_free(e);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_contention),
		BOTH_MODES(test_fifo),
		BOTH_MODES(test_drops),
		BOTH_MODES(test_no_lost_unlock),
		BOTH_MODES(test_abort_waiting_task),
	};

	return RUN_AT_UPTIMES(tests);
}
