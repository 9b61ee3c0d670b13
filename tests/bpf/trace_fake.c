/* SPDX-License-Identifier: MIT */
/*
 * trace_fake: fires libasync's USDT probes (same provider, names and arguments as the
 * runtime) for a known, deterministic workload without running the runtime, so the
 * trace tests have exact expected counts that do not depend on scheduling:
 *
 *   trace_fake [--tasks N] [--io-ms MS] [--long-ms MS] [--rounds R] [--exit S] [--no-wait 1]
 *
 * Per round: N tasks of "fake_user" are spawned; each is polled three times (pending at
 * fake_profile, pending at fake_posts, ready) with MS of sleep between the poll waves;
 * with --long-ms the first poll of every task sleeps that long inside the poll. The
 * descriptors are real ones in the async_desc section. --rounds 0 runs forever. Exits
 * with status S (default 0). Pending polls fire the wait probe (a timer wait) unless
 * --no-wait 1: then nothing the runtime knows of could wake them (a lost waker).
 * While a tracer holds the ring probe, every poll is also written to a poll ring the way
 * the runtime writes it (include/async/abi.h), announced and flushed with the ring probe.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <async/future.h>

#ifndef SDT_USE_VARIADIC
#define SDT_USE_VARIADIC 1
#endif
#include "../../runtime/probes.h"

static const struct async_desc *d_fn, *d_profile, *d_posts;
static unsigned no_wait;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

struct fake_task {
	uint64_t id;
	uint64_t woken;
	uint64_t last_end; /* end of its previous poll */
};

/* The poll ring of the one "worker" thread. */
#define FAKE_SLOTS 4096u
static struct {
	struct async_ring_abi abi;
	struct async_ring_rec recs[FAKE_SLOTS];
} ring __attribute__((aligned(64)));
static uint32_t ring_tid;

static void ring_probe(uint32_t event)
{
	/* through registers: libbpf cannot read %rip-relative USDT arguments */
	uint64_t addr = (uint64_t)(uintptr_t)&ring, head = ring.abi.head;
	uint32_t tid = ring_tid, slots = FAKE_SLOTS;

	__asm__ volatile("" : "+r"(addr), "+r"(head), "+r"(tid), "+r"(slots));
	if (ASYNC_PROBE_ENABLED(ring))
		ASYNC_PROBE(ring, tid, addr, slots, head, event);
}

static void ring_put(struct fake_task *t, uint64_t start, uint64_t end, uint64_t resumed_at,
		     uint64_t state, uint32_t ready, uint32_t wait_kind)
{
	struct async_ring_rec *r;

	if (!ASYNC_PROBE_ENABLED(ring))
		return;
	if (!ring.abi.magic) {
		ring_tid = (uint32_t)syscall(SYS_gettid);
		ring.abi.magic = ASYNC_RING_MAGIC;
		ring.abi.rec_size = sizeof(struct async_ring_rec);
		ring.abi.slots = FAKE_SLOTS;
		ring.abi.tid = ring_tid;
		ring.abi.recs = (uint64_t)(uintptr_t)ring.recs;
		ring_probe(ASYNC_RING_NEW);
	}
	r = &ring.recs[ring.abi.head & (FAKE_SLOTS - 1)];
	memset(r, 0, sizeof(*r));
	r->task_id = t->id;
	r->start_ns = start;
	r->end_ns = end;
	r->woken_ns = t->woken;
	r->prev_end_ns = t->last_end;
	r->state = state;
	r->leaf = state;
	r->result = (uint8_t)ready;
	r->depth = 1;
	r->wait_kind = resumed_at && !no_wait ? ASYNC_WAIT_TIMER : ASYNC_WAIT_NONE;
	r->end_wait_kind = (uint8_t)wait_kind;
	r->fn[0] = (uint64_t)(uintptr_t)d_fn;
	r->at[0] = resumed_at;
	t->last_end = end;
	__atomic_store_n(&ring.abi.head, ring.abi.head + 1, __ATOMIC_RELEASE);
}

/* Its descriptors carry function "fake_user_poll", displayed as "fake_user". */
static void fake_user_poll(void)
{
	ASYNC__DESC(fn_desc, ASYNC_DESC_FUNCTION, 0);
	ASYNC__DESC(profile_desc, ASYNC_DESC_AWAIT, "fake_profile");
	ASYNC__DESC(posts_desc, ASYNC_DESC_AWAIT, "fake_posts");

	d_fn = &fn_desc;
	d_profile = &profile_desc;
	d_posts = &posts_desc;
}

static void poll_wave(struct fake_task *t, unsigned n, unsigned wave, unsigned long_ms)
{
	static const char name[] = "fake_user";

	for (unsigned i = 0; i < n; i++) {
		uint64_t start = now_ns(), end;
		const struct async_desc *state = wave == 0 ? d_profile : wave == 1 ? d_posts : 0;
		uint32_t ready = wave == 2;
		/* through a register: libbpf cannot read %rip-relative USDT arguments */
		uint64_t fn = (uint64_t)(uintptr_t)d_fn;

		__asm__ volatile("" : "+r"(fn));

		(void)name;
		if (wave == 0 && long_ms)
			sleep_ms(long_ms);
		end = now_ns();
		/* like the runtime: the wait probe fires inside the poll, before its end */
		if (!ready && !no_wait && ASYNC_PROBE_ENABLED(wait))
			ASYNC_PROBE(wait, t[i].id, (uint32_t)5, (uint64_t)0, (uint64_t)0,
				    (uint64_t)(uintptr_t)state);
		ring_put(&t[i], start, end,
			 wave == 0 ? 0 : (uint64_t)(uintptr_t)(wave == 1 ? d_profile : d_posts),
			 (uint64_t)(uintptr_t)state, ready,
			 !ready && !no_wait ? ASYNC_WAIT_TIMER : ASYNC_WAIT_NONE);
		if (ASYNC_PROBE_ENABLED(poll))
			ASYNC_PROBE(poll, t[i].id, start, end, t[i].woken,
				    (uint64_t)(uintptr_t)state, (uint64_t)(uintptr_t)state,
				    (uint64_t)0, ready, fn);
		if (ready && ASYNC_PROBE_ENABLED(task_done))
			ASYNC_PROBE(task_done, t[i].id, (int32_t)0, end);
	}
}

int main(int argc, char **argv)
{
	static const char name[] = "fake_user";
	unsigned n = 10, io_ms = 5, long_ms = 0, rounds = 1, status = 0;
	uint64_t next_id = 1;
	struct fake_task *t;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "trace_fake: bad arguments\n");
			return 2;
		}
		if (!strcmp(argv[i], "--tasks"))
			n = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--io-ms"))
			io_ms = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--long-ms"))
			long_ms = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--no-wait"))
			no_wait = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--exit"))
			status = (unsigned)atoi(v);
		else {
			fprintf(stderr, "trace_fake: unknown option '%s'\n", argv[i]);
			return 2;
		}
		i++;
	}
	fake_user_poll();
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return 1;
	for (unsigned r = 0; rounds == 0 || r < rounds; r++) {
		for (unsigned i = 0; i < n; i++) {
			uint64_t fn = (uint64_t)(uintptr_t)d_fn;

			__asm__ volatile("" : "+r"(fn));
			t[i].id = next_id++;
			t[i].woken = now_ns();
			t[i].last_end = 0;
			if (ASYNC_PROBE_ENABLED(task_spawn))
				ASYNC_PROBE(task_spawn, t[i].id, (uint64_t)0, fn,
					    (uint64_t)(uintptr_t)name, (uint64_t)(uintptr_t)&t[i]);
		}
		for (unsigned wave = 0; wave < 3; wave++) {
			poll_wave(t, n, wave, long_ms);
			if (wave < 2) {
				sleep_ms(io_ms);
				for (unsigned i = 0; i < n; i++)
					t[i].woken = now_ns();
			}
		}
		printf("round %u done\n", r + 1);
		fflush(stdout);
	}
	free(t);
	ring_probe(ASYNC_RING_FLUSH);
	return (int)status;
}
