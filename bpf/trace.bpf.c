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
	__uint(max_entries, TRACE_MAX_FUNCS);
	__type(key, struct trace_key);
	__type(value, struct trace_func);
} funcs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TRACE_MAX_AWAITS);
	__type(key, struct trace_key);
	__type(value, struct trace_await);
} awaits SEC(".maps");

__u64 stats[TRACE_STAT_MAX];

/* Zeroed initial values (too large for the BPF stack). */
struct trace_task zero_task;
struct trace_func zero_func;
struct trace_await zero_await;

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
 * Everything one poll changes, from the poll record alone: the task's times and state,
 * its function's totals and histograms, the await point it waited at. A batched probe
 * calls this once per record.
 */
static __always_inline void aggregate_poll(const struct async_poll_rec *r, __u32 pid)
{
	struct trace_key key = { .pid = pid };
	struct ai_poll_times pt;
	struct trace_task *t;
	struct trace_func *f;
	struct trace_await *a;
	__u64 prev_at, fn;
	int first, created;

	t = task_get(pid, r->task_id);
	if (!t)
		return;
	ai_poll_times(r, t->last_end_ns, t->spawn_ns, &pt);
	first = t->polls == 0;
	prev_at = t->at;
	if (r->fn)
		t->fn = r->fn;
	fn = t->fn;

	AI_POLL_UPDATE_TASK(t, r, &pt, prev_at);

	key.id = fn;
	f = ai_map_lookup_or_init(&funcs, &key, &zero_func, &created);
	if (f) {
		AI_POLL_UPDATE_FUNC(f, &pt, first, long_poll_ns);
	} else {
		ai_stat_inc(stats, TRACE_STAT_FUNC_FULL);
	}

	if (prev_at && pt.gap) {
		key.id = prev_at;
		a = ai_map_lookup_or_init(&awaits, &key, &zero_await, &created);
		if (a) {
			a->fn = fn;
			AI_POLL_UPDATE_AWAIT(a, &pt);
		} else {
			ai_stat_inc(stats, TRACE_STAT_AWAIT_FULL);
		}
	}
}

static __always_inline __u32 current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

SEC("usdt")
int BPF_USDT(trace_poll, __u64 task_id, __u64 start_ns, __u64 end_ns, __u64 woken_ns,
	     __u64 state_desc, __u64 leaf_desc, __u64 waker_id, __u32 result, __u64 fn_desc)
{
	struct async_poll_rec r = {
		.task_id = task_id,
		.start_ns = start_ns,
		.end_ns = end_ns,
		.woken_ns = woken_ns,
		.state = state_desc,
		.leaf = leaf_desc,
		.waker_id = waker_id,
		.result = result,
		.fn = fn_desc,
	};
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	r.tid = (__u32)pid_tgid;
	aggregate_poll(&r, pid_tgid >> 32);
	return 0;
}

SEC("usdt")
int BPF_USDT(trace_spawn, __u64 task_id, __u64 parent_id, __u64 fn_desc, __u64 name_addr,
	     __u64 task_addr)
{
	struct trace_task *t;

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
