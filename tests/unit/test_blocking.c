/* SPDX-License-Identifier: MIT */
/* spawn_blocking: jobs run on the blocking pool, off the workers, while tasks go on. */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "exec_modes.h"

/* The mode's executor with a blocking pool of `blocking` threads (0: the default, 4). */
static struct async_exec *pool_exec(void **state, unsigned blocking)
{
	const struct exec_mode *m = *state;
	struct async_exec_opts o = {
		.workers = m->workers,
		.single_threaded = m->single,
		.blocking_threads = blocking,
	};
	struct async_exec *e = NULL;

	assert_int_equal(async_exec_new(&o, &e), 0);
	assert_non_null(e);
	return e;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- off the worker, while the other tasks keep running ------------------------------- */

struct flag_job {
	int flag;   /* set by another task */
	pid_t tid;  /* thread the job ran on */
	int waited; /* ms until the flag was seen; -1 on timeout */
};

static int wait_for_flag(void *arg)
{
	struct flag_job *j = arg;

	__atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
	for (int ms = 0; ms < 10000; ms++) {
		if (__atomic_load_n(&j->flag, __ATOMIC_ACQUIRE)) {
			j->waited = ms;
			return 7;
		}
		sleep_ms(1);
	}
	j->waited = -1;
	return -1;
}

struct blocker {
	struct async_frame frame;
	struct flag_job job;
	pid_t task_tid;
	struct async_blocking b;
	int result;
	int again;
	int pool_thread_registered; /* the job's thread is in the registry as BLOCKING */
};

/* The registry the runtime exports for tracers (abi.h). */
extern struct async_registry_abi async_registry;

static int registered_blocking_thread(pid_t tid)
{
	const struct async_thread_abi *t =
	    (const void *)(uintptr_t)__atomic_load_n(&async_registry.threads, __ATOMIC_ACQUIRE);

	for (; t; t = (const void *)(uintptr_t)t->next)
		if (t->magic == ASYNC_THREAD_MAGIC && t->tid == (uint32_t)tid &&
		    t->kind == ASYNC_THREAD_BLOCKING)
			return 1;
	return 0;
}

static enum async_poll blocker_poll(struct blocker *t, struct async_cx *cx)
{
	ASYNC_BEGIN(t);
	t->task_tid = gettid();
	async_blocking_init(&t->b, wait_for_flag, &t->job);
	ASYNC_AWAIT(t, cx, async_blocking, &t->b);
	t->result = t->b.result;
	t->pool_thread_registered = registered_blocking_thread(t->job.tid);
	t->again = async_blocking_poll(&t->b, cx); /* stays ready */
	async_blocking_drop(&t->b);
	ASYNC_RETURN(t);
}

struct flagger {
	struct async_frame frame;
	struct flag_job *job;
	const struct async_task_abi *blocker;
	uint32_t blocker_wait_kind;
	int i;
};

static enum async_poll flagger_poll(struct flagger *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	/* Once the job runs, 100 polls while the job blocks its pool thread. */
	while (!__atomic_load_n(&f->job->tid, __ATOMIC_ACQUIRE))
		ASYNC_YIELD(f, cx);
	for (f->i = 0; f->i < 100; f->i++)
		ASYNC_YIELD(f, cx);
	f->blocker_wait_kind = __atomic_load_n(&f->blocker->wait_kind, __ATOMIC_ACQUIRE);
	__atomic_store_n(&f->job->flag, 1, __ATOMIC_RELEASE);
	ASYNC_RETURN(f);
}

static void test_off_worker(void **state)
{
	struct async_exec *e = pool_exec(state, 0);
	struct blocker b = { 0 };
	struct flagger f = { .job = &b.job };
	struct async_join bj = { 0 };

	assert_int_equal(async_spawn(e, "blocker", ASYNC_POLL_FN(blocker_poll), &b, NULL, &bj), 0);
	f.blocker = (const void *)bj.task;
	assert_int_equal(async_spawn(e, "flagger", ASYNC_POLL_FN(flagger_poll), &f, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(f.i, 100);
	assert_true(b.job.waited >= 0);
	assert_int_equal(b.result, 7);
	assert_int_equal(b.again, ASYNC_READY);
	assert_true(b.job.tid != 0);
	assert_true(b.job.tid != b.task_tid);
	assert_true(b.job.tid != getpid());
	assert_int_equal(b.pool_thread_registered, 1);
	assert_int_equal(f.blocker_wait_kind, ASYNC_WAIT_BLOCKING);
	async_join_drop(&bj);
	async_exec_free(e);
}

/* ---- many jobs: exact results, all pool threads used, the pool size respected --------- */

#define JOBS 200
#define POOL 3

static int running_now, running_max;

static int square(void *arg)
{
	int v = (int)(intptr_t)arg;
	int now = __atomic_add_fetch(&running_now, 1, __ATOMIC_SEQ_CST);
	int max = __atomic_load_n(&running_max, __ATOMIC_SEQ_CST);

	while (now > max && !__atomic_compare_exchange_n(&running_max, &max, now, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	sleep_ms(1);
	__atomic_sub_fetch(&running_now, 1, __ATOMIC_SEQ_CST);
	return v * v;
}

struct squarer {
	struct async_frame frame;
	int v;
	long *sum;
	struct async_blocking b;
};

static enum async_poll squarer_poll(struct squarer *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	async_blocking_init(&s->b, square, (void *)(intptr_t)s->v);
	ASYNC_AWAIT(s, cx, async_blocking, &s->b);
	__atomic_fetch_add(s->sum, s->b.result, __ATOMIC_SEQ_CST);
	ASYNC_RETURN(s);
}

static void test_many_jobs(void **state)
{
	struct async_exec *e = pool_exec(state, POOL);
	struct squarer *s = calloc(JOBS, sizeof(*s));
	long sum = 0, want = 0;

	assert_non_null(s);
	running_now = running_max = 0;
	for (int i = 0; i < JOBS; i++) {
		s[i].v = i;
		s[i].sum = &sum;
		want += (long)i * i;
		assert_int_equal(
		    async_spawn(e, "squarer", ASYNC_POLL_FN(squarer_poll), &s[i], NULL, NULL), 0);
	}
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(sum, want);
	assert_true(running_max >= 2);	  /* jobs ran in parallel... */
	assert_true(running_max <= POOL); /* ...on at most POOL threads */
	async_exec_free(e);
	free(s);
}

/* ---- drops: detached while running, and jobs still running at executor free ----------- */

static int slow(void *arg)
{
	int *ran = arg;

	sleep_ms(30);
	__atomic_fetch_add(ran, 1, __ATOMIC_SEQ_CST);
	return 1;
}

struct quitter {
	struct async_frame frame;
	int *ran;
	struct async_blocking b;
	int seen_pending;
};

static enum async_poll quitter_poll(struct quitter *q, struct async_cx *cx)
{
	ASYNC_TRACE(q->frame);
	if (!q->seen_pending) {
		async_blocking_init(&q->b, slow, q->ran);
		if (async_blocking_poll(&q->b, cx) == ASYNC_PENDING)
			q->seen_pending = 1;
		async_cx_wake_self(cx);
		return ASYNC_PENDING;
	}
	/* Give up on the job while it still runs: its result is dropped. */
	async_blocking_drop(&q->b);
	async_blocking_drop(&q->b); /* twice is fine */
	async_blocking_drop(NULL);
	return ASYNC_READY;
}

static void test_detach(void **state)
{
	/* One pool thread: when the tasks are done, jobs are still queued behind it. */
	struct async_exec *e = pool_exec(state, 1);
	struct quitter q[4] = { 0 };
	int ran = 0;

	for (int i = 0; i < 4; i++) {
		q[i].ran = &ran;
		assert_int_equal(
		    async_spawn(e, "quitter", ASYNC_POLL_FN(quitter_poll), &q[i], NULL, NULL), 0);
	}
	assert_int_equal(async_exec_run(e), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(q[i].seen_pending, 1);
	/* Freeing the executor runs the queued detached jobs (ASan: nothing leaks). */
	async_exec_free(e);
	assert_int_equal(ran, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_off_worker),
		BOTH_MODES(test_many_jobs),
		BOTH_MODES(test_detach),
	};

	alarm(120);
	return RUN_AT_UPTIMES(tests);
}
