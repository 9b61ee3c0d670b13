/* SPDX-License-Identifier: MIT */
/*
 * pingpong: the poll + wake round trip. Two tasks hand a turn back and forth through
 * wakers only (no channel, no lock): each round the task whose turn it is passes the
 * turn and wakes the other, which is polled and does the same. Reports ns per round
 * trip (two wakes, two polls).
 */
#include "bench.h"

struct court {
	uint64_t rounds; /* round trips to play */
	uint64_t played;
	int turn;	   /* atomic: 0 or 1, whose turn it is */
	int stop;	   /* atomic: set by side 0 after the last round */
	int registered[2]; /* atomic: waker[i] is valid */
	struct async_waker waker[2];
};

struct player {
	struct async_frame frame;
	struct court *court;
	int me;
};

static void pass_turn(struct court *c, int to)
{
	__atomic_store_n(&c->turn, to, __ATOMIC_SEQ_CST);
	/* Paired with the register-then-check in player_poll: one side always sees the other. */
	if (__atomic_load_n(&c->registered[to], __ATOMIC_SEQ_CST))
		async_waker_wake_by_ref(&c->waker[to]);
}

/* A hand-written future: ASYNC_TRACE names it for the tracer. */
static enum async_poll player_poll(struct player *p, struct async_cx *cx)
{
	struct court *c = p->court;
	int other = !p->me;

	ASYNC_TRACE(p->frame);
	if (!__atomic_load_n(&c->registered[p->me], __ATOMIC_RELAXED)) {
		c->waker[p->me] = async_waker_clone(cx);
		__atomic_store_n(&c->registered[p->me], 1, __ATOMIC_SEQ_CST);
	}
	while (__atomic_load_n(&c->turn, __ATOMIC_SEQ_CST) == p->me) {
		/*
		 * Each side drops the waker it used to wake the other, once it will never use
		 * it again; no side ever touches its own waker after cloning it.
		 */
		if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
			async_waker_drop(&c->waker[other]);
			return ASYNC_READY;
		}
		if (p->me == 0 && ++c->played > c->rounds) {
			__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
			pass_turn(c, other);
			async_waker_drop(&c->waker[other]);
			return ASYNC_READY;
		}
		pass_turn(c, other);
		return ASYNC_PENDING;
	}
	return ASYNC_PENDING;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .name = "pingpong", .threads = 1, .iters = 1000000 };
	struct court court = { 0 };
	struct player players[2] = { { .court = &court, .me = 0 }, { .court = &court, .me = 1 } };
	struct async_exec *exec;
	uint64_t t0, t1;

	bench_parse(&o, argc, argv,
		    "Two tasks pass a turn back and forth --iters times through wakers;\n"
		    "reports ns per round trip (two wakes and two polls).");
	court.rounds = o.iters;
	exec = bench_exec(&o);
	bench_check(&o, "spawn",
		    async_spawn(exec, "ping", ASYNC_POLL_FN(player_poll), &players[0], NULL, NULL));
	bench_check(&o, "spawn",
		    async_spawn(exec, "pong", ASYNC_POLL_FN(player_poll), &players[1], NULL, NULL));
	t0 = async_now_ns();
	bench_check(&o, "run", async_exec_run(exec));
	t1 = async_now_ns();
	async_exec_free(exec);
	if (court.played != o.iters + 1) {
		fprintf(stderr, "pingpong: played %llu rounds, expected %llu\n",
			(unsigned long long)court.played - 1, (unsigned long long)o.iters);
		return 1;
	}
	bench_report(&o, "pingpong", (double)(t1 - t0) / o.iters, "roundtrip", o.iters,
		     "%llu round trips", (unsigned long long)o.iters);
	return 0;
}
