/* SPDX-License-Identifier: MIT */
/*
 * The executor's private structures, shared by exec.c (tasks, wakers, workers),
 * registry.c, timer.c and reactor.c. Not for sync.c/chan.c/...: they use internal.h.
 */
#ifndef ASYNC_RUNTIME_CORE_H
#define ASYNC_RUNTIME_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

/* ---- task state bits (struct async_task.st) --------------------------------------- */
#define T_SCHED	     1u	  /* in a run queue (SCHED -> RUNNING is +1) */
#define T_RUNNING    2u	  /* being polled */
#define T_NOTIFIED   4u	  /* woken while running: poll again once */
#define T_DONE	     8u	  /* completed or aborted */
#define T_ABORTED    16u  /* abort requested */
#define T_JOIN	     32u  /* a JoinHandle holds the future */
#define T_JOIN_WAKER 64u  /* join_waker is set (owned by whoever clears the bit) */
#define T_TRACED     128u /* spawned while traced: every poll tests the poll probe */

struct async_task {
	struct async_task_abi abi; /* first: tracers read it */
	_Atomic uint32_t st;
	_Atomic uint32_t refs; /* alive (until done) + join handle + wakers */
	async_poll_fn poll;
	void *future;
	async_drop_fn drop;
	struct async_exec *exec;
	struct async_task *next; /* injection queue link / free list */
	struct async_waker join_waker;
	int result;
	uint64_t waker_id;    /* relaxed atomic: task that scheduled it */
	uint64_t last_end_ns; /* end of its last poll recorded in a ring */
};

/* A worker's poll ring (ring.c): the ABI header, then the records. */
struct async__ring {
	struct async_ring_abi abi;
	uint64_t mask; /* slots - 1 */
	size_t len;    /* bytes mapped */
	uint64_t pad[6];
	struct async_ring_rec recs[];
};

/* A runtime thread's record, in the registry's thread list. */
struct async__thread {
	struct async_thread_abi abi;
	struct async__ring *ring; /* allocated at the first poll traced through rings */
};

/* ring.c: allocates th's ring (fires the ring probe, NEW); NULL on failure */
struct async__ring *async__ring_new(struct async__thread *th);
/* Fires the ring probe (FLUSH) so that a tracer drains th's ring now. */
void async__ring_flush(const struct async__thread *th);
/* Flushes and unmaps th's ring (thread exit). */
void async__ring_free(struct async__thread *th);

/* ---- per-worker local run queue: owner pushes/pops, others steal ------------------ */
#define LQ_SIZE 1024u
#define LQ_MASK (LQ_SIZE - 1)

struct async__lq {
	_Atomic uint32_t head __attribute__((aligned(64)));
	_Atomic uint32_t tail __attribute__((aligned(64)));
	struct async_task *_Atomic buf[LQ_SIZE];
};

struct async__worker {
	struct async__lq q;
	struct async_exec *exec;
	unsigned index;
	_Atomic uint32_t parked __attribute__((aligned(64))); /* futex word */
	uint64_t now;					      /* cached CLOCK_MONOTONIC */
	unsigned tick;
	bool yield_now; /* async_cx_wake_self during this poll */
	/* tasks that yielded (FIFO through task->next): they run again only after every
	 * task that was ready meanwhile, and after a look for due timers and I/O */
	struct async_task *yielded_head, *yielded_tail;
	bool wake_driver;  /* a timer added during this poll needs the driver to re-plan */
	bool polling;	   /* inside a poll function */
	uint64_t poll_end; /* end of the last traced poll (poll_traced) */
	/* poll_end is the time now, give or take the runtime's work between two polls: the
	 * next traced poll starts there (one clock read per poll). Cleared when it waits. */
	bool poll_end_now;
	/* run_task_plain or run_task_probed (exec.c): re-chosen every 16 polls */
	void (*run_task)(struct async__worker *w, struct async_task *t);
	uint32_t rng;
	struct async__thread *rec;
	pthread_t thread;
	bool started;
};

/* ---- timers (timer.c) -------------------------------------------------------------- */
struct async__timers {
	pthread_mutex_t lock;
	struct async__timer **heap;
	size_t n, cap;
	uint64_t seq;
	uint64_t driver_deadline;	/* what the sleeping driver waits for; 0 = awake */
	_Atomic uint64_t next_deadline; /* heap minimum, UINT64_MAX when empty */
};

/* ---- reactor (reactor.c) ---------------------------------------------------------- */
struct async__fdreg;

struct async__reactor {
	int epfd;
	int evfd;
	pthread_mutex_t lock;
	struct async__fdreg **regs; /* indexed by fd */
	size_t nregs;
	_Atomic size_t armed; /* fds with interest */
};

struct async_exec {
	bool single;
	unsigned nworkers;
	struct async__worker *workers;
	void *data;

	/* injection queue */
	pthread_mutex_t inject_lock;
	struct async_task *inject_head, *inject_tail;
	_Atomic size_t inject_len __attribute__((aligned(64)));

	/* parked workers */
	pthread_mutex_t sleep_lock;
	_Atomic unsigned nsleeping __attribute__((aligned(64)));
	unsigned *sleepers;
	unsigned nsleepers;
	_Atomic int loop_sleeping; /* single-threaded: loop thread in epoll_wait */

	/* run / stop / shutdown */
	_Atomic uint64_t live __attribute__((aligned(64)));
	_Atomic int shutdown;
	_Atomic int stopping;	   /* workers pause, the running async_exec_run returns */
	_Atomic unsigned stop_gen; /* async_exec_stop calls */
	unsigned stop_seen;	   /* stop_gen when async_exec_run last returned */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;
	unsigned paused;
	unsigned nstarted; /* threads that registered their record */
	bool running;

	struct async__timers timers;
	struct async__reactor reactor;
	pthread_t driver;
	bool has_driver;

	struct async__blocking_pool *blocking;
};

/* exec.c */
#define ASYNC__TLS __attribute__((tls_model("initial-exec"), visibility("hidden")))
extern __thread struct async__worker *async__cur_worker ASYNC__TLS;
extern __thread struct async_task *async__cur_task ASYNC__TLS;
/* The driver thread's cached clock (0 on other threads): wakes it issues read this. */
extern __thread uint64_t async__driver_now ASYNC__TLS;
void async__schedule(struct async_task *t);
void async__task_release(struct async_task *t);
/* Completes a task: only the thread that holds it RUNNING (or claimed it idle) calls it. */
void async__task_complete(struct async_task *t, int result);

/* The task's cleanup, once it is done and no JoinHandle holds the future. */
static inline void async__run_drop(struct async_task *t)
{
	if (t->drop)
		t->drop(t->future);
}

/* AWAIT descriptor of the innermost frame of an await chain that is stopped at one. */
static inline const struct async_desc *async__leaf_at(const struct async_frame *f)
{
	const struct async_desc *at = NULL;

	for (unsigned i = 0; f && i < ASYNC_CHAIN_MAX; i++) {
		if (f->at)
			at = f->at;
		f = f->child;
	}
	return at;
}
/* The current task sleeps on a timer: recorded in its task record, no probe. */
void async__wait_timer(struct async_cx *cx);

/* registry.c: the exported ABI symbol (ASYNC_REGISTRY_SYMBOL) */
extern struct async_registry_abi async_registry;
/* Links a new task into the live list and assigns its id. */
void async__registry_link(struct async_task *t);
void async__registry_unlink(struct async_task *t);
/* Calls fn on every live task of `exec` (registry lock held: fn must not relink). */
void async__registry_each(struct async_exec *exec, void (*fn)(struct async_task *, void *),
			  void *arg);

/* timer.c */
int async__timers_init(struct async__timers *tm);
/* Fires every timer due at `now`; returns how many. */
unsigned async__timers_fire(struct async__timers *tm, uint64_t now);
/* Drops every pending timer's waker (executor shutdown). */
void async__timers_fini(struct async__timers *tm);

/* reactor.c */
int async__reactor_init(struct async__reactor *r);
void async__reactor_fini(struct async__reactor *r);
/*
 * One turn of the driver: waits for I/O (at most until the next timer, or not at
 * all when !block), wakes the tasks whose fds are ready, fires due timers.
 */
void async__driver_turn(struct async_exec *exec, bool block);
/* Interrupts a driver sleeping in epoll_wait. */
void async__driver_wake(struct async_exec *exec);

#ifdef ASYNC_TEST_CLOCK
/*
 * Tests only (the ASan build of the runtime): added to every clock read, so that the unit
 * tests also run as if the machine had been up for an hour, a month or close to 2^63 ns.
 * Set it only while no executor exists. Release builds have no such variable.
 */
extern uint64_t async__test_clock_offset;
#define ASYNC__CLOCK_OFFSET async__test_clock_offset
#else
#define ASYNC__CLOCK_OFFSET 0
#endif

static inline uint64_t async__clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + ASYNC__CLOCK_OFFSET;
}

/* now + duration, saturated below UINT64_MAX (the "no deadline" value of the timer heap) */
static inline uint64_t async__deadline_after(uint64_t now, uint64_t duration)
{
	return duration < UINT64_MAX - 1 - now ? now + duration : UINT64_MAX - 1;
}

#define async__barrier()   __asm__ __volatile__("" ::: "memory")
#define async__store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define async__load(p)	   __atomic_load_n((p), __ATOMIC_RELAXED)

#endif /* ASYNC_RUNTIME_CORE_H */
