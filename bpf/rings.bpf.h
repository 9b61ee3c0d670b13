/* SPDX-License-Identifier: MIT */
/*
 * Draining libasync's poll rings (include/async/abi.h, "poll rings") from BPF, for the
 * programs that aggregate or record polls. Two ways in, one code path:
 * - the sleepable task iterator (SEC("iter.s/task")) the loader triggers periodically:
 *   ai_rings_drain_task() reads the visited thread's ring with bpf_copy_from_user_task,
 *   no trap in the traced process at all;
 * - the `ring` USDT probe (rare: a ring is created or about to go away):
 *   ai_rings_probe() registers a new ring, or drains one with bpf_probe_read_user from
 *   the process that owns it.
 * Readers claim ranges of a ring by compare-and-swap on its tail, so the two never read a
 * record twice. Every record read goes to ai_ring_record(rec, pid, tid), which the including
 * program defines before including this file. Overruns (records overwritten before they
 * were read) are counted in the ring's state, never silent.
 */
#ifndef AI_RINGS_BPF_H
#define AI_RINGS_BPF_H

#include "rings.h"

/* A global BPF function (verified once per program, not once per call site). */
__attribute__((noinline)) int ai_ring_record(const struct async_ring_rec *r, __u32 pid, __u32 tid);

/* Set by the loader once its final drain is done: nothing is counted any more. */
volatile __u32 rings_stopped;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AI_RINGS_MAX);
	__type(key, __u32); /* tid */
	__type(value, struct ai_ring_state);
} rings SEC(".maps");

/* Scratch: one for the iterator, one for probes (a probe may run while the sleepable
 * iterator waits for a page on the same CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ai_ring_buf);
} ring_bufs SEC(".maps");

struct ai_drain_ctx {
	struct task_struct *task; /* iterator: the thread; NULL in a probe (current process) */
	__u64 head;		  /* head read when the drain began */
	__u32 tid;
	__u32 pid;
	__u32 buf;   /* ring_bufs index */
	__u32 first; /* first valid record of the chunk in the buffer */
	__u32 n;     /* valid records */
	__u32 pad;
};

/* Copies `bytes` (at most AI_RING_CHUNK records) from `src` in the ring's process. */
static __always_inline long ai_ring_copy(void *dst, __u64 bytes, __u64 src,
					 struct task_struct *task, int sleepable)
{
	/* clang 14 does not keep the bound in a register the verifier sees: mask it */
	asm volatile("%0 &= 0x3fff" : "+r"(bytes));
	if (sleepable)
		return bpf_copy_from_user_task(dst, bytes, (void *)src, task, 0);
	return bpf_probe_read_user(dst, bytes, (void *)src);
}

/*
 * One step of a drain: skips what was overwritten, or claims, copies and aggregates up to
 * AI_RING_CHUNK contiguous records. Returns 1 when the ring is drained up to c->head.
 */
static __always_inline long ai_ring_step(struct ai_drain_ctx *c, int sleepable)
{
	struct ai_ring_state *st = bpf_map_lookup_elem(&rings, &c->tid);
	struct ai_ring_buf *b;
	__u64 tail, slots, idx, n, head2 = 0, bad = 0;

	if (!st || !st->ring || !st->slots)
		return 1;
	tail = st->tail;
	slots = st->slots;
	if (tail >= c->head)
		return 1;
	if (c->head - tail > slots) {
		__u64 skip = c->head - slots;

		if (__sync_val_compare_and_swap(&st->tail, tail, skip) == tail)
			__sync_fetch_and_add(&st->lost, skip - tail);
		return 0;
	}
	idx = tail & (slots - 1);
	n = c->head - tail;
	if (n > AI_RING_CHUNK)
		n = AI_RING_CHUNK;
	if (n > slots - idx)
		n = slots - idx;
	if (__sync_val_compare_and_swap(&st->tail, tail, tail + n) != tail)
		return 0; /* another reader took it: look again */
	b = bpf_map_lookup_elem(&ring_bufs, &c->buf);
	if (!b)
		return 1;
	if (ai_ring_copy(b->recs, n * sizeof(struct async_ring_rec),
			 st->recs + idx * sizeof(struct async_ring_rec), c->task, sleepable)) {
		__sync_fetch_and_add(&st->lost, n);
		__sync_fetch_and_add(&st->faults, n);
		return 0;
	}
	/* what the writer overwrote while we copied is not what it was: count it lost */
	if (ai_ring_copy(&head2, sizeof(head2),
			 st->ring + __builtin_offsetof(struct async_ring_abi, head), c->task,
			 sleepable))
		head2 = c->head;
	if (head2 > slots && head2 - slots > tail)
		bad = head2 - slots - tail;
	if (bad > n)
		bad = n;
	if (bad)
		__sync_fetch_and_add(&st->lost, bad);
	c->first = (__u32)bad;
	c->n = (__u32)(n - bad);
	if (c->n && !rings_stopped) {
		/* a plain bounded loop: a bpf_loop callback per record (an indirect call)
		 * cost more than the aggregation itself */
#pragma clang loop unroll(disable)
		for (__u32 i = 0; i < AI_RING_CHUNK; i++) {
			if (i >= c->n)
				break;
			ai_ring_record(&b->recs[(c->first + i) & (2 * AI_RING_CHUNK - 1)], c->pid,
				       c->tid);
		}
		__sync_fetch_and_add(&st->read, c->n);
	}
	return 0;
}

static long ai_ring_step_task(__u32 i, struct ai_drain_ctx *c)
{
	return ai_ring_step(c, 1);
}

static long ai_ring_step_user(__u32 i, struct ai_drain_ctx *c)
{
	return ai_ring_step(c, 0);
}

/* Steps a drain of `pending` records needs at most (overrun skip + wrap + chunks). */
static __always_inline __u32 ai_ring_steps(__u64 pending, __u32 slots)
{
	if (pending > slots)
		pending = slots;
	return (__u32)(pending / AI_RING_CHUNK) + 4;
}

/* Iterator: drains the ring of the visited thread, if it has one this loader follows. */
static __always_inline void ai_rings_drain_task(struct task_struct *task)
{
	struct ai_drain_ctx c = { .task = task, .buf = 0 };
	struct ai_ring_state *st;

	if (!task || rings_stopped)
		return;
	c.tid = task->pid;
	c.pid = task->tgid;
	st = bpf_map_lookup_elem(&rings, &c.tid);
	if (!st || !st->ring || st->pid != c.pid)
		return;
	if (bpf_copy_from_user_task(
		&c.head, sizeof(c.head),
		(void *)(st->ring + __builtin_offsetof(struct async_ring_abi, head)), task, 0))
		return;
	if (c.head <= st->tail)
		return;
	bpf_loop(ai_ring_steps(c.head - st->tail, st->slots), ai_ring_step_task, &c, 0);
}

/* The `ring` probe: a ring appeared (NEW: follow it from `head`) or is going (FLUSH). */
static __always_inline void ai_rings_probe(__u32 tid, __u64 ring, __u32 slots, __u64 head,
					   __u32 event)
{
	struct ai_drain_ctx c = { .task = NULL, .buf = 1, .tid = tid, .head = head };
	struct ai_ring_state *st;

	c.pid = bpf_get_current_pid_tgid() >> 32;
	if (rings_stopped)
		return;
	st = bpf_map_lookup_elem(&rings, &c.tid);
	if (event == ASYNC_RING_NEW) {
		struct ai_ring_state init = {
			.ring = ring, .tail = head, .pid = c.pid, .slots = slots
		};

		if (!slots || (slots & (slots - 1)) ||
		    bpf_probe_read_user(
			&init.recs, sizeof(init.recs),
			(void *)(ring + __builtin_offsetof(struct async_ring_abi, recs))))
			return;
		/* a thread id reused by the same process keeps its counts */
		if (st && st->pid == c.pid) {
			init.lost = st->lost;
			init.read = st->read;
		}
		bpf_map_update_elem(&rings, &c.tid, &init, BPF_ANY);
		return;
	}
	if (event != ASYNC_RING_FLUSH || !st || st->ring != ring || st->pid != c.pid)
		return;
	if (head > st->tail)
		bpf_loop(ai_ring_steps(head - st->tail, st->slots), ai_ring_step_user, &c, 0);
	st->ring = 0; /* gone: its memory is unmapped next */
}

/*
 * The two programs of a ring drain, named `drain` (the iterator the loader triggers) and
 * `probe` (on libasync:ring).
 */
#define AI_RINGS_PROGRAMS(drain, probe)                                                  \
	SEC("iter.s/task")                                                               \
	int drain(struct bpf_iter__task *ctx)                                            \
	{                                                                                \
		ai_rings_drain_task(ctx->task);                                          \
		return 0;                                                                \
	}                                                                                \
                                                                                         \
	SEC("usdt")                                                                      \
	int BPF_USDT(probe, __u32 tid, __u64 ring, __u32 slots, __u64 head, __u32 event) \
	{                                                                                \
		ai_rings_probe(tid, ring, slots, head, event);                           \
		return 0;                                                                \
	}

#endif /* AI_RINGS_BPF_H */
