// SPDX-License-Identifier: MIT
/*
 * async-inspect trace: per-task, per-function and per-await-point latency aggregated
 * in maps from libasync's USDT probes (provider "libasync"). BPF reads no strings:
 * descriptors travel as addresses and userspace names them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "async/abi.h"
#include "trace.h"
#include "maps.bpf.h"
#include "aggregate.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set between open and load. */
const volatile __u64 long_poll_ns = 10000000;
/*
 * Test hook (ASYNC_INSPECT_TEST_VERIFIER_REJECT=1): makes trace_done write through a
 * scalar, which the verifier must reject, so the tests exercise the rejection path.
 * When 0 the verifier prunes the branch as dead code.
 */
const volatile __u32 test_verifier_reject = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TRACE_MAX_TASKS_DEFAULT); /* --max-tasks */
	__type(key, struct trace_key);
	__type(value, struct trace_task);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TRACE_MAX_CHAINS);
	__type(key, struct trace_key);
	__type(value, struct trace_chain);
} chains SEC(".maps");

__u64 stats[TRACE_STAT_MAX];

/* Zeroed initial values (too large for the BPF stack). */
struct trace_task zero_task;
struct trace_chain zero_chain;

static __always_inline struct trace_task *task_get(__u32 pid, __u64 id)
{
	struct trace_key key = { .pid = pid, .id = id };
	struct trace_task *t;
	int created;

	t = ai_map_lookup_or_init(&tasks, &key, &zero_task, &created);
	if (created)
		ai_stat_inc(stats, TRACE_STAT_TASK_INSERTS);
	if (!t)
		ai_stat_inc(stats, TRACE_STAT_TASK_FULL);
	return t;
}

/*
 * Set by the loader when it stops: polls that end later, spawns and completions after it,
 * are not counted (the final drain runs after it is set, so the totals end there).
 */
volatile __u64 stop_ns;
/* Set by the loader before it attaches: a task's poll before it is not a previous poll. */
volatile __u64 start_ns;

/* A chain's hash: its descriptors mixed (64 bits; a collision merges two chains' rows). */
static __always_inline __u64 chain_hash(const struct async_ring_rec *rr, __u32 depth)
{
	__u64 h = 0x9e3779b97f4a7c15ull ^ depth;

	AI_UNROLL
	for (int i = 0; i < ASYNC_RING_DEPTH; i++) {
		if (i < (int)depth) {
			h = (h ^ rr->fn[i]) * 0xff51afd7ed558ccdull;
			h = (h ^ rr->at[i] ^ (h >> 29)) * 0xc4ceb9fe1a85ec53ull;
		}
	}
	return h ^ (h >> 32);
}

/* The row of the chain poll `rr` resumed from, created with the chain's descriptors. */
static __always_inline struct trace_chain *chain_get(const struct async_ring_rec *rr, __u32 pid)
{
	__u32 depth = rr->depth > ASYNC_RING_DEPTH ? ASYNC_RING_DEPTH : rr->depth;
	struct trace_key key = { .pid = pid, .id = chain_hash(rr, depth) };
	struct trace_chain *c;
	int created;

	c = ai_map_lookup_or_init(&chains, &key, &zero_chain, &created);
	if (!c) {
		ai_stat_inc(stats, TRACE_STAT_CHAIN_FULL);
		return NULL;
	}
	if (!c->depth) {
		AI_UNROLL
		for (int i = 0; i < ASYNC_RING_DEPTH; i++) {
			c->fn[i] = i < (int)depth ? rr->fn[i] : 0;
			c->at[i] = i < (int)depth ? rr->at[i] : 0;
		}
		c->depth = depth ? depth : 1;
	}
	return c;
}

/*
 * Everything one poll changes, from its ring record alone, in any order among the records
 * of its task (they may come from several rings): its task's times, and the row of the
 * chain it resumed from (two map lookups); the task's "where is it now" fields only from
 * its latest poll. The ring drain
 * (rings.bpf.h) calls this once per record.
 */
__attribute__((noinline)) int ai_ring_record(const struct async_ring_rec *rr, __u32 pid, __u32 tid)
{
	struct ai_poll_times pt;
	struct async_poll_rec r;
	struct trace_task *t;
	struct trace_chain *c;
	__u64 prev_end, stop = stop_ns;
	int first;

	if (!rr || (stop && rr->end_ns > stop))
		return 0;
	ai_ring_poll_rec(rr, tid, &r);
	/* woken before the traced window: its scheduling delay counts from the window's start */
	if (r.woken_ns && r.woken_ns < start_ns)
		r.woken_ns = start_ns;
	t = task_get(pid, r.task_id);
	if (!t)
		return 0;
	/* a previous poll before this session does not count: this is the first one seen */
	prev_end = rr->prev_end_ns >= start_ns ? rr->prev_end_ns : 0;
	first = prev_end == 0;
	AI_RING_UPDATE_TASK(t, rr, &r, &pt, prev_end);

	c = chain_get(rr, pid);
	if (!c)
		return 0;
	if (first)
		c->tasks++;
	c->polls++;
	c->busy_ns += pt.dur;
	c->idle_ns += pt.idle;
	c->sched_ns += pt.sched;
	if (pt.dur > c->max_poll_ns)
		c->max_poll_ns = pt.dur;
	if (pt.dur > long_poll_ns)
		c->long_polls++;
	c->poll_hist[ai_poll_slot(pt.dur)]++;
	if (pt.has_sched)
		c->sched_hist[ai_poll_slot(pt.sched)]++;
	if (prev_end && pt.gap && rr->at[0]) {
		c->waits++;
		c->wait_ns += pt.gap;
		if (pt.gap > c->max_wait_ns)
			c->max_wait_ns = pt.gap;
		c->wait_hist[ai_poll_slot(pt.gap)]++;
		if (rr->wait_kind)
			c->wait_kind = rr->wait_kind;
	}
	return 0;
}

#include "rings.bpf.h"

static __always_inline __u32 current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* The ring drain: trace_drain (the iterator the loader triggers), trace_ring (libasync:ring). */
AI_RINGS_PROGRAMS(trace_drain, trace_ring)

/*
 * The poll probe: one trap per poll, for `top` (trace reads the rings). Its arguments
 * make a record of a two-frame chain: the root's stop and the innermost one.
 */
SEC("usdt")
int BPF_USDT(trace_poll, __u64 task_id, __u64 start_ns_, __u64 end_ns, __u64 woken_ns,
	     __u64 state_desc, __u64 leaf_desc, __u64 waker_id, __u32 result, __u64 fn_desc)
{
	struct trace_key key = { .pid = current_pid(), .id = task_id };
	struct trace_task *t = bpf_map_lookup_elem(&tasks, &key);
	struct async_ring_rec r = {
		.task_id = task_id,
		.start_ns = start_ns_,
		.end_ns = end_ns,
		.woken_ns = woken_ns,
		.waker_id = waker_id,
		.state = state_desc,
		.leaf = leaf_desc,
		.result = (__u8)result,
		.depth = 1,
		.fn = { fn_desc },
	};

	if (t) {
		r.prev_end_ns = t->last_end_ns;
		r.at[0] = t->at;
		if (t->leaf && t->leaf != t->at) {
			r.at[1] = t->leaf;
			r.depth = 2;
		}
		if (t->wait_poll == t->polls + 1)
			r.end_wait_kind = (__u8)t->wait_kind;
	}
	ai_ring_record(&r, key.pid, (__u32)bpf_get_current_pid_tgid());
	return 0;
}

/* The wait probe (for `top`): what the task being polled registered a wait on. */
SEC("usdt")
int BPF_USDT(trace_wait, __u64 task_id, __u32 kind, __u64 obj, __u64 holder_id, __u64 await_desc)
{
	struct trace_key key = { .pid = current_pid(), .id = task_id };
	struct trace_task *t;

	t = bpf_map_lookup_elem(&tasks, &key);
	if (!t)
		return 0;
	t->wait_kind = kind;
	t->wait_obj = obj;
	t->wait_poll = t->polls + 1; /* fires during the poll that will be number polls+1 */
	return 0;
}

static __always_inline int stopped(void)
{
	__u64 stop = stop_ns;

	return stop && bpf_ktime_get_ns() > stop;
}

SEC("usdt")
int BPF_USDT(trace_spawn, __u64 task_id, __u64 parent_id, __u64 fn_desc, __u64 name_addr,
	     __u64 task_addr)
{
	struct trace_task *t;

	if (stopped())
		return 0;
	t = task_get(current_pid(), task_id);
	if (!t)
		return 0;
	t->parent = parent_id;
	if (fn_desc)
		t->fn = fn_desc;
	t->name = name_addr;
	t->task_addr = task_addr;
	t->spawn_ns = bpf_ktime_get_ns();
	if (!t->polls) {
		t->state = ASYNC_TASK_SCHEDULED;
		t->state_since_ns = t->spawn_ns;
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(trace_done, __u64 task_id, __s32 result, __u64 end_ns)
{
	struct trace_task *t;

	if (test_verifier_reject)
		*(volatile __u64 *)(long)end_ns = 0;
	if (stopped())
		return 0;
	t = task_get(current_pid(), task_id);
	if (!t)
		return 0;
	t->done = 1;
	t->result = result;
	t->state = ASYNC_TASK_DONE;
	t->state_since_ns = end_ns;
	t->at = 0;
	t->leaf = 0;
	return 0;
}
