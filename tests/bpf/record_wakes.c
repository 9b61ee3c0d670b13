/* SPDX-License-Identifier: MIT */
/*
 * record_wakes: two tasks hand a turn back and forth through wakers, --rounds times, on
 * one thread: every poll after the first is caused by a wake from the other task, so a
 * recording of it has task-to-task wake arrows (test_record.sh checks the timeline).
 *
 *   record_wakes [--rounds N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <async/async.h>

static struct {
	int turn, done;
	unsigned left;
	int registered[2];
	struct async_waker waker[2];
} g;

struct side {
	struct async_frame frame;
	int me;
};

static enum async_poll side_poll(struct side *s, struct async_cx *cx)
{
	int other = !s->me;

	ASYNC_TRACE(s->frame);
	if (!g.registered[s->me]) {
		g.waker[s->me] = async_waker_clone(cx);
		g.registered[s->me] = 1;
	}
	if (g.done) {
		async_waker_drop(&g.waker[s->me]);
		return ASYNC_READY;
	}
	if (g.turn != s->me)
		return ASYNC_PENDING;
	g.turn = other;
	if (s->me == 0 && g.left-- == 0)
		g.done = 1;
	if (g.registered[other])
		async_waker_wake_by_ref(&g.waker[other]);
	if (g.done) {
		async_waker_drop(&g.waker[s->me]);
		return ASYNC_READY;
	}
	return ASYNC_PENDING;
}

int main(int argc, char **argv)
{
	struct async_exec_opts eo = { .workers = 1, .single_threaded = true };
	struct side sides[2] = { { .me = 0 }, { .me = 1 } };
	struct async_exec *exec;
	unsigned rounds = 100;
	int err;

	if (argc == 3 && !strcmp(argv[1], "--rounds"))
		rounds = (unsigned)atoi(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: record_wakes [--rounds N]\n");
		return 2;
	}
	g.left = rounds;
	err = async_exec_new(&eo, &exec);
	if (!err)
		err = async_spawn(exec, "ping", ASYNC_POLL_FN(side_poll), &sides[0], NULL, NULL);
	if (!err)
		err = async_spawn(exec, "pong", ASYNC_POLL_FN(side_poll), &sides[1], NULL, NULL);
	if (!err)
		err = async_exec_run(exec);
	async_exec_free(exec);
	if (err) {
		fprintf(stderr, "record_wakes: %d\n", err);
		return 1;
	}
	printf("played %u rounds\n", rounds);
	return 0;
}
