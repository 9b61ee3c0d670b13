/* SPDX-License-Identifier: MIT */
/*
 * The probe test's workload: a known sequence of spawns, polls, waits and lock hand-offs
 * whose probe hits probe_check counts exactly. Statically linked with libasync.a.
 *
 *   probe_workload NOTIFY_FD GO_FD
 *
 * On 2 workers, the task "main" (block_on, parent 0):
 *   1. spawns SLEEPERS tasks "sleeper" (each sleeps SLEEP_MS twice: 3 polls);
 *   2. locks probe_mutex (uncontended: acquire), spawns CONTENDERS tasks "contender"
 *      (each waits for the mutex once, gets it handed over FIFO, unlocks: 2 polls) and
 *      the task "receiver" (waits on an empty channel: wait CHAN_RECV), and sleeps
 *      HOLD_MS holding the mutex (main's poll 1 ends pending; once woken it also makes
 *      sure, from their task records, that all four are waiting, so that a slow machine
 *      cannot reorder the hand-offs);
 *   3. unlocks (release; contender 1 is woken by main), sends one item (receiver is
 *      woken by main, receives it: acquire CHAN_RECV, 2 polls), spawns "joined" (sleeps
 *      JOINED_MS: 2 polls) and awaits its JoinHandle (wait JOIN; main's poll 2 ends);
 *   4. when woken by joined's completion (acquire JOIN), inside that same poll 3,
 *      writes one byte to NOTIFY_FD and blocks reading GO_FD: probe_check reads the
 *      registry and thread records from outside while the poll is in progress;
 *   5. returns ready. The process exits 0.
 * Totals: 16 spawns, 16 completions, 43 polls (3 + 30 + 6 + 2 + 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <async/async.h>

#define SLEEPERS   10
#define CONTENDERS 3
#define SLEEP_MS   5
#define HOLD_MS	   50
#define JOINED_MS  20

/* Found by probe_check in the symbol table, like a tracer would. */
struct async_mutex probe_mutex;

static int notify_fd = -1, go_fd = -1;

struct sleeper {
	struct async_frame frame;
	struct async_sleep nap;
};

static enum async_poll sleeper_poll(struct sleeper *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->nap, SLEEP_MS * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->nap);
	async_sleep_init(&f->nap, SLEEP_MS * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->nap);
	ASYNC_RETURN(f);
}

struct contender {
	struct async_frame frame;
	struct async_lock lock;
};

static enum async_poll contender_poll(struct contender *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock, &probe_mutex);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	async_mutex_unlock(&probe_mutex, cx);
	ASYNC_RETURN(f);
}

struct receiver {
	struct async_frame frame;
	struct async_chan *chan;
	uint64_t item;
	struct async_recv recv;
};

static enum async_poll receiver_poll(struct receiver *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_recv_init(&f->recv, f->chan, &f->item);
	ASYNC_AWAIT(f, cx, async_recv, &f->recv);
	async_chan_receiver_drop(f->chan);
	if (f->recv.result || f->item != 42)
		exit(4);
	ASYNC_RETURN(f);
}

struct joined {
	struct async_frame frame;
	struct async_sleep nap;
};

static enum async_poll joined_poll(struct joined *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->nap, JOINED_MS * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->nap);
	ASYNC_RETURN(f);
}

struct main_task {
	struct async_frame frame;
	struct sleeper sleepers[SLEEPERS];
	struct contender contenders[CONTENDERS];
	struct joined joined;
	struct receiver receiver;
	struct async_chan *chan;
	uint64_t item;
	struct async_join join;
	struct async_join waiter_joins[CONTENDERS + 1]; /* contenders, then receiver */
	struct async_lock lock;
	struct async_sleep hold;
	int i;
	int err;
};

static void pause_for_checker(void)
{
	char c = 'p';

	if (write(notify_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		exit(3);
}

/*
 * Makes the hand-offs deterministic on a loaded machine: before main releases the mutex
 * and sends, every contender and the receiver must be waiting (their task records, the
 * struct async_task_abi every task starts with, say IDLE and what they wait on). Blocks
 * main's poll briefly if the timer fired first; the JoinHandles keep the records alive.
 */
static void wait_until_queued(struct main_task *m)
{
	struct timespec ms = { 0, 1000000 };

	for (int tries = 0; tries < 20000; tries++) {
		int waiting = 0;

		for (int i = 0; i <= CONTENDERS; i++) {
			struct async_task_abi *t = (struct async_task_abi *)m->waiter_joins[i].task;
			uint32_t want = i < CONTENDERS ? ASYNC_WAIT_MUTEX : ASYNC_WAIT_CHAN_RECV;

			waiting +=
			    t && __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == ASYNC_TASK_IDLE &&
			    __atomic_load_n(&t->wait_kind, __ATOMIC_ACQUIRE) == want;
		}
		if (waiting == CONTENDERS + 1)
			return;
		nanosleep(&ms, NULL);
	}
	fprintf(stderr, "probe_workload: contenders and receiver never all waited\n");
	exit(5);
}

static enum async_poll main_task_poll(struct main_task *m, struct async_cx *cx)
{
	ASYNC_BEGIN(m);
	for (m->i = 0; m->i < SLEEPERS && !m->err; m->i++)
		m->err = async_spawn_cx(cx, "sleeper", ASYNC_POLL_FN(sleeper_poll),
					&m->sleepers[m->i], NULL, NULL);
	async_lock_init(&m->lock, &probe_mutex);
	ASYNC_AWAIT(m, cx, async_lock, &m->lock); /* uncontended: ready at once */
	for (m->i = 0; m->i < CONTENDERS && !m->err; m->i++)
		m->err = async_spawn_cx(cx, "contender", ASYNC_POLL_FN(contender_poll),
					&m->contenders[m->i], NULL, &m->waiter_joins[m->i]);
	m->receiver.chan = m->chan;
	if (!m->err)
		m->err = async_spawn_cx(cx, "receiver", ASYNC_POLL_FN(receiver_poll), &m->receiver,
					NULL, &m->waiter_joins[CONTENDERS]);
	async_sleep_init(&m->hold, HOLD_MS * ASYNC_MSEC);
	ASYNC_AWAIT(m, cx, async_sleep, &m->hold);
	if (!m->err)
		wait_until_queued(m);
	for (m->i = 0; m->i <= CONTENDERS; m->i++)
		async_join_drop(&m->waiter_joins[m->i]); /* detach: they finish on their own */
	async_mutex_unlock(&probe_mutex, cx);
	m->item = 42;
	if (!m->err)
		m->err = async_chan_try_send(m->chan, &m->item);
	async_chan_sender_drop(m->chan);
	if (!m->err)
		m->err = async_spawn_cx(cx, "joined", ASYNC_POLL_FN(joined_poll), &m->joined, NULL,
					&m->join);
	if (m->err)
		ASYNC_DONE(m);
	ASYNC_AWAIT(m, cx, async_join, &m->join);
	async_join_drop(&m->join);
	pause_for_checker();
	ASYNC_RETURN(m);
}

int main(int argc, char **argv)
{
	struct async_exec_opts opts = { .workers = 2 };
	struct main_task *m = calloc(1, sizeof(*m));
	struct async_exec *exec;
	int err;

	if (argc != 3 || !m) {
		fprintf(stderr, "usage: probe_workload NOTIFY_FD GO_FD\n");
		return 2;
	}
	notify_fd = atoi(argv[1]);
	go_fd = atoi(argv[2]);
	async_mutex_init(&probe_mutex);
	err = async_chan_new(1, sizeof(uint64_t), &m->chan);
	if (err < 0) {
		fprintf(stderr, "probe_workload: failed to create channel: %s\n",
			async_strerror(err));
		return 1;
	}
	err = async_exec_new(&opts, &exec);
	if (err < 0) {
		fprintf(stderr, "probe_workload: failed to create executor: %s\n",
			async_strerror(err));
		return 1;
	}
	err = async_block_on(exec, "main", ASYNC_POLL_FN(main_task_poll), m);
	async_exec_free(exec);
	if (err < 0 || m->err < 0) {
		fprintf(stderr, "probe_workload: failed to run: %s\n",
			async_strerror(err < 0 ? err : m->err));
		return 1;
	}
	free(m);
	return 0;
}
