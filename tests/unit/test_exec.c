/* SPDX-License-Identifier: MIT */
/* Executor: spawn, join, ids, parents, abort, yield, stop, block_on, free. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_modes.h"
#include "core.h"

static void *run_exec_thread(void *exec)
{
	async_exec_run(exec);
	return NULL;
}

/* ---- a child: returns after `yields` yields, counting polls and drops ------------------- */

struct child {
	struct async_frame frame;
	int yields;
	int value;
	int out;
	_Atomic int polls;
	_Atomic int drops;
	uint64_t parent_seen;
};

static enum async_poll child_poll(struct child *c, struct async_cx *cx)
{
	(void)cx;
	atomic_fetch_add(&c->polls, 1);
	ASYNC_BEGIN(c);
	while (c->yields > 0) {
		c->yields--;
		ASYNC_YIELD(c, cx);
	}
	c->out = c->value * 2;
	ASYNC_RETURN(c);
}

static void child_drop(struct child *c)
{
	atomic_fetch_add(&c->drops, 1);
}

/* ---- a parent: spawns n children, joins each ------------------------------------------- */

struct parent {
	struct async_frame frame;
	int n, i;
	struct child *kids;
	struct async_join *joins;
	uint64_t id;
	int results_ok;
};

static enum async_poll parent_poll(struct parent *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	p->id = async_cx_task_id(cx);
	for (p->i = 0; p->i < p->n; p->i++) {
		p->kids[p->i].value = p->i;
		p->kids[p->i].yields = p->i % 3;
		assert_int_equal(async_spawn_cx(cx, "child", ASYNC_POLL_FN(child_poll),
						&p->kids[p->i], ASYNC_DROP_FN(child_drop),
						&p->joins[p->i]),
				 0);
	}
	for (p->i = 0; p->i < p->n; p->i++) {
		ASYNC_AWAIT(p, cx, async_join, &p->joins[p->i]);
		if (p->joins[p->i].result == 0 && p->kids[p->i].out == p->i * 2)
			p->results_ok++;
	}
	ASYNC_RETURN(p);
}

static void test_spawn_join(void **state)
{
	struct async_exec *exec = mode_exec(state);
	enum { N = 100 };
	struct child kids[N];
	struct async_join joins[N];
	struct parent p = { .n = N, .kids = kids, .joins = joins };

	memset(kids, 0, sizeof(kids));
	assert_int_equal(async_block_on(exec, "parent", ASYNC_POLL_FN(parent_poll), &p), 0);
	assert_int_equal(p.results_ok, N);
	for (int i = 0; i < N; i++) {
		struct async_task *t = joins[i].task;

		assert_non_null(t);
		assert_int_equal(t->abi.parent_id, p.id);
		assert_int_equal(t->abi.state, ASYNC_TASK_DONE);
		assert_int_equal(atomic_load(&kids[i].polls), 1 + i % 3);
		assert_int_equal(t->abi.polls, 1 + i % 3);
		/* the handle still holds the future: no drop yet */
		assert_int_equal(atomic_load(&kids[i].drops), 0);
		if (i > 0)
			assert_true(async_join_task_id(&joins[i]) >
				    async_join_task_id(&joins[i - 1]));
		assert_ptr_equal(async_join_future(&joins[i]), &kids[i]);
		async_join_drop(&joins[i]);
		assert_int_equal(atomic_load(&kids[i].drops), 1);
		async_join_drop(&joins[i]); /* empty: no-op */
	}
	async_exec_free(exec);
}

static void test_ids_outside(void **state)
{
	struct async_exec *exec = mode_exec(state);
	enum { N = 50 };
	struct child kids[N];
	struct async_join joins[N];
	uint64_t last = 0;

	memset(kids, 0, sizeof(kids));
	for (int i = 0; i < N; i++) {
		assert_int_equal(async_spawn(exec, "c", ASYNC_POLL_FN(child_poll), &kids[i],
					     ASYNC_DROP_FN(child_drop), &joins[i]),
				 0);
		uint64_t id = async_join_task_id(&joins[i]);

		assert_true(id > last);
		last = id;
		assert_int_equal(joins[i].task->abi.parent_id, 0);
		assert_int_equal(joins[i].task->abi.magic, ASYNC_TASK_MAGIC);
	}
	assert_int_equal(async_exec_run(exec), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(joins[i].task->result, 0);
		assert_int_equal(kids[i].out, 0);
		async_join_drop(&joins[i]);
		assert_int_equal(atomic_load(&kids[i].drops), 1);
	}
	async_exec_free(exec);
}

static void test_detached_drop(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct child kids[20];

	memset(kids, 0, sizeof(kids));
	for (int i = 0; i < 20; i++) {
		kids[i].yields = i % 2;
		assert_int_equal(async_spawn(exec, "d", ASYNC_POLL_FN(child_poll), &kids[i],
					     ASYNC_DROP_FN(child_drop), NULL),
				 0);
	}
	assert_int_equal(async_exec_run(exec), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(atomic_load(&kids[i].drops), 1);
		assert_int_equal(atomic_load(&kids[i].polls), 1 + i % 2);
	}
	async_exec_free(exec);
}

/* ---- abort ------------------------------------------------------------------------------ */

/* Pends forever (keeps its waker so the task is not woken). */
struct forever {
	struct async_frame frame;
	struct async_waker waker;
	_Atomic int polls;
	_Atomic int drops;
};

static enum async_poll forever_poll(struct forever *f, struct async_cx *cx)
{
	atomic_fetch_add(&f->polls, 1);
	if (!f->waker.task)
		f->waker = async_waker_clone(cx);
	return ASYNC_PENDING;
}

static void forever_drop(struct forever *f)
{
	async_waker_drop(&f->waker);
	atomic_fetch_add(&f->drops, 1);
}

/* Awaits a join handle; records its result. */
struct joiner {
	struct async_frame frame;
	struct async_join *join;
	int result;
	_Atomic int *target_polls;
	struct async_sleep sleep;
	int abort_rc;
};

static enum async_poll joiner_poll(struct joiner *j, struct async_cx *cx)
{
	ASYNC_BEGIN(j);
	if (j->target_polls) {
		/* wait until the target pends (polled once), then abort it */
		while (!atomic_load(j->target_polls)) {
			async_sleep_init(&j->sleep, 1 * ASYNC_MSEC);
			ASYNC_AWAIT(j, cx, async_sleep, &j->sleep);
		}
		async_sleep_init(&j->sleep, 1 * ASYNC_MSEC);
		ASYNC_AWAIT(j, cx, async_sleep, &j->sleep);
		j->abort_rc = async_join_abort(j->join);
	}
	ASYNC_AWAIT(j, cx, async_join, j->join);
	j->result = j->join->result;
	ASYNC_RETURN(j);
}

static void test_abort_before_poll(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct forever f = { 0 };
	struct async_join join;
	struct joiner j = { .join = &join, .result = 1 };

	if (((const struct exec_mode *)*state)->single) {
		assert_int_equal(async_spawn(exec, "f", ASYNC_POLL_FN(forever_poll), &f,
					     ASYNC_DROP_FN(forever_drop), &join),
				 0);
		assert_int_equal(async_join_abort(&join), 0);
		assert_int_equal(async_join_abort(&join), 0); /* twice: still fine */
		assert_int_equal(async_block_on(exec, "j", ASYNC_POLL_FN(joiner_poll), &j), 0);
		assert_int_equal(j.result, ASYNC_ECANCELED);
		assert_int_equal(atomic_load(&f.polls), 0);
		assert_int_equal(atomic_load(&f.drops), 0);
		async_join_drop(&join);
		assert_int_equal(atomic_load(&f.drops), 1);
	}
	async_exec_free(exec);
}

static void test_abort_pending(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct forever f = { 0 };
	struct async_join join;
	struct joiner j = { .join = &join, .result = 1, .target_polls = &f.polls, .abort_rc = 99 };

	assert_int_equal(async_spawn(exec, "f", ASYNC_POLL_FN(forever_poll), &f,
				     ASYNC_DROP_FN(forever_drop), &join),
			 0);
	assert_int_equal(async_block_on(exec, "j", ASYNC_POLL_FN(joiner_poll), &j), 0);
	assert_int_equal(j.abort_rc, 0);
	assert_int_equal(j.result, ASYNC_ECANCELED);
	assert_int_equal(atomic_load(&f.polls), 1);
	async_join_drop(&join);
	assert_int_equal(atomic_load(&f.drops), 1);
	async_exec_free(exec);
}

static void test_abort_after_completion(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct child c = { .value = 4 };
	struct async_join join;

	assert_int_equal(
	    async_spawn(exec, "c", ASYNC_POLL_FN(child_poll), &c, ASYNC_DROP_FN(child_drop), &join),
	    0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(async_join_abort(&join), ASYNC_EINVAL);
	assert_int_equal(join.task->result, 0);
	assert_int_equal(c.out, 8);
	async_join_drop(&join);
	assert_int_equal(atomic_load(&c.drops), 1);
	assert_int_equal(async_join_abort(&join), ASYNC_EINVAL); /* empty handle */
	async_exec_free(exec);
}

/* Aborts itself while being polled: must not be polled again. */
struct selfabort {
	struct async_frame frame;
	struct async_join *self;
	_Atomic int polls;
	_Atomic int drops;
};

static enum async_poll selfabort_poll(struct selfabort *s, struct async_cx *cx)
{
	atomic_fetch_add(&s->polls, 1);
	async_join_abort(s->self);
	async_cx_wake_self(cx); /* would re-poll it, were it not aborted */
	return ASYNC_PENDING;
}

static void selfabort_drop(struct selfabort *s)
{
	atomic_fetch_add(&s->drops, 1);
}

static void test_abort_while_running(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct async_join join;
	struct selfabort s = { .self = &join };
	struct joiner j = { .join = &join, .result = 1 };

	assert_int_equal(async_spawn(exec, "s", ASYNC_POLL_FN(selfabort_poll), &s,
				     ASYNC_DROP_FN(selfabort_drop), &join),
			 0);
	assert_int_equal(async_block_on(exec, "j", ASYNC_POLL_FN(joiner_poll), &j), 0);
	assert_int_equal(j.result, ASYNC_ECANCELED);
	assert_int_equal(atomic_load(&s.polls), 1);
	assert_int_equal(atomic_load(&s.drops), 0);
	async_join_drop(&join);
	assert_int_equal(atomic_load(&s.drops), 1);
	async_exec_free(exec);
}

/* ---- wake while running: polled again exactly once -------------------------------------- */

struct selfwake {
	struct async_frame frame;
	_Atomic int polls;
};

static enum async_poll selfwake_poll(struct selfwake *s, struct async_cx *cx)
{
	if (atomic_fetch_add(&s->polls, 1) == 0) {
		struct async_waker w = async_waker_clone(cx);

		assert_true(async_waker_will_wake(&w, cx));
		async_waker_wake_by_ref(&w);
		async_waker_wake_by_ref(&w);
		struct async_waker d = async_waker_dup(&w);

		async_waker_wake(&d);
		assert_null(d.task);
		async_waker_wake(&w);
		async_cx_wake_self(cx);
		return ASYNC_PENDING;
	}
	return ASYNC_READY;
}

static void test_wake_while_running(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct selfwake s[10];

	memset(s, 0, sizeof(s));
	for (int i = 0; i < 10; i++)
		assert_int_equal(
		    async_spawn(exec, "w", ASYNC_POLL_FN(selfwake_poll), &s[i], NULL, NULL), 0);
	assert_int_equal(async_exec_run(exec), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(atomic_load(&s[i].polls), 2);
	async_exec_free(exec);
}

static void test_yield(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct child c = { .yields = 5 };
	struct async_join join;

	assert_int_equal(async_spawn(exec, "y", ASYNC_POLL_FN(child_poll), &c, NULL, &join), 0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(atomic_load(&c.polls), 6);
	assert_int_equal(join.task->abi.polls, 6);
	async_join_drop(&join);
	async_exec_free(exec);
}

/* ---- ping-pong: pairs of tasks passing a turn with wakers ------------------------------- */

#define PP_PAIRS  1000
#define PP_ROUNDS 1000

struct pp_pair {
	_Atomic int turn; /* 0 or 1 */
	struct async_waker *_Atomic waker[2];
	struct async_waker wk[2];
};

struct pp_task {
	struct async_frame frame;
	struct pp_pair *pair;
	int me;
	int turns, spurious;
};

static enum async_poll pp_poll(struct pp_task *t, struct async_cx *cx)
{
	struct pp_pair *p = t->pair;

	if (!atomic_load(&p->waker[t->me])) {
		p->wk[t->me] = async_waker_clone(cx);
		atomic_store(&p->waker[t->me], &p->wk[t->me]);
	}
	if (atomic_load(&p->turn) != t->me) {
		t->spurious++;
		return ASYNC_PENDING;
	}
	t->turns++;
	atomic_store(&p->turn, !t->me);
	struct async_waker *other = atomic_load(&p->waker[!t->me]);

	if (other)
		async_waker_wake_by_ref(other);
	/* the waker stays published (the other task may be waking it right now): the test
	 * drops both once the executor is done */
	return t->turns == PP_ROUNDS ? ASYNC_READY : ASYNC_PENDING;
}

static void test_pingpong(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct pp_pair *pairs = calloc(PP_PAIRS, sizeof(*pairs));
	struct pp_task *tasks = calloc(2 * PP_PAIRS, sizeof(*tasks));

	for (int i = 0; i < PP_PAIRS; i++) {
		for (int k = 0; k < 2; k++) {
			struct pp_task *t = &tasks[2 * i + k];

			t->pair = &pairs[i];
			t->me = k;
			assert_int_equal(
			    async_spawn(exec, "pp", ASYNC_POLL_FN(pp_poll), t, NULL, NULL), 0);
		}
	}
	assert_int_equal(async_exec_run(exec), 0);
	for (int i = 0; i < 2 * PP_PAIRS; i++) {
		assert_int_equal(tasks[i].turns, PP_ROUNDS);
		/* only a task's first poll may find it is not its turn */
		assert_in_range(tasks[i].spurious, 0, 1);
		async_waker_drop(&pairs[i / 2].wk[i % 2]);
	}
	free(tasks);
	free(pairs);
	async_exec_free(exec);
}

/* ---- stop, block_on, free with live tasks ------------------------------------------------ */

struct stopper {
	struct async_frame frame;
	int polls;
};

static enum async_poll stopper_poll(struct stopper *s, struct async_cx *cx)
{
	if (++s->polls == 1) {
		async_exec_stop(async_cx_exec(cx));
		async_cx_wake_self(cx);
		return ASYNC_PENDING;
	}
	return ASYNC_READY;
}

static void test_stop(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct stopper s = { 0 };
	struct async_join join;

	assert_int_equal(async_spawn(exec, "s", ASYNC_POLL_FN(stopper_poll), &s, NULL, &join), 0);
	assert_int_equal(async_exec_run(exec), 0);
	if (((const struct exec_mode *)*state)->single) {
		assert_int_equal(s.polls, 1);
		assert_false(atomic_load(&join.task->st) & T_DONE);
	} else {
		/* another worker may have started the second poll before it saw the stop */
		assert_in_range(s.polls, 1, 2);
	}
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(s.polls, 2);
	assert_int_equal(join.task->result, 0);
	async_join_drop(&join);
	async_exec_free(exec);
}

/* A stop before run is not lost: the next run returns at once, the one after runs. */
static void test_stop_before_run(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct child c = { .yields = 3 };
	struct async_join join;

	async_exec_stop(exec);
	assert_int_equal(async_spawn(exec, "c", ASYNC_POLL_FN(child_poll), &c, NULL, &join), 0);
	assert_int_equal(async_exec_run(exec), 0);
	/* one thread: nothing ran; workers: paused before they could finish it */
	assert_false(atomic_load(&join.task->st) & T_DONE);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(atomic_load(&c.polls), 4);
	assert_int_equal(join.task->result, 0);
	async_join_drop(&join);
	async_exec_free(exec);
}

static void test_free_aborts(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct forever f[8];
	struct async_join join;
	struct child c = { .yields = 1000000 };

	memset(f, 0, sizeof(f));
	for (int i = 0; i < 8; i++)
		assert_int_equal(async_spawn(exec, "f", ASYNC_POLL_FN(forever_poll), &f[i],
					     ASYNC_DROP_FN(forever_drop), NULL),
				 0);
	assert_int_equal(
	    async_spawn(exec, "c", ASYNC_POLL_FN(child_poll), &c, ASYNC_DROP_FN(child_drop), &join),
	    0);
	async_exec_free(exec);
	for (int i = 0; i < 8; i++)
		assert_int_equal(atomic_load(&f[i].drops), 1);
	assert_int_equal(join.task->result, ASYNC_ECANCELED);
	assert_int_equal(atomic_load(&c.drops), 0);
	async_join_drop(&join);
	assert_int_equal(atomic_load(&c.drops), 1);
}

static void test_errors(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct child c = { 0 };
	struct async_join join;

	async_exec_free(NULL);
	assert_int_equal(async_exec_new(NULL, NULL), ASYNC_EINVAL);
	assert_int_equal(async_exec_run(NULL), ASYNC_EINVAL);
	assert_int_equal(async_spawn(NULL, "x", ASYNC_POLL_FN(child_poll), &c, NULL, &join),
			 ASYNC_EINVAL);
	assert_null(join.task);
	assert_int_equal(async_spawn(exec, "x", NULL, &c, NULL, NULL), ASYNC_EINVAL);
	assert_int_equal(async_join_task_id(&join), 0);
	assert_null(async_join_future(&join));
	assert_null(async_exec_data(NULL));
	async_waker_drop(NULL);
	async_waker_wake(NULL);
	async_exec_stop(NULL);
	async_exec_free(exec);
}

static void test_exec_data(void **state)
{
	(void)state;
	int x;
	struct async_exec_opts o = { .single_threaded = true, .data = &x };
	struct async_exec *exec;

	assert_int_equal(async_exec_new(&o, &exec), 0);
	assert_ptr_equal(async_exec_data(exec), &x);
	/* no task: run returns at once */
	assert_int_equal(async_exec_run(exec), 0);
	async_exec_free(exec);
	/* defaults: one worker per CPU */
	assert_int_equal(async_exec_new(NULL, &exec), 0);
	assert_int_equal(async_exec_run(exec), 0);
	async_exec_free(exec);
}

/* ---- 1,000,000 short tasks, spawned in batches of 1024 by a main task -------------------- */

struct tiny {
	struct async_frame frame;
	_Atomic long *done;
};

static enum async_poll tiny_poll(struct tiny *t, struct async_cx *cx)
{
	(void)cx;
	atomic_fetch_add_explicit(t->done, 1, memory_order_relaxed);
	return ASYNC_READY;
}

struct spawner {
	struct async_frame frame;
	long total, spawned;
	int i;
	struct tiny tiny[1024];
	struct async_join joins[1024];
	_Atomic long done;
};

static enum async_poll spawner_poll(struct spawner *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	while (s->spawned < s->total) {
		for (s->i = 0; s->i < 1024; s->i++) {
			s->tiny[s->i].done = &s->done;
			assert_int_equal(async_spawn_cx(cx, "tiny", ASYNC_POLL_FN(tiny_poll),
							&s->tiny[s->i], NULL, &s->joins[s->i]),
					 0);
		}
		for (s->i = 0; s->i < 1024; s->i++) {
			ASYNC_AWAIT(s, cx, async_join, &s->joins[s->i]);
			async_join_drop(&s->joins[s->i]);
		}
		s->spawned += 1024;
	}
	ASYNC_RETURN(s);
}

static void test_million(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct spawner *s = calloc(1, sizeof(*s));

	s->total = 1024 * 977; /* 1,000,448 */
	assert_int_equal(async_block_on(exec, "spawner", ASYNC_POLL_FN(spawner_poll), s), 0);
	assert_int_equal(atomic_load(&s->done), s->total);
	free(s);
	async_exec_free(exec);
}

/* ---- abort racing with polls and wakes on other workers --------------------------------- */

#define RACE_N 400

struct racer {
	struct async_frame frame;
	int yields;
	_Atomic int drops;
	_Atomic int polls_after_abort;
	_Atomic int aborted;
};

static enum async_poll racer_poll(struct racer *r, struct async_cx *cx)
{
	if (atomic_load(&r->aborted) == 2)
		atomic_fetch_add(&r->polls_after_abort, 1);
	if (r->yields-- > 0) {
		async_cx_wake_self(cx);
		return ASYNC_PENDING;
	}
	return ASYNC_READY;
}

static void racer_drop(struct racer *r)
{
	atomic_fetch_add(&r->drops, 1);
}

struct aborter {
	struct async_frame frame;
	struct racer *r;
	struct async_join *joins;
	int rc[RACE_N];
	int i;
};

static enum async_poll aborter_poll(struct aborter *a, struct async_cx *cx)
{
	ASYNC_BEGIN(a);
	for (a->i = 0; a->i < RACE_N; a->i++) {
		/* every 10th yields forever: only its abort ends it */
		a->r[a->i].yields = a->i % 10 == 0 ? INT_MAX : a->i % 50;
		assert_int_equal(async_spawn_cx(cx, "racer", ASYNC_POLL_FN(racer_poll), &a->r[a->i],
						ASYNC_DROP_FN(racer_drop), &a->joins[a->i]),
				 0);
	}
	for (a->i = 0; a->i < RACE_N; a->i++) {
		if (a->i % 7 == 0)
			ASYNC_YIELD(a, cx);
		atomic_store(&a->r[a->i].aborted, 1);
		a->rc[a->i] = async_join_abort(&a->joins[a->i]);
		/* a poll already running may still finish: only later polls count */
		if (a->rc[a->i] == 0)
			atomic_store(&a->r[a->i].aborted, 2);
	}
	for (a->i = 0; a->i < RACE_N; a->i++) {
		ASYNC_AWAIT(a, cx, async_join, &a->joins[a->i]);
		/* abort said 0: the join says canceled; abort said EINVAL: it had completed */
		if (a->rc[a->i] == 0)
			assert_int_equal(a->joins[a->i].result, ASYNC_ECANCELED);
		else
			assert_int_equal(a->joins[a->i].result, 0);
		async_join_drop(&a->joins[a->i]);
	}
	ASYNC_RETURN(a);
}

static void test_abort_races(void **state)
{
	struct async_exec *exec = mode_exec(state);

	for (int round = 0; round < 5; round++) {
		struct aborter *a = calloc(1, sizeof(*a));
		struct racer *r = calloc(RACE_N, sizeof(*r));
		struct async_join *joins = calloc(RACE_N, sizeof(*joins));
		int aborted = 0;

		a->r = r;
		a->joins = joins;
		assert_int_equal(async_block_on(exec, "aborter", ASYNC_POLL_FN(aborter_poll), a),
				 0);
		for (int i = 0; i < RACE_N; i++) {
			assert_int_equal(atomic_load(&r[i].drops), 1);
			/* at most the poll that was running when abort returned */
			assert_in_range(atomic_load(&r[i].polls_after_abort), 0, 1);
			assert_true(a->rc[i] == 0 || a->rc[i] == ASYNC_EINVAL);
			aborted += a->rc[i] == 0;
			if (i % 10 == 0)
				assert_int_equal(a->rc[i], 0);
		}
		assert_true(aborted >= RACE_N / 10);
		free(joins);
		free(r);
		free(a);
	}
	async_exec_free(exec);
}

/* ---- who woke whom, and what a joining task waits on ------------------------------------- */

struct waker_child {
	struct async_frame frame;
	struct async_task_abi *parent;
	uint32_t parent_wait_kind;
	uint64_t parent_wait_obj, parent_wait_holder, parent_wait_desc;
	int i;
};

static enum async_poll waker_child_poll(struct waker_child *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	/* let the parent reach its await (on another worker, maybe) */
	while (__atomic_load_n(&c->parent->wait_kind, __ATOMIC_ACQUIRE) == ASYNC_WAIT_NONE)
		ASYNC_YIELD(c, cx);
	c->parent_wait_kind = __atomic_load_n(&c->parent->wait_kind, __ATOMIC_ACQUIRE);
	c->parent_wait_obj = __atomic_load_n(&c->parent->wait_obj, __ATOMIC_RELAXED);
	c->parent_wait_holder = __atomic_load_n(&c->parent->wait_holder, __ATOMIC_RELAXED);
	c->parent_wait_desc = __atomic_load_n(&c->parent->wait_desc, __ATOMIC_RELAXED);
	ASYNC_RETURN(c);
}

struct waker_parent {
	struct async_frame frame;
	struct waker_child child;
	struct async_join join;
	uint64_t woken_by, yield_woken_by, my_id;
	const struct async_desc *await_desc;
};

static enum async_poll waker_parent_poll(struct waker_parent *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	p->my_id = async_cx_task_id(cx);
	ASYNC_YIELD(p, cx);
	p->yield_woken_by = cx->task->waker_id;
	p->child.parent = &cx->task->abi;
	assert_int_equal(
	    async_spawn_cx(cx, "child", ASYNC_POLL_FN(waker_child_poll), &p->child, NULL, &p->join),
	    0);
	ASYNC_AWAIT(p, cx, async_join, &p->join);
	p->woken_by = cx->task->waker_id;
	assert_int_equal(cx->task->abi.wait_kind, ASYNC_WAIT_NONE);
	async_join_drop(&p->join);
	ASYNC_RETURN(p);
}

static void test_waker_ids_and_join_wait(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct waker_parent p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(async_block_on(exec, "parent", ASYNC_POLL_FN(waker_parent_poll), &p), 0);
	/* a yield is a wake by the task itself; a join is woken by the task that finished */
	assert_int_equal(p.yield_woken_by, p.my_id);
	assert_int_not_equal(p.woken_by, 0);
	assert_int_not_equal(p.woken_by, p.my_id);
	/* while joining, the parent's record named the child's task */
	assert_int_equal(p.child.parent_wait_kind, ASYNC_WAIT_JOIN);
	assert_int_equal(p.child.parent_wait_holder, p.woken_by);
	assert_int_not_equal(p.child.parent_wait_obj, 0);
	assert_int_not_equal(p.child.parent_wait_desc, 0);
	const struct async_desc *d = (const void *)(uintptr_t)p.child.parent_wait_desc;

	assert_int_equal(d->kind, ASYNC_DESC_AWAIT);
	assert_string_equal(d->callee, "async_join");
	assert_string_equal(d->function, "waker_parent_poll");
	async_exec_free(exec);
}

/* ---- a task on one executor wakes a task on another (a single-threaded loop asleep) ----- */

struct cross_waiter {
	struct async_frame frame;
	struct async_waker *_Atomic slot;
	struct async_waker w;
	int polls;
	int run_rc;
};

static enum async_poll cross_waiter_poll(struct cross_waiter *c, struct async_cx *cx)
{
	if (++c->polls == 1) {
		c->run_rc = async_exec_run(async_cx_exec(cx)); /* not from inside a task */
		c->w = async_waker_clone(cx);
		atomic_store(&c->slot, &c->w);
		return ASYNC_PENDING;
	}
	return ASYNC_READY;
}

struct cross_waker {
	struct async_frame frame;
	struct cross_waiter *target;
	struct async_sleep sleep;
};

static enum async_poll cross_waker_poll(struct cross_waker *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	while (!atomic_load(&c->target->slot)) {
		async_sleep_init(&c->sleep, 2 * ASYNC_MSEC);
		ASYNC_AWAIT(c, cx, async_sleep, &c->sleep);
	}
	/* give the other loop time to fall asleep in epoll_wait */
	async_sleep_init(&c->sleep, 10 * ASYNC_MSEC);
	ASYNC_AWAIT(c, cx, async_sleep, &c->sleep);
	async_waker_wake(atomic_load(&c->target->slot));
	ASYNC_RETURN(c);
}

static void test_cross_exec_wake(void **state)
{
	struct async_exec *a = mode_exec(state);
	struct async_exec_opts o = { .single_threaded = true };
	struct async_exec *b;
	struct cross_waiter waiter = { 0 };
	struct cross_waker waker = { .target = &waiter };

	assert_int_equal(async_exec_new(&o, &b), 0);
	assert_int_equal(
	    async_spawn(b, "waiter", ASYNC_POLL_FN(cross_waiter_poll), &waiter, NULL, NULL), 0);
	if (((const struct exec_mode *)*state)->single) {
		/* both loops need a thread: run `a` on a helper thread through block_on below */
		pthread_t th;

		assert_int_equal(
		    async_spawn(a, "waker", ASYNC_POLL_FN(cross_waker_poll), &waker, NULL, NULL),
		    0);
		assert_int_equal(pthread_create(&th, NULL, run_exec_thread, a), 0);
		assert_int_equal(async_exec_run(b), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
	} else {
		assert_int_equal(
		    async_spawn(a, "waker", ASYNC_POLL_FN(cross_waker_poll), &waker, NULL, NULL),
		    0);
		assert_int_equal(async_exec_run(b), 0);
		assert_int_equal(async_exec_run(a), 0);
	}
	assert_int_equal(waiter.polls, 2);
	assert_int_equal(waiter.run_rc, ASYNC_EBUSY);
	async_exec_free(b);
	async_exec_free(a);
}

/* Edge cases of wakers and handles, inside a task. */
struct edges {
	struct async_frame frame;
	struct async_join empty;
	bool will_wake_other, will_wake_empty, dup_empty;
	int empty_result;
	enum async_poll empty_poll;
};

static enum async_poll edges_poll(struct edges *e, struct async_cx *cx)
{
	struct async_waker none = { 0 };
	struct async_waker d = async_waker_dup(&none);

	e->dup_empty = d.task == NULL;
	e->will_wake_empty = async_waker_will_wake(&none, cx);
	e->will_wake_other = async_waker_will_wake(NULL, cx);
	async_waker_wake_by_ref(&none);
	async_waker_drop(&none);
	memset(&e->empty, 0, sizeof(e->empty));
	e->empty_poll = async_join_poll(&e->empty, cx);
	e->empty_result = e->empty.result;
	async_join_drop(&e->empty);
	return ASYNC_READY;
}

static void test_edges(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct edges e = { 0 };

	assert_int_equal(async_block_on(exec, "edges", ASYNC_POLL_FN(edges_poll), &e), 0);
	assert_true(e.dup_empty);
	assert_false(e.will_wake_empty);
	assert_false(e.will_wake_other);
	assert_int_equal(e.empty_poll, ASYNC_READY);
	assert_int_equal(e.empty_result, ASYNC_EINVAL);
	assert_int_equal(async_spawn_cx(NULL, "x", ASYNC_POLL_FN(edges_poll), &e, NULL, &e.empty),
			 ASYNC_EINVAL);
	assert_null(e.empty.task);
	async_exec_free(exec);
}

/* A drop that runs during async_exec_free and tries to spawn: refused. */
struct respawner {
	struct async_frame frame;
	struct async_exec *exec;
	struct child c;
	int rc;
};

static enum async_poll respawner_poll(struct respawner *r, struct async_cx *cx)
{
	(void)r;
	(void)cx;
	return ASYNC_PENDING; /* no waker kept: only the executor's shutdown ends it */
}

static void respawner_drop(struct respawner *r)
{
	r->rc = async_spawn(r->exec, "late", ASYNC_POLL_FN(child_poll), &r->c, NULL, NULL);
}

static void test_spawn_during_free(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct respawner r = { .exec = exec, .rc = 1 };

	assert_int_equal(async_spawn(exec, "r", ASYNC_POLL_FN(respawner_poll), &r,
				     ASYNC_DROP_FN(respawner_drop), NULL),
			 0);
	async_exec_free(exec);
	assert_int_equal(r.rc, ASYNC_ESHUTDOWN);
	assert_int_equal(atomic_load(&r.c.polls), 0);
}

/* ---- the live-waker count in task records (abi.h `wakers`) ----------------------------- */

static _Atomic int census_polled[3]; /* lost, napper, handed: polled at least once */

/* Returns pending once without keeping a waker: nothing can ever wake it. */
static enum async_poll lost_poll(struct async_frame *f, struct async_cx *cx)
{
	(void)cx;
	atomic_store(&census_polled[0], 1);
	return f->resume++ ? ASYNC_READY : ASYNC_PENDING;
}

struct napper {
	struct async_frame frame;
	struct async_sleep sleep;
};

static enum async_poll napper_poll(struct napper *n, struct async_cx *cx)
{
	atomic_store(&census_polled[1], 1);
	ASYNC_BEGIN(n);
	async_sleep_init(&n->sleep, 60 * ASYNC_SEC); /* aborted by the census */
	ASYNC_AWAIT(n, cx, async_sleep, &n->sleep);
	ASYNC_RETURN(n);
}

static void napper_drop(struct napper *n)
{
	async_sleep_drop(&n->sleep);
}

/* Hands a waker to a plain thread, which wakes it once the census has counted. */
struct handed {
	struct async_frame frame;
	struct async_waker waker;
	pthread_t thread;
	_Atomic bool release;
	bool woken;
};

static void *wake_later(void *arg)
{
	struct handed *h = arg;

	while (!atomic_load(&h->release))
		usleep(1000);
	async_waker_wake(&h->waker);
	return NULL;
}

static enum async_poll handed_poll(struct handed *h, struct async_cx *cx)
{
	atomic_store(&census_polled[2], 1);
	if (h->frame.resume++ == 0) {
		h->waker = async_waker_clone(cx);
		assert_int_equal(pthread_create(&h->thread, NULL, wake_later, h), 0);
		return ASYNC_PENDING;
	}
	h->woken = true;
	return ASYNC_READY;
}

struct waker_census {
	struct async_frame frame;
	struct async_join *lost, *napper, *handed;
	struct handed *h;
	struct async_sleep sleep;
	uint32_t lost_state, lost_wakers, napper_wakers, handed_wakers;
};

static uint32_t wakers_of(const struct async_join *j)
{
	return __atomic_load_n(&j->task->abi.wakers, __ATOMIC_ACQUIRE);
}

/* Polled (by its own flag: the record's poll count is for other processes) and back to
 * idle: its count is what the task left behind. */
static bool settled(const struct async_join *j, int which)
{
	return atomic_load(&census_polled[which]) &&
	       __atomic_load_n(&j->task->abi.state, __ATOMIC_ACQUIRE) == ASYNC_TASK_IDLE;
}

static enum async_poll census_poll(struct waker_census *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	while (!settled(c->lost, 0) || !settled(c->napper, 1) || !settled(c->handed, 2)) {
		async_sleep_init(&c->sleep, 1 * ASYNC_MSEC);
		ASYNC_AWAIT(c, cx, async_sleep, &c->sleep);
	}
	c->lost_state = __atomic_load_n(&c->lost->task->abi.state, __ATOMIC_ACQUIRE);
	c->lost_wakers = wakers_of(c->lost);
	c->napper_wakers = wakers_of(c->napper);
	c->handed_wakers = wakers_of(c->handed);
	atomic_store(&c->h->release, true);
	assert_int_equal(async_join_abort(c->lost), 0);
	assert_int_equal(async_join_abort(c->napper), 0);
	ASYNC_AWAIT(c, cx, async_join, c->napper);
	ASYNC_AWAIT(c, cx, async_join, c->handed);
	ASYNC_RETURN(c);
}

static void test_live_waker_count(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct async_frame lost = { 0 };
	struct napper n = { 0 };
	struct handed h = { 0 };
	struct async_join jl, jn, jh;
	struct waker_census c = { .lost = &jl, .napper = &jn, .handed = &jh, .h = &h };

	for (int i = 0; i < 3; i++)
		atomic_store(&census_polled[i], 0);

	assert_int_equal(async_spawn(exec, "lost", ASYNC_POLL_FN(lost_poll), &lost, NULL, &jl), 0);
	assert_int_equal(async_spawn(exec, "napper", ASYNC_POLL_FN(napper_poll), &n,
				     ASYNC_DROP_FN(napper_drop), &jn),
			 0);
	assert_int_equal(async_spawn(exec, "handed", ASYNC_POLL_FN(handed_poll), &h, NULL, &jh), 0);
	assert_int_equal(async_block_on(exec, "census", ASYNC_POLL_FN(census_poll), &c), 0);
	pthread_join(h.thread, NULL);
	assert_int_equal(c.lost_state, ASYNC_TASK_IDLE);
	assert_int_equal(c.lost_wakers, 0);   /* certainly lost */
	assert_int_equal(c.napper_wakers, 1); /* the timer's */
	assert_int_equal(c.handed_wakers, 1); /* the plain thread's: alive, not lost */
	assert_true(h.woken);
	/* the wake gave its count back; the aborted napper's timer keeps its waker until
	 * the future's drop, which runs when the JoinHandle goes (below) */
	assert_int_equal(wakers_of(&jh), 0);
	assert_int_equal(wakers_of(&jn), 1);
	assert_int_equal(jl.task->result, ASYNC_ECANCELED);
	assert_int_equal(jn.task->result, ASYNC_ECANCELED);
	async_join_drop(&jl);
	async_join_drop(&jn);
	assert_null(n.sleep.timer);
	async_join_drop(&jh);
	async_exec_free(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_spawn_join),
		BOTH_MODES(test_ids_outside),
		BOTH_MODES(test_detached_drop),
		cmocka_unit_test_prestate(test_abort_before_poll, (void *)&MODE_SINGLE),
		BOTH_MODES(test_abort_pending),
		BOTH_MODES(test_abort_after_completion),
		BOTH_MODES(test_abort_while_running),
		BOTH_MODES(test_wake_while_running),
		BOTH_MODES(test_yield),
		BOTH_MODES(test_pingpong),
		BOTH_MODES(test_stop),
		BOTH_MODES(test_stop_before_run),
		BOTH_MODES(test_free_aborts),
		BOTH_MODES(test_errors),
		cmocka_unit_test(test_exec_data),
		BOTH_MODES(test_million),
		BOTH_MODES(test_abort_races),
		BOTH_MODES(test_waker_ids_and_join_wait),
		BOTH_MODES(test_cross_exec_wake),
		BOTH_MODES(test_edges),
		BOTH_MODES(test_spawn_during_free),
		BOTH_MODES(test_live_waker_count),
	};

	return RUN_AT_UPTIMES(tests);
}
