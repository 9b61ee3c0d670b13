/* SPDX-License-Identifier: MIT */
/*
 * A test future that is ready after `left` more polls, waking its task on each poll
 * before that: a branch that takes a known number of polls (combinator tests), or a
 * short timeout measured in polls.
 */
#ifndef TEST_COUNTDOWN_H
#define TEST_COUNTDOWN_H

#include "async/async.h"

struct countdown {
	struct async_frame frame;
	int left;
	int polls;
};

static inline enum async_poll countdown_poll(struct countdown *c, struct async_cx *cx)
{
	ASYNC_TRACE(c->frame);
	c->polls++;
	if (c->left <= 0)
		return ASYNC_READY;
	c->left--;
	async_cx_wake_self(cx);
	return ASYNC_PENDING;
}

#endif /* TEST_COUNTDOWN_H */
