/* SPDX-License-Identifier: MIT */
/*
 * The executor: tasks, run queues, workers and their parking, spawn, run, free.
 *
 * A task's state word (T_* bits in core.h) makes wake-ups exact: a wake sets SCHED
 * (and queues the task) only from idle, sets NOTIFIED while the task runs (it is
 * polled once more after that poll) and does nothing otherwise. Only the thread that
 * moved a task to RUNNING (or claimed an idle task for abort) completes it.
 *
 * Each worker owns a ring (struct async__lq) it pushes and pops without locks; idle
 * workers steal half of another's ring; wakes and spawns from outside the executor go
 * to the injection queue. Idle workers park on a futex; a push that sees a parked
 * worker unparks one (a seq_cst fence on both sides closes the race).
 *
 * JoinHandles are in join.c, wakers and the poll context in waker.c, the registry in
 * registry.c, timers in timer.c, the epoll driver in reactor.c.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core.h"
#include "probes.h"

__thread struct async__worker *async__cur_worker ASYNC__TLS;
__thread struct async_task *async__cur_task ASYNC__TLS;
__thread uint64_t async__driver_now ASYNC__TLS;

/* ---- tasks: allocation (a per-thread free list) ----------------------------------- */

#define FREE_MAX 4096

struct task_cache {
	struct async_task *head;
	unsigned n;
};
static __thread struct task_cache task_cache __attribute__((tls_model("initial-exec")));

static struct async_task *task_alloc(void)
{
	struct task_cache *c = &task_cache;
	struct async_task *t = c->head;

	if (t) {
		c->head = t->next;
		c->n--;
		return t;
	}
	return malloc(sizeof(*t));
}

static void task_free(struct async_task *t)
{
	struct task_cache *c = &task_cache;

	if (c->n < FREE_MAX && async__cur_worker) {
		t->next = c->head;
		c->head = t;
		c->n++;
		return;
	}
	free(t);
}

static void task_cache_flush(void)
{
	struct task_cache *c = &task_cache;

	while (c->head) {
		struct async_task *t = c->head;

		c->head = t->next;
		free(t);
	}
	c->n = 0;
}

void async__task_release(struct async_task *t)
{
	uint32_t old = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);

	ASYNC_ASSERT(old != 0); /* a reference dropped twice */
	if (old == 1)
		task_free(t);
}

static inline uint64_t thread_now(void)
{
	struct async__worker *w = async__cur_worker;

	if (w)
		return w->now;
	return async__driver_now ? async__driver_now : async__clock();
}

struct async_exec *async__exec_current(void)
{
	struct async__worker *w = async__cur_worker;

	return w ? w->exec : NULL;
}

/* A record's times never go backwards, though a worker's cached clock lags a little. */
static inline void since(struct async_task *t, uint64_t now)
{
	if (now > async__load(&t->abi.state_since_ns))
		async__store(&t->abi.state_since_ns, now);
}

static void live_dec(struct async_exec *exec)
{
	if (atomic_fetch_sub_explicit(&exec->live, 1, memory_order_acq_rel) == 1) {
		pthread_mutex_lock(&exec->run_lock);
		pthread_cond_broadcast(&exec->run_cond);
		pthread_mutex_unlock(&exec->run_lock);
		if (exec->single && atomic_load(&exec->loop_sleeping))
			async__driver_wake(exec);
	}
}

/* Any consumer of traced polls: the poll rings or the poll probe. */
#define POLL_TRACED() (ASYNC_PROBE_ENABLED(ring) || ASYNC_PROBE_ENABLED(poll))

static ASYNC__PROBE_COLD void probe_task_done(const struct async_task *t)
{
	ASYNC_PROBE(task_done, t->abi.id, (int32_t)t->result, async__clock());
}

/*
 * Called by the one thread that owns the task's completion (it holds RUNNING). Tests the
 * task_done semaphore every time (not only in run_task_probed), so a tracer that saw a
 * task's task_spawn always sees its task_done.
 */
void async__task_complete(struct async_task *t, int result)
{
	struct async_exec *exec = t->exec;
	uint32_t s = atomic_load_explicit(&t->st, memory_order_relaxed), ns;

	do {
		/* an abort that returned 0 promised ASYNC_ECANCELED, even if the poll finished */
		t->result = (s & T_ABORTED) ? ASYNC_ECANCELED : result;
		ns = (s | T_DONE) & ~(T_SCHED | T_RUNNING | T_NOTIFIED | T_JOIN_WAKER);
	} while (!atomic_compare_exchange_weak_explicit(&t->st, &s, ns, memory_order_acq_rel,
							memory_order_relaxed));
	async__store(&t->abi.state, ASYNC_TASK_DONE);
	since(t, thread_now());
	async__store(&t->abi.wait_kind, ASYNC_WAIT_NONE);
	if (ASYNC_PROBE_ENABLED(task_done))
		probe_task_done(t);
	if (s & T_JOIN_WAKER) {
		struct async_waker jw = t->join_waker;

		async_waker_wake(&jw);
	}
	if (!(s & T_JOIN))
		async__run_drop(t);
	async__registry_unlink(t);
	async__task_release(t);
	live_dec(exec);
}

/* ---- local run queue ------------------------------------------------------------- */

static inline unsigned lq_len(struct async__lq *q)
{
	return atomic_load_explicit(&q->tail, memory_order_acquire) -
	       atomic_load_explicit(&q->head, memory_order_acquire);
}

static void inject_push_list(struct async_exec *exec, struct async_task *first,
			     struct async_task *last, size_t n)
{
	last->next = NULL;
	pthread_mutex_lock(&exec->inject_lock);
	if (exec->inject_tail)
		exec->inject_tail->next = first;
	else
		exec->inject_head = first;
	exec->inject_tail = last;
	atomic_fetch_add_explicit(&exec->inject_len, n, memory_order_release);
	pthread_mutex_unlock(&exec->inject_lock);
}

/* Moves half of a full ring plus `t` to the injection queue. */
static void lq_overflow(struct async__worker *w, struct async_task *t, uint32_t tail)
{
	struct async__lq *q = &w->q;
	const uint32_t n = LQ_SIZE / 2;
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	for (;;) {
		if (tail - head < LQ_SIZE) {
			/* a stealer made room meanwhile */
			atomic_store_explicit(&q->buf[tail & LQ_MASK], t, memory_order_relaxed);
			atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
			return;
		}
		struct async_task *first =
		    atomic_load_explicit(&q->buf[head & LQ_MASK], memory_order_relaxed);
		struct async_task *prev = first;

		for (uint32_t i = 1; i < n; i++) {
			struct async_task *x = atomic_load_explicit(&q->buf[(head + i) & LQ_MASK],
								    memory_order_relaxed);
			prev->next = x;
			prev = x;
		}
		if (atomic_compare_exchange_strong_explicit(
			&q->head, &head, head + n, memory_order_acq_rel, memory_order_acquire)) {
			prev->next = t;
			inject_push_list(w->exec, first, t, n + 1);
			return;
		}
	}
}

static inline void lq_push(struct async__worker *w, struct async_task *t)
{
	struct async__lq *q = &w->q;
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if (__builtin_expect(tail - head >= LQ_SIZE, 0)) {
		lq_overflow(w, t, tail);
		return;
	}
	atomic_store_explicit(&q->buf[tail & LQ_MASK], t, memory_order_relaxed);
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
}

static inline struct async_task *lq_pop(struct async__worker *w)
{
	struct async__lq *q = &w->q;
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	while (head != tail) {
		struct async_task *t =
		    atomic_load_explicit(&q->buf[head & LQ_MASK], memory_order_relaxed);

		if (atomic_compare_exchange_weak_explicit(
			&q->head, &head, head + 1, memory_order_acq_rel, memory_order_acquire))
			return t;
	}
	return NULL;
}

/* Steals half of `v`'s ring into `w`'s (empty) ring; returns one task to run. */
static struct async_task *lq_steal(struct async__worker *w, struct async__worker *v)
{
	struct async__lq *src = &v->q;
	uint32_t head = atomic_load_explicit(&src->head, memory_order_acquire);

	for (;;) {
		uint32_t tail = atomic_load_explicit(&src->tail, memory_order_acquire);
		uint32_t avail = tail - head;

		if (avail == 0 || avail > LQ_SIZE)
			return NULL;
		uint32_t n = avail - avail / 2;
		struct async_task *tmp[LQ_SIZE / 2 + 1];

		for (uint32_t i = 0; i < n; i++)
			tmp[i] = atomic_load_explicit(&src->buf[(head + i) & LQ_MASK],
						      memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(
			&src->head, &head, head + n, memory_order_acq_rel, memory_order_acquire)) {
			for (uint32_t i = 1; i < n; i++)
				lq_push(w, tmp[i]);
			return tmp[0];
		}
	}
}

/* ---- parking ------------------------------------------------------------------------ */

#define SPIN_NS (30 * 1000ull)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	async__barrier();
#endif
}

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Unparks one parked worker, if any (multi-threaded), or the single-threaded loop. */
static void notify(struct async_exec *exec)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (exec->single) {
		if (atomic_load_explicit(&exec->loop_sleeping, memory_order_relaxed))
			async__driver_wake(exec);
		return;
	}
	if (atomic_load_explicit(&exec->nsleeping, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&exec->sleep_lock);
	if (exec->nsleepers > 0) {
		struct async__worker *w = &exec->workers[exec->sleepers[--exec->nsleepers]];

		atomic_fetch_sub_explicit(&exec->nsleeping, 1, memory_order_relaxed);
		atomic_store_explicit(&w->parked, 0, memory_order_release);
		futex(&w->parked, FUTEX_WAKE_PRIVATE, 1);
	}
	pthread_mutex_unlock(&exec->sleep_lock);
}

static void notify_all(struct async_exec *exec)
{
	pthread_mutex_lock(&exec->sleep_lock);
	while (exec->nsleepers > 0) {
		struct async__worker *w = &exec->workers[exec->sleepers[--exec->nsleepers]];

		atomic_fetch_sub_explicit(&exec->nsleeping, 1, memory_order_relaxed);
		atomic_store_explicit(&w->parked, 0, memory_order_release);
		futex(&w->parked, FUTEX_WAKE_PRIVATE, 1);
	}
	pthread_mutex_unlock(&exec->sleep_lock);
}

static bool has_work(struct async_exec *exec)
{
	if (atomic_load_explicit(&exec->inject_len, memory_order_acquire))
		return true;
	for (unsigned i = 0; i < exec->nworkers; i++)
		if (lq_len(&exec->workers[i].q))
			return true;
	return false;
}

static void park(struct async__worker *w)
{
	struct async_exec *exec = w->exec;

	atomic_store_explicit(&w->parked, 1, memory_order_relaxed);
	pthread_mutex_lock(&exec->sleep_lock);
	exec->sleepers[exec->nsleepers++] = w->index;
	atomic_fetch_add_explicit(&exec->nsleeping, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&exec->sleep_lock);
	atomic_thread_fence(memory_order_seq_cst);

	if (has_work(exec) || atomic_load(&exec->shutdown) || atomic_load(&exec->stopping)) {
		pthread_mutex_lock(&exec->sleep_lock);
		for (unsigned i = 0; i < exec->nsleepers; i++) {
			if (exec->sleepers[i] == w->index) {
				exec->sleepers[i] = exec->sleepers[--exec->nsleepers];
				atomic_fetch_sub_explicit(&exec->nsleeping, 1,
							  memory_order_relaxed);
				break;
			}
		}
		pthread_mutex_unlock(&exec->sleep_lock);
		atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
		return;
	}
	while (atomic_load_explicit(&w->parked, memory_order_acquire))
		futex(&w->parked, FUTEX_WAIT_PRIVATE, 1);
}

/* ---- scheduling --------------------------------------------------------------------- */

static void inject_push(struct async_exec *exec, struct async_task *t)
{
	inject_push_list(exec, t, t, 1);
	notify(exec);
}

static void push(struct async_task *t)
{
	struct async__worker *w = async__cur_worker;
	struct async_exec *exec = t->exec;

	if (w && w->exec == exec) {
		lq_push(w, t);
		if (!exec->single)
			notify(exec);
	} else {
		inject_push(exec, t);
	}
}

/* A traced wake: a precise time, which the next poll on this worker must not precede. */
static ASYNC__PROBE_COLD void note_wake_traced(struct async_task *t)
{
	struct async__worker *w = async__cur_worker;

	async__store(&t->abi.last_wake_ns, async__clock());
	if (w)
		w->poll_end_now = false;
}

static inline void note_wake(struct async_task *t)
{
	struct async_task *cur = async__cur_task;

	async__store(&t->waker_id, cur ? cur->abi.id : 0);
	if (ASYNC_PROBES_HOT()) /* one test of the hot word, as before the rings */
		note_wake_traced(t);
	else
		async__store(&t->abi.last_wake_ns, thread_now());
}

void async__schedule(struct async_task *t)
{
	uint32_t s = atomic_load_explicit(&t->st, memory_order_acquire);

	for (;;) {
		if (s & (T_DONE | T_SCHED | T_NOTIFIED))
			return;
		if (s & T_RUNNING) {
			note_wake(t);
			if (atomic_compare_exchange_weak_explicit(&t->st, &s, s | T_NOTIFIED,
								  memory_order_acq_rel,
								  memory_order_acquire))
				return;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			&t->st, &s, s | T_SCHED, memory_order_acq_rel, memory_order_acquire)) {
			note_wake(t);
			async__store(&t->abi.state, ASYNC_TASK_SCHEDULED);
			since(t, t->abi.last_wake_ns);
			push(t);
			return;
		}
	}
}

/* ---- polling ------------------------------------------------------------------------ */

/*
 * One poll with the thread record kept current around it. `start` is the poll's start
 * time when the poll probe is enabled, else 0.
 */
static __attribute__((always_inline)) inline enum async_poll
poll_once(struct async__worker *w, struct async_task *t, uint64_t start)
{
	struct async__thread *rec = w->rec;
	struct async_frame *frame = t->future;
	struct async_cx cx = { .task = t, .exec = w->exec, .worker = w };

	async__store(&t->abi.state, ASYNC_TASK_RUNNING);
	since(t, w->now);
	t->abi.polls++;

	rec->abi.seq++;
	async__barrier();
	rec->abi.task_id = t->abi.id;
	rec->abi.task = (uint64_t)(uintptr_t)t;
	rec->abi.root_frame = (uint64_t)(uintptr_t)frame;
	rec->abi.fn = t->abi.fn;
	rec->abi.poll_start_ns = start;
	async__barrier();

	async__cur_task = t;
	w->yield_now = false;
	w->polling = true;
	enum async_poll r = t->poll(t->future, &cx);
	w->polling = false;

	async__barrier();
	rec->abi.task_id = 0;
	rec->abi.task = 0;
	rec->abi.root_frame = 0;
	rec->abi.fn = 0;
	rec->abi.poll_start_ns = 0;
	async__barrier();
	rec->abi.seq++;

	t->abi.fn = (uint64_t)(uintptr_t)frame->fn;
	return r;
}

/*
 * task_spawn's fn_desc for futures that name their descriptor only when first polled
 * (ASYNC_BEGIN): poll function -> the FUNCTION descriptor its traced polls reported,
 * learned only while the poll probe is on. A poll function seen with two different
 * descriptors is marked FN_MIXED and never answered for. Fixed-size, lock-free: a full
 * neighbourhood just means "not known" (fn_desc 0, as the probe contract allows).
 */
#define FN_SLOTS 512u
#define FN_PROBE 8u
#define FN_MIXED ((uintptr_t)1)
static struct {
	_Atomic uintptr_t poll;
	_Atomic uintptr_t desc;
} fn_known[FN_SLOTS];

static inline unsigned fn_slot(uintptr_t poll)
{
	return (unsigned)((poll >> 4) * 0x9e3779b1u >> 7) % FN_SLOTS;
}

static void fn_learn(async_poll_fn poll, uint64_t desc)
{
	uintptr_t p = (uintptr_t)poll, d = (uintptr_t)desc;

	if (!d)
		return;
	for (unsigned i = 0, k = fn_slot(p); i < FN_PROBE; i++, k = (k + 1) % FN_SLOTS) {
		uintptr_t cur = atomic_load_explicit(&fn_known[k].poll, memory_order_acquire);

		if (!cur && atomic_compare_exchange_strong_explicit(&fn_known[k].poll, &cur, p,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
			uintptr_t none = 0;

			/* a racing learner may have stored (or mixed) it already */
			if (!atomic_compare_exchange_strong_explicit(&fn_known[k].desc, &none, d,
								     memory_order_release,
								     memory_order_relaxed) &&
			    none != d)
				atomic_store_explicit(&fn_known[k].desc, FN_MIXED,
						      memory_order_release);
			return;
		}
		if (cur != p)
			continue;
		cur = atomic_load_explicit(&fn_known[k].desc, memory_order_acquire);
		while (cur != d && cur != FN_MIXED &&
		       !atomic_compare_exchange_weak_explicit(
			   &fn_known[k].desc, &cur, cur ? FN_MIXED : d, memory_order_release,
			   memory_order_acquire))
			;
		return;
	}
}

static uint64_t fn_lookup(async_poll_fn poll)
{
	uintptr_t p = (uintptr_t)poll;

	for (unsigned i = 0, k = fn_slot(p); i < FN_PROBE; i++, k = (k + 1) % FN_SLOTS) {
		uintptr_t cur = atomic_load_explicit(&fn_known[k].poll, memory_order_acquire);

		if (!cur)
			return 0;
		if (cur == p) {
			uintptr_t d = atomic_load_explicit(&fn_known[k].desc, memory_order_acquire);

			return d == FN_MIXED ? 0 : (uint64_t)d;
		}
	}
	return 0;
}

/*
 * The worker's ring slot for the next record, with the chain the task is stopped at (the
 * one this poll resumes from) written into it; the head is not moved yet.
 */
static __attribute__((always_inline)) inline struct async_ring_rec *
ring_begin(struct async__worker *w, const struct async_task *t, const struct async_frame *frame)
{
	struct async__ring *ring = w->rec->ring;

	if (__builtin_expect(!ring, 0)) {
		ring = async__ring_new(w->rec);
		w->poll_end_now = false;
		if (!ring)
			return NULL;
	}

	struct async_ring_rec *rec = &ring->recs[ring->abi.head & ring->mask];
	const struct async_frame *f = frame;
	unsigned depth = 0;

	rec->flags = 0;
	rec->wait_kind = (uint8_t)async__load(&t->abi.wait_kind);
	for (; f && depth < ASYNC_RING_DEPTH; depth++, f = f->child) {
		rec->fn[depth] = (uint64_t)(uintptr_t)f->fn;
		rec->at[depth] = (uint64_t)(uintptr_t)f->at;
		if (!f->at)
			break; /* not stopped at an await: its child pointer is stale */
	}
	if (depth < ASYNC_RING_DEPTH) {
		depth += f != NULL;
	} else if (f) {
		/* deeper than a record holds: the last slot takes the innermost frame */
		for (unsigned i = depth; f->child && f->at && i < ASYNC_CHAIN_MAX; i++)
			f = f->child;
		rec->fn[ASYNC_RING_DEPTH - 1] = (uint64_t)(uintptr_t)f->fn;
		rec->at[ASYNC_RING_DEPTH - 1] = (uint64_t)(uintptr_t)f->at;
		rec->flags = ASYNC_RING_TRUNCATED;
	}
	rec->depth = (uint8_t)(depth ? depth : 1);
	return rec;
}

/* Completes the record ring_begin started and publishes it (release on the head). */
static __attribute__((always_inline)) inline void
ring_end(struct async__worker *w, struct async_ring_rec *rec, struct async_task *t,
	 const struct async_frame *frame, uint64_t start, uint64_t end, uint64_t woken,
	 uint64_t waker, enum async_poll r)
{
	struct async__ring *ring = w->rec->ring;

	rec->task_id = t->abi.id;
	rec->start_ns = start;
	rec->end_ns = end;
	rec->woken_ns = woken;
	rec->waker_id = waker;
	rec->prev_end_ns = t->last_end_ns;
	rec->result = (uint8_t)r;
	rec->end_wait_kind = (uint8_t)async__load(&t->abi.wait_kind);
	rec->fn[0] =
	    (uint64_t)(uintptr_t)frame->fn; /* an ASYNC_BEGIN root names it when first polled */
	if (r == ASYNC_READY) {
		rec->state = 0;
		rec->leaf = 0;
	} else {
		rec->state = (uint64_t)(uintptr_t)frame->at;
		rec->leaf = (uint64_t)(uintptr_t)async__leaf_at(frame);
	}
	t->last_end_ns = end;
	__atomic_store_n(&ring->abi.head, ring->abi.head + 1, __ATOMIC_RELEASE);
}

/* The same poll with a tracer attached: timestamps, the ring record and the poll probe
 * (kept out of line so the untraced path carries none of its state across the poll). */
static __attribute__((noinline, cold)) enum async_poll poll_traced(struct async__worker *w,
								   struct async_task *t)
{
	struct async_frame *frame = t->future;
	/* first: allocating the ring (a thread's first traced poll) is not the poll's time */
	struct async_ring_rec *rec =
	    ASYNC_PROBE_ENABLED(ring) && w->rec ? ring_begin(w, t, frame) : NULL;
	uint64_t woken = async__load(&t->abi.last_wake_ns);
	/* back to back with the previous traced poll: its end is this one's start, unless
	 * the task was woken since (by another thread) */
	uint64_t start = w->poll_end_now && woken <= w->poll_end ? w->poll_end : async__clock();
	uint64_t waker = async__load(&t->waker_id);
	enum async_poll r = poll_once(w, t, start);
	uint64_t end = async__clock();

	w->poll_end = end;
	w->poll_end_now = true;
	fn_learn(t->poll, t->abi.fn);
	if (rec)
		ring_end(w, rec, t, frame, start, end, woken, waker, r);
	if (ASYNC_PROBE_ENABLED(poll))
		ASYNC_PROBE(poll, t->abi.id, start, end, woken,
			    r == ASYNC_READY ? 0 : (uint64_t)(uintptr_t)frame->at,
			    r == ASYNC_READY ? 0 : (uint64_t)(uintptr_t)async__leaf_at(frame),
			    waker, (uint32_t)r, t->abi.fn);
	return r;
}

/* ---- yielded tasks ------------------------------------------------------------------ */

static inline void yielded_push(struct async__worker *w, struct async_task *t)
{
	t->next = NULL;
	if (w->yielded_tail)
		w->yielded_tail->next = t;
	else
		w->yielded_head = t;
	w->yielded_tail = t;
}

/* Moves the yielded tasks to the back of the run queue (where stealers see them too). */
static void yielded_flush(struct async__worker *w)
{
	struct async_task *t = w->yielded_head, *next;

	w->yielded_head = w->yielded_tail = NULL;
	for (; t; t = next) {
		next = t->next;
		lq_push(w, t);
	}
}

/*
 * One poll of `t` and what follows it. `probes`: false in run_task_plain, the variant
 * workers use while every hot semaphore is clear (see choose_run_task), which then tests
 * no poll semaphore and takes no timestamps.
 */
static __attribute__((always_inline)) inline void run_task_impl(struct async__worker *w,
								struct async_task *t, bool probes)
{
	uint32_t s = atomic_fetch_add_explicit(&t->st, T_RUNNING - T_SCHED, memory_order_acquire);

	/* only a scheduled task is run, and never twice at once (SCHED -> RUNNING is +1) */
	ASYNC_ASSERT((s & T_SCHED) && !(s & T_RUNNING));
	if (s & T_ABORTED) {
		async__task_complete(t, ASYNC_ECANCELED);
		return;
	}

	enum async_poll r;

	/* a task whose spawn a tracer saw has every poll seen, even on a worker whose
	 * choice of variant is up to 16 polls old (the test is on a register) */
	bool traced = probes || (s & T_TRACED);

	if (traced && POLL_TRACED())
		r = poll_traced(w, t);
	else
		r = poll_once(w, t, 0);

	if (__builtin_expect(w->wake_driver, 0)) {
		w->wake_driver = false;
		async__driver_wake(w->exec);
	}
	if (r == ASYNC_READY) {
		/* still the current task: the join waker's wake names it as the waker */
		async__task_complete(t, 0);
		async__cur_task = NULL;
		return;
	}
	async__cur_task = NULL;

	s = atomic_load_explicit(&t->st, memory_order_acquire);
	for (;;) {
		uint32_t ns;

		if (s & T_ABORTED) {
			async__task_complete(t, ASYNC_ECANCELED);
			return;
		}
		if ((s & T_NOTIFIED) || w->yield_now) {
			ns = (s & ~(T_RUNNING | T_NOTIFIED)) | T_SCHED;
			if (atomic_compare_exchange_weak_explicit(
				&t->st, &s, ns, memory_order_acq_rel, memory_order_acquire)) {
				if (w->yield_now) {
					/* a yield is a wake at the poll's end: no idle time */
					async__store(&t->waker_id, t->abi.id);
					async__store(&t->abi.last_wake_ns, traced && POLL_TRACED()
									       ? w->poll_end
									       : w->now);
				}
				async__store(&t->abi.state, ASYNC_TASK_SCHEDULED);
				if (w->yield_now) {
					yielded_push(w, t);
					return;
				}
				lq_push(w, t);
				if (!w->exec->single)
					notify(w->exec);
				return;
			}
		} else {
			ns = s & ~T_RUNNING;
			/* release (a plain store on x86): a reader that sees IDLE also sees
			 * what the poll stored before it returned */
			__atomic_store_n(&t->abi.state, ASYNC_TASK_IDLE, __ATOMIC_RELEASE);
			since(t, w->now);
			if (atomic_compare_exchange_weak_explicit(
				&t->st, &s, ns, memory_order_acq_rel, memory_order_acquire))
				return;
		}
	}
}

static void run_task_plain(struct async__worker *w, struct async_task *t)
{
	run_task_impl(w, t, false);
}

static ASYNC__PROBE_COLD void run_task_probed(struct async__worker *w, struct async_task *t)
{
	run_task_impl(w, t, true);
}

/*
 * Which variant runs the worker's polls: chosen when the worker starts, after it was
 * idle, and every 16 polls (with the clock refresh in next_task), from one load of the
 * hot semaphores. So an untraced poll tests no semaphore at all; a tracer that attaches
 * to a busy worker sees tasks spawned before it attached from at most 16 polls later (to
 * an idle one, from the first), and tasks spawned since (T_TRACED) from their first
 * poll; the probed variant tests each probe's own semaphore.
 */
static inline void choose_run_task(struct async__worker *w)
{
	w->run_task = ASYNC_PROBES_HOT() ? run_task_probed : run_task_plain;
	w->poll_end_now = false; /* a fresh clock read for the next traced poll's start */
}

static inline void run_task(struct async__worker *w, struct async_task *t)
{
#ifdef ASYNC_NO_PROBES
	run_task_plain(w, t);
#else
	w->run_task(w, t);
#endif
}

static struct async_task *inject_pop(struct async__worker *w)
{
	struct async_exec *exec = w->exec;

	if (!atomic_load_explicit(&exec->inject_len, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&exec->inject_lock);
	size_t len = atomic_load_explicit(&exec->inject_len, memory_order_relaxed);
	size_t room = LQ_SIZE - lq_len(&w->q);
	size_t n = len / exec->nworkers + 1;

	if (n > len)
		n = len;
	if (n > LQ_SIZE / 2)
		n = LQ_SIZE / 2;
	if (n > room + 1)
		n = room + 1;
	struct async_task *first = exec->inject_head, *last = first;

	for (size_t i = 1; i < n; i++)
		last = last->next;
	if (n) {
		exec->inject_head = last->next;
		if (!exec->inject_head)
			exec->inject_tail = NULL;
		last->next = NULL;
	}
	atomic_fetch_sub_explicit(&exec->inject_len, n, memory_order_release);
	pthread_mutex_unlock(&exec->inject_lock);
	if (!n)
		return NULL;
	for (struct async_task *t = first->next, *next; t; t = next) {
		next = t->next;
		lq_push(w, t);
	}
	return first;
}

static struct async_task *steal(struct async__worker *w)
{
	struct async_exec *exec = w->exec;
	unsigned n = exec->nworkers;

	if (n < 2)
		return NULL;
	w->rng = w->rng * 1103515245u + 12345u;
	unsigned start = (w->rng >> 16) % n;

	for (unsigned i = 0; i < n; i++) {
		struct async__worker *v = &exec->workers[(start + i) % n];

		if (v == w)
			continue;
		struct async_task *t = lq_steal(w, v);

		if (t)
			return t;
	}
	return NULL;
}

static struct async_task *next_task(struct async__worker *w)
{
	struct async_task *t;

	if ((++w->tick & 15) == 0) {
		w->now = async__clock();
		choose_run_task(w);
		if ((w->tick & 63) == 0 && (t = inject_pop(w)))
			return t;
	}
	if ((t = lq_pop(w)))
		return t;
	t = inject_pop(w);
	if (!t && w->yielded_head) {
		/* every task ready before the yields has run: now what became ready since
		 * (timers and I/O; the multi-threaded driver's wakes arrive by injection),
		 * then the yielded tasks, in the order they yielded */
		if (w->exec->single)
			async__driver_turn(w->exec, false); /* wakes go to this queue */
		else
			t = inject_pop(w);
		if (t) {
			yielded_flush(w);
			return t;
		}
		yielded_flush(w);
		t = lq_pop(w);
	}
	if (!t)
		t = steal(w);
	/* found work elsewhere and have more than this: wake a helper */
	if (t && lq_len(&w->q))
		notify(w->exec);
	return t;
}

/* ---- workers (multi-threaded) -------------------------------------------------------- */

static void pause_worker(struct async_exec *exec)
{
	pthread_mutex_lock(&exec->run_lock);
	exec->paused++;
	pthread_cond_broadcast(&exec->run_cond);
	while (atomic_load(&exec->stopping) && !atomic_load(&exec->shutdown))
		pthread_cond_wait(&exec->run_cond, &exec->run_lock);
	exec->paused--;
	pthread_mutex_unlock(&exec->run_lock);
}

/* A thread of the executor has its registry record: async_exec_new waits for all. */
static void started(struct async_exec *exec)
{
	pthread_mutex_lock(&exec->run_lock);
	exec->nstarted++;
	pthread_cond_broadcast(&exec->run_cond);
	pthread_mutex_unlock(&exec->run_lock);
}

static void *worker_main(void *arg)
{
	struct async__worker *w = arg;
	struct async_exec *exec = w->exec;

	static __thread struct async__thread unlisted; /* if registering fails (ENOMEM) */
	struct async__thread *rec = async__thread_register(ASYNC_THREAD_WORKER, w->index);

	w->rec = rec ? rec : &unlisted;
	started(exec);
	async__cur_worker = w;
	w->now = async__clock();
	choose_run_task(w);
	while (!atomic_load_explicit(&exec->shutdown, memory_order_acquire)) {
		if (atomic_load_explicit(&exec->stopping, memory_order_acquire)) {
			w->poll_end_now = false;
			yielded_flush(w); /* queued where a shutdown drains them */
			pause_worker(exec);
			continue;
		}
		struct async_task *t = next_task(w);

		if (t) {
			if (__builtin_expect(
				atomic_load_explicit(&exec->stopping, memory_order_relaxed), 0)) {
				lq_push(w, t); /* stopped meanwhile: no new poll */
				continue;
			}
			run_task(w, t);
			continue;
		}
		w->poll_end_now = false;
		/* spin briefly (SPIN_NS) before parking: work often arrives within microseconds */
		uint64_t spin_end = async__clock() + SPIN_NS;
		bool work = false;

		do {
			for (int k = 0; k < 64; k++)
				cpu_relax();
			work = has_work(exec);
		} while (!work && async__clock() < spin_end);
		if (!work)
			park(w);
		w->now = async__clock();
		choose_run_task(w); /* a tracer attached while idle sees the first poll */
	}
	yielded_flush(w);
	async__cur_worker = NULL;
	task_cache_flush();
	async__thread_unregister(rec);
	w->rec = NULL;
	return NULL;
}

static void *driver_main(void *arg)
{
	struct async_exec *exec = arg;
	struct async__thread *rec = async__thread_register(ASYNC_THREAD_REACTOR, 0);

	started(exec);
	while (!atomic_load_explicit(&exec->shutdown, memory_order_acquire))
		async__driver_turn(exec, true);
	async__thread_unregister(rec);
	return NULL;
}

/* ---- executor ------------------------------------------------------------------------ */

static void exec_stop_threads(struct async_exec *exec)
{
	atomic_store(&exec->shutdown, 1);
	pthread_mutex_lock(&exec->run_lock);
	pthread_cond_broadcast(&exec->run_cond);
	pthread_mutex_unlock(&exec->run_lock);
	notify_all(exec);
	for (unsigned i = 0; i < exec->nworkers; i++) {
		struct async__worker *w = &exec->workers[i];

		if (w->started) {
			/* it may be between has_work() and futex_wait: keep waking until it exits
			 */
			atomic_store(&w->parked, 0);
			futex(&w->parked, FUTEX_WAKE_PRIVATE, 1);
			pthread_join(w->thread, NULL);
			w->started = false;
		}
	}
	if (exec->has_driver) {
		async__driver_wake(exec);
		pthread_join(exec->driver, NULL);
		exec->has_driver = false;
	}
}

int async_exec_new(const struct async_exec_opts *opts, struct async_exec **out)
{
	struct async_exec_opts def = { 0 };
	struct async_exec *exec;
	int err;

	if (!out)
		return ASYNC_EINVAL;
	*out = NULL;
	if (!opts)
		opts = &def;
	exec = calloc(1, sizeof(*exec));
	if (!exec)
		return ASYNC_ENOMEM;
	exec->single = opts->single_threaded;
	exec->data = opts->data;
	if (exec->single) {
		exec->nworkers = 1;
	} else {
		long n = opts->workers ? (long)opts->workers : sysconf(_SC_NPROCESSORS_ONLN);

		exec->nworkers = n > 0 ? (unsigned)n : 1;
	}
	pthread_mutex_init(&exec->inject_lock, NULL);
	pthread_mutex_init(&exec->sleep_lock, NULL);
	pthread_mutex_init(&exec->run_lock, NULL);
	pthread_cond_init(&exec->run_cond, NULL);
	exec->reactor.epfd = -1;
	exec->reactor.evfd = -1;
	if (posix_memalign((void **)&exec->workers, 64, exec->nworkers * sizeof(*exec->workers))) {
		exec->workers = NULL;
		err = ASYNC_ENOMEM;
		goto fail;
	}
	memset(exec->workers, 0, exec->nworkers * sizeof(*exec->workers));
	exec->sleepers = calloc(exec->nworkers, sizeof(*exec->sleepers));
	if (!exec->sleepers) {
		err = ASYNC_ENOMEM;
		goto fail;
	}
	err = async__timers_init(&exec->timers);
	if (err)
		goto fail;
	err = async__reactor_init(&exec->reactor);
	if (err)
		goto fail;
	err = async__blocking_pool_new(opts->blocking_threads ? opts->blocking_threads : 4,
				       &exec->blocking);
	if (err)
		goto fail;
	for (unsigned i = 0; i < exec->nworkers; i++) {
		exec->workers[i].exec = exec;
		exec->workers[i].index = i;
		exec->workers[i].rng = 0x9e3779b9u * (i + 1);
	}
	if (!exec->single) {
		for (unsigned i = 0; i < exec->nworkers; i++) {
			struct async__worker *w = &exec->workers[i];

			err = -pthread_create(&w->thread, NULL, worker_main, w);
			if (err)
				goto fail;
			w->started = true;
		}
		err = -pthread_create(&exec->driver, NULL, driver_main, exec);
		if (err)
			goto fail;
		exec->has_driver = true;
		/* tracers find every worker's record once this returns */
		pthread_mutex_lock(&exec->run_lock);
		while (exec->nstarted < exec->nworkers + 1)
			pthread_cond_wait(&exec->run_cond, &exec->run_lock);
		pthread_mutex_unlock(&exec->run_lock);
	}
	*out = exec;
	return 0;
fail:
	async_exec_free(exec);
	return err;
}

void *async_exec_data(const struct async_exec *exec)
{
	return exec ? exec->data : NULL;
}

static int single_loop(struct async_exec *exec)
{
	struct async__worker *w = &exec->workers[0];
	struct async__worker *saved = async__cur_worker;

	w->rec = async__thread_register(ASYNC_THREAD_WORKER, 0);
	if (!w->rec)
		return ASYNC_ENOMEM;
	async__cur_worker = w;
	w->now = async__clock();
	choose_run_task(w);
	while (atomic_load_explicit(&exec->live, memory_order_acquire) &&
	       !atomic_load_explicit(&exec->stopping, memory_order_acquire)) {
		struct async_task *t;

		if ((w->tick & 63) == 0 || atomic_load_explicit(&exec->timers.next_deadline,
								memory_order_relaxed) <= w->now) {
			async__driver_turn(exec, false);
			w->poll_end_now = false;
		}
		t = next_task(w);
		if (t) {
			run_task(w, t);
			continue;
		}
		w->poll_end_now = false;
		atomic_store(&exec->loop_sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		if (!has_work(exec) && atomic_load(&exec->live) && !atomic_load(&exec->stopping))
			async__driver_turn(exec, true);
		atomic_store(&exec->loop_sleeping, 0);
		w->now = async__clock();
		choose_run_task(w); /* a tracer attached while idle sees the first poll */
	}
	yielded_flush(w);
	async__cur_worker = saved;
	task_cache_flush();
	async__thread_unregister(w->rec);
	w->rec = NULL;
	return 0;
}

int async_exec_run(struct async_exec *exec)
{
	if (!exec)
		return ASYNC_EINVAL;
	if (async__cur_worker)
		return ASYNC_EBUSY; /* from inside a task */
	pthread_mutex_lock(&exec->run_lock);
	if (exec->running) {
		pthread_mutex_unlock(&exec->run_lock);
		return ASYNC_EBUSY;
	}
	exec->running = true;
	/* a stop issued since the last run returned (tasks run before async_exec_run in a
	 * multi-threaded executor) is not lost: this run returns at once */
	if (atomic_load(&exec->stop_gen) == exec->stop_seen) {
		atomic_store(&exec->stopping, 0);
		pthread_cond_broadcast(&exec->run_cond);
	}
	pthread_mutex_unlock(&exec->run_lock);

	int err = 0;

	if (exec->single) {
		err = single_loop(exec);
	} else {
		notify(exec);
		pthread_mutex_lock(&exec->run_lock);
		while (!atomic_load(&exec->shutdown)) {
			if (atomic_load(&exec->live) == 0)
				break;
			if (atomic_load(&exec->stopping) && exec->paused == exec->nworkers)
				break;
			if (atomic_load(&exec->stopping))
				notify_all(exec);
			pthread_cond_wait(&exec->run_cond, &exec->run_lock);
		}
		pthread_mutex_unlock(&exec->run_lock);
	}
	pthread_mutex_lock(&exec->run_lock);
	exec->stop_seen = atomic_load(&exec->stop_gen);
	exec->running = false;
	pthread_mutex_unlock(&exec->run_lock);
	return err;
}

void async_exec_stop(struct async_exec *exec)
{
	if (!exec)
		return;
	atomic_fetch_add(&exec->stop_gen, 1);
	atomic_store(&exec->stopping, 1);
	pthread_mutex_lock(&exec->run_lock);
	pthread_cond_broadcast(&exec->run_cond);
	pthread_mutex_unlock(&exec->run_lock);
	if (exec->single)
		async__driver_wake(exec);
	else
		notify_all(exec);
}

/* Shutdown: pops every queued task (all of them SCHED, none RUNNING) and aborts it. */
static bool drain_queues(struct async_exec *exec)
{
	bool any = false;

	for (unsigned i = 0; i < exec->nworkers; i++) {
		struct async__worker *w = &exec->workers[i];
		struct async_task *t;

		while ((t = lq_pop(w))) {
			uint32_t st = atomic_fetch_add(&t->st, T_RUNNING - T_SCHED);

			ASYNC_ASSERT((st & T_SCHED) && !(st & T_RUNNING));
			(void)st;
			async__task_complete(t, ASYNC_ECANCELED);
			any = true;
		}
	}
	for (;;) {
		pthread_mutex_lock(&exec->inject_lock);
		struct async_task *t = exec->inject_head;

		if (t) {
			exec->inject_head = t->next;
			if (!exec->inject_head)
				exec->inject_tail = NULL;
			atomic_fetch_sub(&exec->inject_len, 1);
		}
		pthread_mutex_unlock(&exec->inject_lock);
		if (!t)
			break;
		uint32_t st = atomic_fetch_add(&t->st, T_RUNNING - T_SCHED);

		ASYNC_ASSERT((st & T_SCHED) && !(st & T_RUNNING));
		(void)st;
		async__task_complete(t, ASYNC_ECANCELED);
		any = true;
	}
	return any;
}

struct collect {
	struct async_task **v;
	size_t n, cap;
};

static void collect_one(struct async_task *t, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct async_task **v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return;
		c->v = v;
		c->cap = cap;
	}
	atomic_fetch_add(&t->refs, 1);
	c->v[c->n++] = t;
}

static void abort_all(struct async_exec *exec)
{
	struct async__worker *w = &exec->workers[0];
	struct async__worker *saved = async__cur_worker;

	/* drops may wake tasks: let those wakes land in worker 0's ring to be drained */
	async__cur_worker = w;
	for (int round = 0; round < 1000; round++) {
		struct collect c = { 0 };
		bool any = drain_queues(exec);

		async__registry_each(exec, collect_one, &c);
		for (size_t i = 0; i < c.n; i++) {
			struct async_task *t = c.v[i];
			uint32_t s = atomic_load(&t->st);

			while (!(s & (T_DONE | T_SCHED | T_RUNNING))) {
				if (atomic_compare_exchange_weak(&t->st, &s,
								 s | T_ABORTED | T_RUNNING)) {
					async__task_complete(t, ASYNC_ECANCELED);
					break;
				}
			}
			async__task_release(t);
			any = true;
		}
		free(c.v);
		if (!any)
			break;
	}
	async__cur_worker = saved;
}

void async_exec_free(struct async_exec *exec)
{
	if (!exec)
		return;
	exec_stop_threads(exec);
	if (exec->blocking) {
		async__blocking_pool_free(exec->blocking);
		exec->blocking = NULL;
	}
	if (exec->workers) {
		abort_all(exec);
		async__timers_fini(&exec->timers);
		drain_queues(exec);
	}
	async__reactor_fini(&exec->reactor);
	task_cache_flush();
	free(exec->timers.heap);
	pthread_mutex_destroy(&exec->timers.lock);
	pthread_mutex_destroy(&exec->inject_lock);
	pthread_mutex_destroy(&exec->sleep_lock);
	pthread_mutex_destroy(&exec->run_lock);
	pthread_cond_destroy(&exec->run_cond);
	free(exec->sleepers);
	free(exec->workers);
	free(exec);
}

struct async__blocking_pool *async__exec_blocking_pool(struct async_exec *exec)
{
	return exec ? exec->blocking : NULL;
}

/* ---- spawn / join ---------------------------------------------------------------------- */

static const struct async_desc join_desc
    __attribute__((section(ASYNC_DESC_SECTION), used, aligned(8))) = {
	    .magic = ASYNC_DESC_MAGIC,
	    .kind = ASYNC_DESC_LEAF,
	    .line = __LINE__,
	    .function = "async_join_poll",
	    .file = __FILE__,
    };

/* A spawn with the poll or task_spawn probe enabled (one test on the spawn path). */
static ASYNC__PROBE_COLD void probe_spawn(struct async_task *t)
{
	if (POLL_TRACED()) /* the poll record's woken_ns: precise, not cached */
		t->abi.last_wake_ns = async__clock();
	if (ASYNC_PROBE_ENABLED(task_spawn)) {
		/* before its first poll an ASYNC_BEGIN future has no descriptor: use the one
		 * earlier traced polls of the same poll function reported, if any */
		uint64_t fn = t->abi.fn ? t->abi.fn : fn_lookup(t->poll);

		ASYNC_PROBE(task_spawn, t->abi.id, t->abi.parent_id, fn, t->abi.name,
			    (uint64_t)(uintptr_t)t);
	}
}

int async_spawn(struct async_exec *exec, const char *name, async_poll_fn poll, void *future,
		async_drop_fn drop, struct async_join *join)
{
	if (join)
		memset(join, 0, sizeof(*join));
	if (!exec || !poll || !future)
		return ASYNC_EINVAL;
	if (atomic_load_explicit(&exec->shutdown, memory_order_relaxed))
		return ASYNC_ESHUTDOWN;

	struct async_task *t = task_alloc();

	if (!t)
		return ASYNC_ENOMEM;

	struct async_task *parent = async__cur_task;
	const struct async_frame *frame = future;
	uint64_t now = thread_now();

	memset(&t->abi, 0, sizeof(t->abi));
	t->abi.magic = ASYNC_TASK_MAGIC;
	async__store(&t->abi.state, ASYNC_TASK_SCHEDULED);
	t->abi.parent_id = parent ? parent->abi.id : 0;
	t->abi.fn = (uint64_t)(uintptr_t)frame->fn;
	t->abi.name = (uint64_t)(uintptr_t)name;
	t->abi.root_frame = (uint64_t)(uintptr_t)frame;
	t->abi.spawn_ns = now;
	t->abi.state_since_ns = now;
	t->abi.last_wake_ns = now;
	t->poll = poll;
	t->future = future;
	t->drop = drop;
	t->exec = exec;
	t->next = NULL;
	t->join_waker.task = NULL;
	t->result = 0;
	t->waker_id = 0;
	t->last_end_ns = 0;
	atomic_init(&t->st, T_SCHED | (join ? T_JOIN : 0));
	atomic_init(&t->refs, join ? 2 : 1);
	if (join) {
		join->frame.fn = &join_desc;
		join->task = t;
	}
	atomic_fetch_add_explicit(&exec->live, 1, memory_order_relaxed);
	async__registry_link(t); /* assigns the id */
	if (ASYNC_PROBES_HOT()) {
		probe_spawn(t);
		atomic_fetch_or_explicit(&t->st, T_TRACED, memory_order_relaxed);
	}
	push(t);
	return 0;
}
