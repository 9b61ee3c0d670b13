/* SPDX-License-Identifier: MIT */
/*
 * join_all and select: several futures polled inside one task, like Rust's join! and
 * select!. Every branch future starts with its struct async_frame (the convention of
 * all libasync futures), so the combinator's frame.child points at the first branch
 * still pending and tracers see a chain through it.
 */
#include <stdint.h>

#include "internal.h"

void async_join_all_init(struct async_join_all *j, struct async_branch *branches, size_t n)
{
	j->frame = (struct async_frame){ 0 };
	j->branches = branches;
	j->n = n;
	j->remaining = n;
	for (size_t i = 0; i < n; i++)
		branches[i].done = false;
}

enum async_poll async_join_all_poll(struct async_join_all *j, struct async_cx *cx)
{
	struct async_frame *first = NULL;

	ASYNC_TRACE(j->frame);
	for (size_t i = 0; i < j->n && j->remaining; i++) {
		struct async_branch *b = &j->branches[i];

		if (b->done)
			continue;
		if (b->poll(b->future, cx) == ASYNC_READY) {
			b->done = true;
			j->remaining--;
		} else if (!first) {
			first = b->future;
		}
	}
	j->frame.child = first;
	return j->remaining ? ASYNC_PENDING : ASYNC_READY;
}

void async_select_init(struct async_select *s, struct async_branch *branches, size_t n)
{
	s->frame = (struct async_frame){ 0 };
	s->branches = branches;
	s->n = n;
	s->winner = SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		branches[i].done = false;
}

enum async_poll async_select_poll(struct async_select *s, struct async_cx *cx)
{
	ASYNC_TRACE(s->frame);
	if (s->winner != SIZE_MAX || !s->n)
		return ASYNC_READY;
	for (size_t i = 0; i < s->n; i++) {
		struct async_branch *b = &s->branches[i];

		if (b->poll(b->future, cx) == ASYNC_READY) {
			b->done = true;
			s->winner = i;
			s->frame.child = NULL;
			return ASYNC_READY;
		}
	}
	s->frame.child = s->branches[0].future;
	return ASYNC_PENDING;
}
