// SPDX-License-Identifier: MIT
/*
 * async-inspect graph -d SECS: who wakes whom (poll's waker_id, with counts), who
 * spawns whom, who waits on what, over a window, from libasync's USDT probes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "async/abi.h"
#include "graph.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GRAPH_MAX_TASKS);
	__type(key, __u64);
	__type(value, struct graph_task);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GRAPH_MAX_WAKES);
	__type(key, struct graph_wake_key);
	__type(value, __u64);
} wakes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GRAPH_MAX_WAITS);
	__type(key, struct graph_wait_key);
	__type(value, struct graph_wait);
} waits SEC(".maps");

__u64 stats[GRAPH_STAT_MAX];

static __always_inline struct graph_task *task_get(__u64 id)
{
	struct graph_task zero = {};
	struct graph_task *t;
	int created;

	t = ai_map_lookup_or_init(&tasks, &id, &zero, &created);
	if (!t)
		ai_stat_inc(stats, GRAPH_STAT_LOST_TASKS);
	return t;
}

SEC("usdt")
int BPF_USDT(graph_poll, __u64 task_id, __u64 start_ns, __u64 end_ns, __u64 woken_ns,
	     __u64 state_desc, __u64 leaf_desc, __u64 waker_id, __u32 result, __u64 fn_desc)
{
	struct graph_wake_key wk = { .waker = waker_id, .woken = task_id };
	struct graph_task *t;
	__u64 one = 1, *cnt;
	int created;

	t = task_get(task_id);
	if (t) {
		t->polls++;
		if (fn_desc)
			t->fn = fn_desc;
	}
	/* A first poll after spawn has no wake-up: woken_ns 0 and no waker. */
	if (!woken_ns && !waker_id)
		return 0;
	cnt = ai_map_lookup_or_init(&wakes, &wk, &one, &created);
	if (!cnt)
		ai_stat_inc(stats, GRAPH_STAT_LOST_WAKES);
	else if (!created)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(graph_spawn, __u64 task_id, __u64 parent_id, __u64 fn_desc, __u64 name_addr,
	     __u64 task_addr)
{
	struct graph_task *t;

	t = task_get(task_id);
	if (!t)
		return 0;
	t->parent = parent_id;
	if (fn_desc)
		t->fn = fn_desc;
	t->name = name_addr;
	t->spawn_ns = bpf_ktime_get_ns();
	t->spawned = 1;
	return 0;
}

SEC("usdt")
int BPF_USDT(graph_done, __u64 task_id, __s32 result, __u64 end_ns)
{
	struct graph_task *t;

	t = task_get(task_id);
	if (!t)
		return 0;
	t->done_ns = end_ns ? end_ns : bpf_ktime_get_ns();
	t->result = result;
	return 0;
}

SEC("usdt")
int BPF_USDT(graph_wait, __u64 task_id, __u32 kind, __u64 obj, __u64 holder_id, __u64 await_desc)
{
	struct graph_wait_key k = { .task = task_id, .obj = obj, .kind = kind };
	struct graph_wait zero = {}, *w;
	int created;

	if (kind == ASYNC_WAIT_NONE)
		return 0;
	w = ai_map_lookup_or_init(&waits, &k, &zero, &created);
	if (!w) {
		ai_stat_inc(stats, GRAPH_STAT_LOST_WAITS);
		return 0;
	}
	__sync_fetch_and_add(&w->count, 1);
	if (holder_id)
		w->holder = holder_id;
	if (await_desc)
		w->desc = await_desc;
	return 0;
}
