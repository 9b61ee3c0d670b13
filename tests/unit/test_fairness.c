/* SPDX-License-Identifier: MIT */
/*
 * ASYNC_YIELD is fair: a task that does real work between yields lets every task that
 * became ready meanwhile run before it runs again, including tasks woken by a timer or
 * by I/O. Counted in bursts of the yielding task, not in milliseconds: before, a timer
 * wake waited up to 16 bursts (single-threaded) or 64 (a worker checks the injection
 * queue every 64 polls), an I/O wake up to 64. Single-threaded, the loop itself looks for
 * due timers and I/O, so the wait counts from the deadline or the write; with a worker and
 * a driver thread, from the moment the driver queued the woken task (before that it is
 * up to the OS when the driver thread runs).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec_modes.h"
#include "core.h"

/* One worker: with two, the woken task would simply run on the other one. */
static const struct exec_mode MODE_ONE_WORKER = { "1 worker", false, 1 };

#define BURST_NS (2 * ASYNC_MSEC)

/* Busy for BURST_NS, yields, again, until *stop; counts the bursts it starts while a
 * woken task waits for its turn: single-threaded from *ready_since until *served, else
 * while the woken task (*other) is queued. */
struct burster {
	struct async_frame frame;
	_Atomic int *stop;
	_Atomic uint64_t *ready_since; /* 0: nothing ready yet */
	_Atomic int *served;
	struct async_join *other;
	bool single;
	int bursts, bursts_while_ready;
};

static bool other_is_ready(struct burster *b, uint64_t now)
{
	uint64_t since = atomic_load(b->ready_since);

	if (b->single)
		return since && now >= since && !atomic_load(b->served);
	return __atomic_load_n(&b->other->task->abi.state, __ATOMIC_ACQUIRE) ==
	       ASYNC_TASK_SCHEDULED;
}

static enum async_poll burster_poll(struct burster *b, struct async_cx *cx)
{
	ASYNC_BEGIN(b);
	while (!atomic_load(b->stop)) {
		uint64_t start = async_now_ns();

		b->bursts++;
		if (other_is_ready(b, start))
			b->bursts_while_ready++;
		while (async_now_ns() - start < BURST_NS)
			;
		ASYNC_YIELD(b, cx);
	}
	ASYNC_RETURN(b);
}

/* ---- a timer wake ---------------------------------------------------------------------- */

struct sleeper {
	struct async_frame frame;
	struct async_sleep sleep;
	_Atomic int *stop;
	_Atomic uint64_t *deadline;
	_Atomic int *served;
};

static enum async_poll sleeper_poll(struct sleeper *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	atomic_store(s->deadline, async_now_ns() + 50 * ASYNC_MSEC);
	async_deadline_init(&s->sleep, atomic_load(s->deadline));
	ASYNC_AWAIT(s, cx, async_sleep, &s->sleep);
	atomic_store(s->served, 1);
	atomic_store(s->stop, 1);
	ASYNC_RETURN(s);
}

static void test_timer_wake_beats_yielder(void **state)
{
	struct async_exec *exec = mode_exec(state);
	_Atomic int stop = 0, served = 0;
	_Atomic uint64_t deadline = 0;
	struct async_join join;
	struct burster b = { .stop = &stop,
			     .ready_since = &deadline,
			     .served = &served,
			     .other = &join,
			     .single = ((const struct exec_mode *)*state)->single };
	struct sleeper s = { .stop = &stop, .deadline = &deadline, .served = &served };

	assert_int_equal(async_spawn(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll), &s, NULL, &join),
			 0);
	assert_int_equal(async_spawn(exec, "burster", ASYNC_POLL_FN(burster_poll), &b, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(exec), 0);
	async_join_drop(&join);
	assert_true(b.bursts >= 2); /* it did run while the timer was pending */
	/* the burst under way at the deadline, and one more if the deadline fell between the
	 * look for timers and the burst's start */
	assert_in_range(b.bursts_while_ready, 0, 2);
	async_exec_free(exec);
}

/* ---- an I/O wake ------------------------------------------------------------------------ */

struct reader {
	struct async_frame frame;
	struct async_read rd;
	int fd;
	char buf[8];
	_Atomic int *stop;
	_Atomic int *served;
};

static enum async_poll reader_poll(struct reader *r, struct async_cx *cx)
{
	ASYNC_BEGIN(r);
	async_read_init(&r->rd, r->fd, r->buf, sizeof(r->buf));
	ASYNC_AWAIT(r, cx, async_read, &r->rd);
	atomic_store(r->served, 1);
	atomic_store(r->stop, 1);
	ASYNC_RETURN(r);
}

struct writer {
	int fd;
	_Atomic uint64_t *written_at;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	usleep(50000);
	atomic_store(w->written_at, async_now_ns());
	assert_int_equal(write(w->fd, "x", 1), 1);
	return NULL;
}

static void test_io_wake_beats_yielder(void **state)
{
	struct async_exec *exec = mode_exec(state);
	_Atomic int stop = 0, served = 0;
	_Atomic uint64_t written_at = 0;
	struct async_join join;
	struct burster b = { .stop = &stop,
			     .ready_since = &written_at,
			     .served = &served,
			     .other = &join,
			     .single = ((const struct exec_mode *)*state)->single };
	struct reader r = { .stop = &stop, .served = &served };
	struct writer w = { .written_at = &written_at };
	pthread_t writer;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	r.fd = sv[0];
	w.fd = sv[1];
	assert_int_equal(async_spawn(exec, "reader", ASYNC_POLL_FN(reader_poll), &r, NULL, &join),
			 0);
	assert_int_equal(async_spawn(exec, "burster", ASYNC_POLL_FN(burster_poll), &b, NULL, NULL),
			 0);
	assert_int_equal(pthread_create(&writer, NULL, writer_main, &w), 0);
	assert_int_equal(async_exec_run(exec), 0);
	pthread_join(writer, NULL);
	async_join_drop(&join);
	assert_int_equal(r.rd.result, 1);
	assert_true(b.bursts >= 2);
	assert_in_range(b.bursts_while_ready, 0, 2);
	async_exec_free(exec);
	async_close(sv[0]);
	close(sv[1]);
}

/* ---- yielders among themselves: round robin ------------------------------------------- */

struct turn_taker {
	struct async_frame frame;
	int id, rounds;
	int *log, *log_len;
};

static enum async_poll turn_taker_poll(struct turn_taker *t, struct async_cx *cx)
{
	ASYNC_BEGIN(t);
	while (t->rounds-- > 0) {
		t->log[(*t->log_len)++] = t->id;
		ASYNC_YIELD(t, cx);
	}
	ASYNC_RETURN(t);
}

/* Spawns the turn takers from inside the executor: none runs before all exist. */
struct spawner {
	struct async_frame frame;
	struct turn_taker *t;
	int n;
};

static enum async_poll spawner_poll(struct spawner *s, struct async_cx *cx)
{
	for (int i = 0; i < s->n; i++)
		assert_int_equal(async_spawn_cx(cx, "turns", ASYNC_POLL_FN(turn_taker_poll),
						&s->t[i], NULL, NULL),
				 0);
	return ASYNC_READY;
}

static void test_yielders_take_turns(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct turn_taker t[3];
	struct spawner sp = { .t = t, .n = 3 };
	int log[30], len = 0;

	for (int i = 0; i < 3; i++)
		t[i] = (struct turn_taker){ .id = i, .rounds = 10, .log = log, .log_len = &len };
	assert_int_equal(async_spawn(exec, "spawner", ASYNC_POLL_FN(spawner_poll), &sp, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(len, 30);
	for (int i = 0; i < 30; i++)
		assert_int_equal(log[i], i % 3);
	async_exec_free(exec);
}

#define FAIR_MODES(fn)                                       \
	cmocka_unit_test_prestate(fn, (void *)&MODE_SINGLE), \
	    cmocka_unit_test_prestate(fn, (void *)&MODE_ONE_WORKER)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FAIR_MODES(test_timer_wake_beats_yielder),
		FAIR_MODES(test_io_wake_beats_yielder),
		FAIR_MODES(test_yielders_take_turns),
	};

	return RUN_AT_UPTIMES(tests);
}
