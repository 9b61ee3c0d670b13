/* SPDX-License-Identifier: MIT */
/* join_all and select: several futures inside one task. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec_modes.h"
#include "countdown.h"

/* ---- join_all -------------------------------------------------------------------------- */

struct joiner {
	struct async_frame frame;
	struct countdown cd[3];
	struct async_branch br[3];
	struct async_join_all all;
	struct async_join_all none;
	int polls_of_joiner;
	uint64_t chain_fn_ok; /* the join_all's frame pointed at a pending branch */
};

static enum async_poll joiner_poll(struct joiner *j, struct async_cx *cx)
{
	ASYNC_BEGIN(j);
	for (int i = 0; i < 3; i++) {
		j->br[i] = (struct async_branch){ ASYNC_POLL_FN(countdown_poll), &j->cd[i] };
		j->cd[i] = (struct countdown){ .left = i == 0 ? 0 : i == 1 ? 3 : 7 };
	}
	async_join_all_init(&j->all, j->br, 3);
	async_join_all_init(&j->none, NULL, 0);
	ASYNC_AWAIT(j, cx, async_join_all, &j->none); /* nothing to wait for: ready at once */
	ASYNC_AWAIT(j, cx, async_join_all, &j->all);
	ASYNC_RETURN(j);
}

static enum async_poll joiner_counting_poll(struct joiner *j, struct async_cx *cx)
{
	enum async_poll r;

	j->polls_of_joiner++;
	r = joiner_poll(j, cx);
	if (r == ASYNC_PENDING && j->all.frame.child == &j->cd[2].frame)
		j->chain_fn_ok++;
	return r;
}

static void test_join_all(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct joiner j = { 0 };

	assert_int_equal(
	    async_spawn(e, "joiner", ASYNC_POLL_FN(joiner_counting_poll), &j, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	/* Each branch is polled until it is ready and never again. */
	assert_int_equal(j.cd[0].polls, 1);
	assert_int_equal(j.cd[1].polls, 4);
	assert_int_equal(j.cd[2].polls, 8);
	assert_true(j.all.branches[0].done && j.all.branches[1].done && j.all.branches[2].done);
	assert_int_equal(j.all.remaining, 0);
	/* The longest branch decides how often the task is polled. */
	assert_int_equal(j.polls_of_joiner, 8);
	/* Once only branch 2 was left, the chain went through it. */
	assert_int_equal(j.chain_fn_ok, 4);
	async_exec_free(e);
}

/* ---- select ---------------------------------------------------------------------------- */

struct selector {
	struct async_frame frame;
	struct countdown cd[3];
	struct async_branch br[3];
	struct async_select sel;
	struct async_select empty;
	/* a channel receive raced against a timer */
	struct async_chan *ch;
	int item;
	struct async_recv recv;
	struct async_sleep sleep;
	struct async_branch br2[2];
	struct async_select sel2;
	size_t winner_timeout;
	size_t winner_item;
	int item_got;
	uint64_t t0, elapsed;
};

static enum async_poll selector_poll(struct selector *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	async_select_init(&s->empty, NULL, 0);
	ASYNC_AWAIT(s, cx, async_select, &s->empty);

	s->cd[0] = (struct countdown){ .left = 5 };
	s->cd[1] = (struct countdown){ .left = 2 };
	s->cd[2] = (struct countdown){ .left = 2 };
	for (int i = 0; i < 3; i++)
		s->br[i] = (struct async_branch){ ASYNC_POLL_FN(countdown_poll), &s->cd[i] };
	async_select_init(&s->sel, s->br, 3);
	ASYNC_AWAIT(s, cx, async_select, &s->sel);

	/* Nothing sent: the timer wins; the receive is dropped, the channel is intact. */
	async_recv_init(&s->recv, s->ch, &s->item);
	async_sleep_init(&s->sleep, 20 * ASYNC_MSEC);
	s->br2[0] = (struct async_branch){ ASYNC_POLL_FN(async_recv_poll), &s->recv };
	s->br2[1] = (struct async_branch){ ASYNC_POLL_FN(async_sleep_poll), &s->sleep };
	async_select_init(&s->sel2, s->br2, 2);
	s->t0 = async_now_ns();
	ASYNC_AWAIT(s, cx, async_select, &s->sel2);
	s->elapsed = async_now_ns() - s->t0;
	s->winner_timeout = s->sel2.winner;
	async_recv_drop(&s->recv);
	async_sleep_drop(&s->sleep);

	/* An item is there: the receive wins. */
	s->item = 42;
	async_chan_try_send(s->ch, &s->item);
	s->item = 0;
	async_recv_init(&s->recv, s->ch, &s->item);
	async_sleep_init(&s->sleep, 10 * ASYNC_SEC);
	async_select_init(&s->sel2, s->br2, 2);
	ASYNC_AWAIT(s, cx, async_select, &s->sel2);
	s->winner_item = s->sel2.winner;
	s->item_got = s->item;
	async_recv_drop(&s->recv);
	async_sleep_drop(&s->sleep);
	ASYNC_RETURN(s);
}

static void test_select(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct selector s = { 0 };

	assert_int_equal(async_chan_new(1, sizeof(int), &s.ch), 0);
	assert_int_equal(async_spawn(e, "selector", ASYNC_POLL_FN(selector_poll), &s, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(s.empty.winner, SIZE_MAX);
	/* Ties go to the lower index; the losers are not polled after the win. */
	assert_int_equal(s.sel.winner, 1);
	assert_int_equal(s.cd[0].polls, 3);
	assert_int_equal(s.cd[1].polls, 3);
	assert_int_equal(s.cd[2].polls, 2);
	assert_true(s.br[1].done);
	assert_false(s.br[0].done);
	assert_int_equal(s.winner_timeout, 1);
	assert_true(s.elapsed >= 20 * ASYNC_MSEC);
	assert_int_equal(s.winner_item, 0);
	assert_int_equal(s.item_got, 42);
	async_chan_sender_drop(s.ch);
	async_chan_receiver_drop(s.ch);
	async_exec_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_join_all),
		BOTH_MODES(test_select),
	};

	alarm(120);
	return RUN_AT_UPTIMES(tests);
}
