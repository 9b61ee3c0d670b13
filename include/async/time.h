/* SPDX-License-Identifier: MIT */
/* Timers: sleep, deadline and a timeout wrapper. Times are CLOCK_MONOTONIC ns. */
#ifndef ASYNC_TIME_H
#define ASYNC_TIME_H

#include <stdint.h>

#include "future.h"

#define ASYNC_USEC 1000ull
#define ASYNC_MSEC 1000000ull
#define ASYNC_SEC  1000000000ull

struct async__timer;

uint64_t async_now_ns(void);

/* A future that completes at `deadline_ns`; its task is not polled before then. */
struct async_sleep {
	struct async_frame frame;
	uint64_t deadline_ns;
	uint64_t duration_ns; /* 0 for absolute deadlines */
	struct async__timer *timer;
};

/* Sleep for `ns` counted from the first poll. */
void async_sleep_init(struct async_sleep *s, uint64_t ns);
/* Complete at the absolute time `deadline_ns`. */
void async_deadline_init(struct async_sleep *s, uint64_t deadline_ns);
enum async_poll async_sleep_poll(struct async_sleep *s, struct async_cx *cx);
/* Cancels a pending timer. Safe in any state, and more than once. Accepts NULL. */
void async_sleep_drop(struct async_sleep *s);

/*
 * Runs `inner` until it completes or `ns` pass (counted from the first poll).
 * `result` is 0 when inner completed, ASYNC_ETIMEDOUT otherwise; on timeout the inner
 * future is left as it was: the owner drops it.
 */
struct async_timeout {
	struct async_frame frame;
	async_poll_fn inner_poll;
	void *inner;
	struct async_sleep sleep;
	int result;
};

void async_timeout_init(struct async_timeout *t, uint64_t ns, async_poll_fn inner_poll,
			void *inner);
enum async_poll async_timeout_poll(struct async_timeout *t, struct async_cx *cx);
void async_timeout_drop(struct async_timeout *t);

#endif /* ASYNC_TIME_H */
