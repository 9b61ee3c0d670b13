/* SPDX-License-Identifier: MIT */
/* Running several futures inside one task: join-all and select; spawn_blocking. */
#ifndef ASYNC_COMBINATORS_H
#define ASYNC_COMBINATORS_H

#include <stdbool.h>
#include <stddef.h>

#include "exec.h"

struct async_branch {
	async_poll_fn poll;
	void *future;
	bool done;
};

/* Completes when every branch has; polls only branches not yet done. */
struct async_join_all {
	struct async_frame frame;
	struct async_branch *branches;
	size_t n;
	size_t remaining;
};
void async_join_all_init(struct async_join_all *j, struct async_branch *branches, size_t n);
enum async_poll async_join_all_poll(struct async_join_all *j, struct async_cx *cx);

/* Completes when the first branch does; `winner` is its index. Others are not polled again. */
struct async_select {
	struct async_frame frame;
	struct async_branch *branches;
	size_t n;
	size_t winner;
};
void async_select_init(struct async_select *s, struct async_branch *branches, size_t n);
enum async_poll async_select_poll(struct async_select *s, struct async_cx *cx);

/*
 * Runs fn(arg) on the executor's blocking thread pool and completes when it returns,
 * with `result` set to what fn returned. For CPU-bound or blocking work.
 */
struct async_blocking {
	struct async_frame frame;
	int (*fn)(void *arg);
	void *arg;
	int result;
	void *job; /* private */
};
void async_blocking_init(struct async_blocking *b, int (*fn)(void *arg), void *arg);
enum async_poll async_blocking_poll(struct async_blocking *b, struct async_cx *cx);
/* Detaches from a job still running (it finishes on the pool, its result is lost). */
void async_blocking_drop(struct async_blocking *b);

#endif /* ASYNC_COMBINATORS_H */
