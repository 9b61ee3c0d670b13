/* SPDX-License-Identifier: MIT */
/*
 * What the runtime's parts share and users do not see. exec.c (executor, tasks,
 * wakers, registry), timer.c and reactor.c (the driver) implement these; sync.c,
 * chan.c, net.c, combinators.c and blocking.c build on them.
 */
#ifndef ASYNC_RUNTIME_INTERNAL_H
#define ASYNC_RUNTIME_INTERNAL_H

#include <stdint.h>

#include "async/async.h"

/*
 * Debug builds (-DASYNC_DEBUG; the ASan and TSan test builds): invariants of the task
 * state word and of reference counts, checked where they change. A failure prints the
 * condition and its place and aborts. Release builds compile them away.
 */
#ifdef ASYNC_DEBUG
void async__assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn, cold));
#define ASYNC_ASSERT(cond) \
	(__builtin_expect(!!(cond), 1) ? (void)0 : async__assert_fail(#cond, __FILE__, __LINE__))
#else
#define ASYNC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/* The context handed to every poll function. */
struct async_cx {
	struct async_task *task;
	struct async_exec *exec;
	struct async__worker *worker;
};

/* The executor's cached "now" for the current loop iteration (cheap, a few µs stale). */
uint64_t async__now_cached(struct async_cx *cx);

/*
 * The executor of the calling thread: a worker's, or the single-threaded loop's (also
 * while it drops tasks at shutdown); NULL on any other thread. Implemented in exec.c.
 */
struct async_exec *async__exec_current(void);

/*
 * The current task starts waiting on an object (or stops): records it in the task's
 * struct async_task_abi (wait_kind, wait_obj, wait_holder, wait_desc from the
 * awaiting frame) and fires the `wait` probe. async__wait_end fires `acquire` when
 * `acquired` is nonzero (a mutex taken, a join satisfied, an item received).
 */
void async__wait_begin(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj,
		       uint64_t holder_id);
void async__wait_end(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj, int acquired);
/* Fires `release` (a mutex unlocked by the current task). */
void async__release(struct async_cx *cx, enum async_wait_kind kind, uint64_t obj);

/* Reactor: wake the current task once `fd` is ready for `events` (EPOLLIN/EPOLLOUT). */
int async__reactor_arm(struct async_cx *cx, int fd, uint32_t events);
/* Forget `fd` (before close). */
void async__reactor_forget(struct async_exec *exec, int fd);

/* Timers: wake `waker` at `deadline_ns`. The timer owns the waker until it fires or is cancelled.
 */
int async__timer_add(struct async_exec *exec, uint64_t deadline_ns, struct async_waker waker,
		     struct async__timer **out);
/* Cancels (drops the waker) if not fired yet and releases the caller's reference. */
void async__timer_cancel(struct async__timer *t);
/* 1 once fired. */
int async__timer_fired(const struct async__timer *t);

/*
 * Runtime threads register a record (struct async_thread_abi) in the registry for
 * their lifetime; the record is updated with plain stores around every poll. Fires the
 * thread_start probe. Implemented in exec.c.
 */
struct async__thread *async__thread_register(enum async_thread_kind kind, unsigned index);
void async__thread_unregister(struct async__thread *t);

/*
 * The blocking pool (blocking.c): started by async_exec_new with opts->blocking_threads
 * threads (lazily on first submit is fine), stopped by async_exec_free after the
 * workers. Jobs still queued at stop are run to completion first.
 */
struct async__blocking_pool;
int async__blocking_pool_new(unsigned threads, struct async__blocking_pool **out);
void async__blocking_pool_free(struct async__blocking_pool *pool);
struct async__blocking_pool *async__exec_blocking_pool(struct async_exec *exec);

/* Blocking pool: run job->fn(job->arg) on a pool thread, then wake job->waker. */
struct async__job {
	int (*fn)(void *arg);
	void *arg;
	int result;
	int refs; /* the pool and the future each hold one (atomic) */
	int done; /* atomic */
	struct async_waker waker;
	struct async__job *next;
};
int async__blocking_submit(struct async_exec *exec, struct async__job *job);
void async__job_put(struct async__job *job);

#endif /* ASYNC_RUNTIME_INTERNAL_H */
