/* SPDX-License-Identifier: MIT */
/*
 * One planted bug per run, for tests/bpf/test_diagnose.sh, written against libasync's
 * public API only, each a few awaits deep so that the innermost await point differs
 * from the task's top-level one. The await line of each bug carries a "site:" comment
 * the test greps for. Prints "ready (pid N)" once the bug is in place; runs until
 * killed.
 *
 *   diagnose_bugs BUG [AFTER_MS]     the bug begins AFTER_MS after start (default 0)
 *
 *   deadlock      two tasks take two mutexes in opposite orders
 *   lost-wakeup   a hand-written future returns pending and keeps no waker
 *   orphan-lock   a task completes holding a mutex another task waits for
 *   stall         a task sleeps for an hour holding a mutex; two readers wait for it,
 *                 and a producer waits on a full channel whose consumer is one of them
 *   leak          a task spawned every 10 ms that sleeps for an hour: they pile up
 *   blocking      a task that calls usleep(60 ms) inside its poll after each await
 *   cpu-hog       a task that computes for 40 ms of CPU time inside its poll after each await
 *   healthy       no bug: a waker handed to a plain thread (woken every 3 s), a mutex
 *                 shared by busy tasks, a consumer idle on an empty channel whose
 *                 producer sleeps, a CPU-heavy task that yields between bursts
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <async/async.h>

static uint64_t after_ns;
static struct async_mutex lock_a, lock_b, cache_lock;

static void ready(void)
{
	printf("ready (pid %d)\n", (int)getpid());
	fflush(stdout);
}

/* ---- deadlock ---------------------------------------------------------------------------- */

struct locker {
	struct async_frame frame;
	struct async_mutex *first, *second;
	struct async_lock l1, l2;
	struct async_sleep pause;
	bool announce;
};

static enum async_poll lock_both_poll(struct locker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->l1, f->first);
	ASYNC_AWAIT(f, cx, async_lock, &f->l1);
	async_sleep_init(&f->pause, 50 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	async_lock_init(&f->l2, f->second);
	if (f->announce)
		ready();
	ASYNC_AWAIT(f, cx, async_lock, &f->l2); /* site:deadlock */
	async_mutex_unlock(f->second, cx);
	async_mutex_unlock(f->first, cx);
	ASYNC_RETURN(f);
}

struct transfer {
	struct async_frame frame;
	struct async_sleep delay;
	struct locker locks;
};

static enum async_poll transfer_poll(struct transfer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->delay, after_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->delay);
	ASYNC_AWAIT(f, cx, lock_both, &f->locks);
	ASYNC_RETURN(f);
}

/* ---- lost wake-up ------------------------------------------------------------------------ */

/* A hand-written future that forgets its waker: nothing will ever poll it again. */
struct reply_wait {
	struct async_frame frame;
};

static enum async_poll reply_wait_poll(struct reply_wait *f, struct async_cx *cx)
{
	(void)cx;
	ASYNC_TRACE(f->frame);
	ready();
	return ASYNC_PENDING; /* the bug: no async_waker_clone kept anywhere */
}

struct fetch_reply {
	struct async_frame frame;
	struct reply_wait wait;
};

static enum async_poll fetch_reply_poll(struct fetch_reply *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	ASYNC_AWAIT(f, cx, reply_wait, &f->wait); /* site:lost-wakeup */
	ASYNC_RETURN(f);
}

struct handler {
	struct async_frame frame;
	struct async_sleep delay;
	struct fetch_reply fetch;
};

static enum async_poll handler_poll(struct handler *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->delay, after_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->delay);
	ASYNC_AWAIT(f, cx, fetch_reply, &f->fetch);
	ASYNC_RETURN(f);
}

/* ---- orphaned lock ----------------------------------------------------------------------- */

struct grab {
	struct async_frame frame;
	struct async_lock lock;
};

static enum async_poll grab_poll(struct grab *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock, &lock_a);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	ASYNC_RETURN(f); /* the bug: completes holding lock_a */
}

struct wait_lock {
	struct async_frame frame;
	struct async_sleep delay;
	struct async_lock lock;
};

static enum async_poll wait_lock_poll(struct wait_lock *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->delay, after_ns + 20 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->delay);
	async_lock_init(&f->lock, &lock_a);
	ready();
	ASYNC_AWAIT(f, cx, async_lock, &f->lock); /* site:orphan-lock */
	async_mutex_unlock(&lock_a, cx);
	ASYNC_RETURN(f);
}

/* ---- stall chain ------------------------------------------------------------------------- */

struct refresh {
	struct async_frame frame;
	struct async_sleep nap;
};

static enum async_poll refresh_poll(struct refresh *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->nap, 3600 * ASYNC_SEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->nap); /* site:stall */
	ASYNC_RETURN(f);
}

struct flusher {
	struct async_frame frame;
	struct async_sleep delay;
	struct async_lock lock;
	struct refresh refresh;
};

static enum async_poll flusher_poll(struct flusher *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->delay, after_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->delay);
	async_lock_init(&f->lock, &cache_lock);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	ASYNC_AWAIT(f, cx, refresh, &f->refresh); /* the bug: awaits holding cache_lock */
	async_mutex_unlock(&cache_lock, cx);
	ASYNC_RETURN(f);
}

struct reader {
	struct async_frame frame;
	struct async_sleep delay;
	struct async_lock lock;
	struct async_chan *in; /* the consumer first takes an item */
	struct async_recv recv;
	int item;
};

static enum async_poll reader_poll(struct reader *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->delay, after_ns + 50 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->delay);
	if (f->in) {
		async_recv_init(&f->recv, f->in, &f->item);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
	}
	async_lock_init(&f->lock, &cache_lock);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	async_mutex_unlock(&cache_lock, cx);
	ASYNC_RETURN(f);
}

struct producer {
	struct async_frame frame;
	struct async_chan *out;
	struct async_send send;
	int i, item;
};

static enum async_poll producer_poll(struct producer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->i = 0; f->i < 3; f->i++) {
		f->item = f->i;
		async_send_init(&f->send, f->out, &f->item);
		if (f->i == 2)
			ready();
		ASYNC_AWAIT(f, cx, async_send, &f->send);
	}
	ASYNC_RETURN(f);
}

/* ---- leak -------------------------------------------------------------------------------- */

struct request {
	struct async_frame frame;
	struct async_sleep reply;
};

static enum async_poll request_poll(struct request *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->reply, 3600 * ASYNC_SEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->reply); /* site:leak */
	ASYNC_RETURN(f);
}

struct spawner {
	struct async_frame frame;
	struct async_sleep tick;
	int n;
};

static enum async_poll spawner_poll(struct spawner *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->tick, after_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->tick);
	for (;;) {
		struct request *r = calloc(1, sizeof(*r));

		if (r && async_spawn_cx(cx, "request", ASYNC_POLL_FN(request_poll), r,
					ASYNC_DROP_FN(free), NULL))
			free(r);
		if (++f->n == 5)
			ready();
		async_sleep_init(&f->tick, 10 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->tick);
	}
	ASYNC_RETURN(f);
}

/* ---- blocking the executor ------------------------------------------------------------- */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct blocker {
	struct async_frame frame;
	struct async_sleep tick;
	bool spin; /* compute instead of sleeping */
	uint64_t sum;
};

static enum async_poll poll_db_poll(struct blocker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->tick, after_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->tick);
	for (;;) {
		async_sleep_init(&f->tick, 100 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->tick); /* site:blocking site:cpu-hog */
		if (f->spin) { /* 40 ms of this thread's CPU time, however long preemption adds */
			uint64_t until = thread_cpu_ns() + 40 * ASYNC_MSEC;

			while (thread_cpu_ns() < until)
				f->sum++;
		} else {
			usleep(60000); /* the bug: a blocking call inside a poll */
		}
		ready();
	}
	ASYNC_RETURN(f);
}

/* ---- healthy ----------------------------------------------------------------------------- */

/* Woken by a plain thread every 3 s: idle with one live waker in between. */
struct thread_woken {
	struct async_frame frame;
	struct async_waker waker;
	pthread_mutex_t lock;
	bool armed, fired;
};

static void *waker_thread(void *arg)
{
	struct thread_woken *f = arg;

	for (;;) {
		sleep(3);
		pthread_mutex_lock(&f->lock);
		if (f->armed) {
			f->armed = false;
			f->fired = true;
			async_waker_wake(&f->waker);
		}
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

static enum async_poll thread_woken_poll(struct thread_woken *f, struct async_cx *cx)
{
	ASYNC_TRACE(f->frame);
	pthread_mutex_lock(&f->lock);
	f->fired = false;
	if (!f->armed) {
		f->waker = async_waker_clone(cx);
		f->armed = true;
	}
	pthread_mutex_unlock(&f->lock);
	return ASYNC_PENDING; /* polled again when the thread wakes it: forever */
}

struct contender {
	struct async_frame frame;
	struct async_lock lock;
	struct async_sleep hold, rest;
};

static enum async_poll contender_poll(struct contender *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_lock_init(&f->lock, &lock_b);
		ASYNC_AWAIT(f, cx, async_lock, &f->lock);
		async_sleep_init(&f->hold, 2 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->hold);
		async_mutex_unlock(&lock_b, cx);
		async_sleep_init(&f->rest, 1 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->rest);
	}
	ASYNC_RETURN(f);
}

struct ticker {
	struct async_frame frame;
	struct async_chan *out;
	struct async_sleep nap;
	struct async_send send;
	int item;
};

static enum async_poll ticker_poll(struct ticker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_sleep_init(&f->nap, 3 * ASYNC_SEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->nap);
		async_send_init(&f->send, f->out, &f->item);
		ASYNC_AWAIT(f, cx, async_send, &f->send);
	}
	ASYNC_RETURN(f);
}

struct consumer {
	struct async_frame frame;
	struct async_chan *in;
	struct async_recv recv;
	int item;
};

static enum async_poll consumer_poll(struct consumer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_recv_init(&f->recv, f->in, &f->item);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
	}
	ASYNC_RETURN(f);
}

struct cruncher {
	struct async_frame frame;
	uint64_t sum;
};

static enum async_poll cruncher_poll(struct cruncher *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		for (int i = 0; i < 2000000; i++)
			f->sum += (uint64_t)i * i;
		ASYNC_YIELD(f, cx);
	}
	ASYNC_RETURN(f);
}

/* ---- main -------------------------------------------------------------------------------- */

static void spawn(struct async_exec *e, const char *name, async_poll_fn poll, void *f)
{
	int err = async_spawn(e, name, poll, f, NULL, NULL);

	if (err) {
		fprintf(stderr, "diagnose_bugs: failed to spawn '%s': %s\n", name,
			async_strerror(err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct transfer t1, t2;
	static struct handler h;
	static struct grab g;
	static struct wait_lock wl;
	static struct flusher fl;
	static struct reader r1, r2, consumer_reader;
	static struct producer prod;
	static struct spawner sp;
	static struct thread_woken tw = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct contender c1, c2, c3;
	static struct ticker tick;
	static struct consumer cons;
	static struct cruncher crunch;
	struct async_exec_opts opts = { .workers = 2 };
	struct async_chan *ch = NULL;
	struct async_exec *e;
	const char *bug = argc > 1 ? argv[1] : "";
	pthread_t th;
	int err;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: diagnose_bugs BUG [AFTER_MS]\n");
		return 2;
	}
	after_ns = (argc == 3 ? strtoull(argv[2], NULL, 10) : 0) * ASYNC_MSEC;
	async_mutex_init(&lock_a);
	async_mutex_init(&lock_b);
	async_mutex_init(&cache_lock);
	err = async_exec_new(&opts, &e);
	if (err) {
		fprintf(stderr, "diagnose_bugs: failed to create the executor: %s\n",
			async_strerror(err));
		return 1;
	}
	if (!strcmp(bug, "deadlock")) {
		t1.locks = (struct locker){ .first = &lock_a, .second = &lock_b, .announce = true };
		t2.locks = (struct locker){ .first = &lock_b, .second = &lock_a };
		spawn(e, "transfer", ASYNC_POLL_FN(transfer_poll), &t1);
		spawn(e, "audit", ASYNC_POLL_FN(transfer_poll), &t2);
	} else if (!strcmp(bug, "lost-wakeup")) {
		spawn(e, "handler", ASYNC_POLL_FN(handler_poll), &h);
	} else if (!strcmp(bug, "orphan-lock")) {
		spawn(e, "grab", ASYNC_POLL_FN(grab_poll), &g);
		spawn(e, "waiter", ASYNC_POLL_FN(wait_lock_poll), &wl);
	} else if (!strcmp(bug, "stall")) {
		if (async_chan_new(1, sizeof(int), &ch))
			return 1;
		consumer_reader.in = ch;
		prod.out = ch;
		spawn(e, "flusher", ASYNC_POLL_FN(flusher_poll), &fl);
		spawn(e, "reader", ASYNC_POLL_FN(reader_poll), &r1);
		spawn(e, "reader", ASYNC_POLL_FN(reader_poll), &r2);
		spawn(e, "consumer", ASYNC_POLL_FN(reader_poll), &consumer_reader);
		spawn(e, "producer", ASYNC_POLL_FN(producer_poll), &prod);
	} else if (!strcmp(bug, "leak")) {
		spawn(e, "spawner", ASYNC_POLL_FN(spawner_poll), &sp);
	} else if (!strcmp(bug, "blocking") || !strcmp(bug, "cpu-hog")) {
		static struct blocker b;

		b.spin = !strcmp(bug, "cpu-hog");
		spawn(e, "poll_db", ASYNC_POLL_FN(poll_db_poll), &b);
	} else if (!strcmp(bug, "healthy")) {
		if (async_chan_new(4, sizeof(int), &ch))
			return 1;
		tick.out = ch;
		cons.in = ch;
		if (pthread_create(&th, NULL, waker_thread, &tw))
			return 1;
		spawn(e, "thread_woken", ASYNC_POLL_FN(thread_woken_poll), &tw);
		spawn(e, "contender", ASYNC_POLL_FN(contender_poll), &c1);
		spawn(e, "contender", ASYNC_POLL_FN(contender_poll), &c2);
		spawn(e, "contender", ASYNC_POLL_FN(contender_poll), &c3);
		spawn(e, "ticker", ASYNC_POLL_FN(ticker_poll), &tick);
		spawn(e, "consumer", ASYNC_POLL_FN(consumer_poll), &cons);
		spawn(e, "cruncher", ASYNC_POLL_FN(cruncher_poll), &crunch);
		ready();
	} else {
		fprintf(stderr, "diagnose_bugs: unknown bug '%s'\n", bug);
		return 2;
	}
	err = async_exec_run(e);
	fprintf(stderr, "diagnose_bugs: the executor returned: %s\n", async_strerror(err));
	return 1;
}
