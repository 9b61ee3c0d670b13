/* SPDX-License-Identifier: MIT */
/* Running several futures inside one task: join-all and select; spawn_blocking. */
#ifndef ASYNC_COMBINATORS_H
#define ASYNC_COMBINATORS_H

#include <stdbool.h>
#include <stddef.h>

#include "exec.h"

/*
 * One future run by a combinator: its poll function and the future (which starts
 * with its struct async_frame, like every libasync future). `done` is set by the
 * combinator once the branch is ready. The branches and their futures live in the
 * awaiting future's struct.
 */
struct async_branch {
	async_poll_fn poll;
	void *future;
	bool done;
};

/*
 * Completes when every branch has; polls only branches not yet done (in index order,
 * all on each poll of the task). With n == 0 it is ready at once. frame.child points
 * at the first branch still pending, so tracers see a chain through it.
 */
struct async_join_all {
	struct async_frame frame;
	struct async_branch *branches;
	size_t n;
	size_t remaining;
};
/* Resets every branch's `done`; `branches` must outlive the join. */
void async_join_all_init(struct async_join_all *j, struct async_branch *branches, size_t n);
enum async_poll async_join_all_poll(struct async_join_all *j, struct async_cx *cx);

/*
 * Completes when the first branch does; `winner` is its index. Others are not polled again.
 * Branches are polled in index order, so when several are ready the lowest index wins.
 * The losers are left as they are: the owner drops them (async_lock_drop, ...). With
 * n == 0 it is ready at once with winner SIZE_MAX (SIZE_MAX until a branch wins).
 */
struct async_select {
	struct async_frame frame;
	struct async_branch *branches;
	size_t n;
	size_t winner;
};
/* Resets every branch's `done`; `branches` must outlive the select. */
void async_select_init(struct async_select *s, struct async_branch *branches, size_t n);
enum async_poll async_select_poll(struct async_select *s, struct async_cx *cx);

/*
 * Runs fn(arg) on the executor's blocking thread pool and completes when it returns,
 * with `result` set to what fn returned. For CPU-bound or blocking work. The pool
 * (async_exec_opts.blocking_threads threads, default 4, started on first use) runs
 * jobs in submission order; the task's record says ASYNC_WAIT_BLOCKING meanwhile and
 * its worker runs other tasks. `result` is ASYNC_ESHUTDOWN when the executor is being
 * freed, ASYNC_ENOMEM without memory, ASYNC_EINVAL without fn.
 */
struct async_blocking {
	struct async_frame frame;
	int (*fn)(void *arg);
	void *arg;
	int result;
	void *job; /* private */
};
/* Prepares the job; fn and arg must stay valid until it has run. */
void async_blocking_init(struct async_blocking *b, int (*fn)(void *arg), void *arg);
enum async_poll async_blocking_poll(struct async_blocking *b, struct async_cx *cx);
/*
 * Detaches from a job still running (it finishes on the pool, its result is lost;
 * async_exec_free waits for it). Accepts NULL; safe in any state and more than once.
 */
void async_blocking_drop(struct async_blocking *b);

#endif /* ASYNC_COMBINATORS_H */
