/* SPDX-License-Identifier: MIT */
/*
 * The blocking pool: threads that run jobs (CPU-bound or blocking work) off the
 * executor's workers, and the async_blocking future that waits for one.
 *
 * A job is shared by the pool and the future that submitted it (refs = 2). Its `done`
 * word decides who owns the waker: the pool moves it from 0 (running) to 1 (done) and
 * wakes the task; a future dropped before that moves it from 0 to 2 (detached) and the
 * pool then drops the waker unwoken. Threads start on the first submit.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

enum { JOB_RUNNING = 0, JOB_DONE = 1, JOB_DETACHED = 2 };

struct async__blocking_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct async__job *head, *tail; /* FIFO of queued jobs */
	unsigned nthreads;
	unsigned started; /* threads running (0 until the first submit) */
	bool stopping;
	pthread_t *threads;
};

struct pool_thread_arg {
	struct async__blocking_pool *pool;
	unsigned index;
};

int async__blocking_pool_new(unsigned threads, struct async__blocking_pool **out)
{
	struct async__blocking_pool *pool;

	if (!out)
		return ASYNC_EINVAL;
	*out = NULL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return ASYNC_ENOMEM;
	pool->nthreads = threads ? threads : 4;
	pool->threads = calloc(pool->nthreads, sizeof(*pool->threads));
	if (!pool->threads) {
		free(pool);
		return ASYNC_ENOMEM;
	}
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	*out = pool;
	return 0;
}

void async__job_put(struct async__job *job)
{
	if (!job)
		return;
	if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL))
		return;
	async_waker_drop(&job->waker);
	free(job);
}

static void run_job(struct async__job *job)
{
	int expected = JOB_RUNNING;

	job->result = job->fn(job->arg);
	if (__atomic_compare_exchange_n(&job->done, &expected, JOB_DONE, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		async_waker_wake(&job->waker);
	else
		async_waker_drop(&job->waker); /* detached: nobody waits */
	job->waker.task = NULL;
	async__job_put(job);
}

static void *pool_thread(void *p)
{
	struct pool_thread_arg arg = *(struct pool_thread_arg *)p;
	struct async__blocking_pool *pool = arg.pool;
	struct async__thread *rec;

	free(p);
	rec = async__thread_register(ASYNC_THREAD_BLOCKING, arg.index);
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		struct async__job *job = pool->head;

		if (!job) {
			if (pool->stopping)
				break;
			pthread_cond_wait(&pool->cv, &pool->mu);
			continue;
		}
		pool->head = job->next;
		if (!pool->head)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->mu);
		run_job(job);
		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	async__thread_unregister(rec);
	return NULL;
}

/* Starts the threads. Under pool->mu. Returns 0 if at least one runs. */
static int pool_start(struct async__blocking_pool *pool)
{
	while (pool->started < pool->nthreads) {
		struct pool_thread_arg *arg = malloc(sizeof(*arg));
		int err;

		if (!arg)
			break;
		arg->pool = pool;
		arg->index = pool->started;
		err = pthread_create(&pool->threads[pool->started], NULL, pool_thread, arg);
		if (err) {
			free(arg);
			break;
		}
		pool->started++;
	}
	return pool->started ? 0 : ASYNC_EAGAIN;
}

void async__blocking_pool_free(struct async__blocking_pool *pool)
{
	unsigned started;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stopping = true;
	started = pool->started;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	/* The threads run every job still queued before they exit. */
	for (unsigned i = 0; i < started; i++)
		pthread_join(pool->threads[i], NULL);
	/* Only possible if no thread ever started: run what is left here. */
	while (pool->head) {
		struct async__job *job = pool->head;

		pool->head = job->next;
		run_job(job);
	}
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool->threads);
	free(pool);
}

int async__blocking_submit(struct async_exec *exec, struct async__job *job)
{
	struct async__blocking_pool *pool = exec ? async__exec_blocking_pool(exec) : NULL;
	int err = 0;

	if (!pool || !job)
		return ASYNC_EINVAL;
	pthread_mutex_lock(&pool->mu);
	if (pool->stopping)
		err = ASYNC_ESHUTDOWN;
	else if (pool->started < pool->nthreads)
		err = pool_start(pool);
	if (!err) {
		job->next = NULL;
		if (pool->tail)
			pool->tail->next = job;
		else
			pool->head = job;
		pool->tail = job;
		pthread_cond_signal(&pool->cv);
	}
	pthread_mutex_unlock(&pool->mu);
	return err;
}

/* ---- the async_blocking future -------------------------------------------------------- */

void async_blocking_init(struct async_blocking *b, int (*fn)(void *arg), void *arg)
{
	b->frame = (struct async_frame){ 0 };
	b->fn = fn;
	b->arg = arg;
	b->result = 0;
	b->job = NULL;
}

enum async_poll async_blocking_poll(struct async_blocking *b, struct async_cx *cx)
{
	struct async__job *job = b->job;
	int err;

	ASYNC_TRACE(b->frame);
	if (b->frame.resume) /* completed earlier */
		return ASYNC_READY;
	if (job) {
		if (__atomic_load_n(&job->done, __ATOMIC_ACQUIRE) != JOB_DONE)
			return ASYNC_PENDING;
		b->result = job->result;
		b->job = NULL;
		async__job_put(job);
		b->frame.resume = 1;
		async__wait_end(cx, ASYNC_WAIT_BLOCKING, 0, 0);
		return ASYNC_READY;
	}
	if (!b->fn) {
		b->result = ASYNC_EINVAL;
		b->frame.resume = 1;
		return ASYNC_READY;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		b->result = ASYNC_ENOMEM;
		b->frame.resume = 1;
		return ASYNC_READY;
	}
	job->fn = b->fn;
	job->arg = b->arg;
	job->refs = 2; /* the pool's and ours */
	job->waker = async_waker_clone(cx);
	b->job = job;
	/* Before submitting: the job may finish (and wake us) before submit returns. */
	async__wait_begin(cx, ASYNC_WAIT_BLOCKING, 0, 0);
	err = async__blocking_submit(async_cx_exec(cx), job);
	if (err) {
		b->job = NULL;
		async_waker_drop(&job->waker);
		free(job);
		b->result = err;
		b->frame.resume = 1;
		async__wait_end(cx, ASYNC_WAIT_BLOCKING, 0, 0);
		return ASYNC_READY;
	}
	return ASYNC_PENDING;
}

void async_blocking_drop(struct async_blocking *b)
{
	struct async__job *job;
	int expected = JOB_RUNNING;

	if (!b || !b->job)
		return;
	job = b->job;
	b->job = NULL;
	/* Still running: detach, the pool drops the waker. Done: the waker was used. */
	__atomic_compare_exchange_n(&job->done, &expected, JOB_DETACHED, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	async__job_put(job);
}
