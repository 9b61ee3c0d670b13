/* SPDX-License-Identifier: MIT */
/*
 * What bpf/graph.bpf.c and user/graph.c share: the relationships seen over a window
 * (`graph -d SECS`): wake edges with counts, spawn edges, wait events. The programs are
 * attached to one process only, so keys carry no pid.
 */
#ifndef AI_BPF_GRAPH_H
#define AI_BPF_GRAPH_H

#define GRAPH_MAX_TASKS 16384
#define GRAPH_MAX_WAKES 16384
#define GRAPH_MAX_WAITS 16384

/* wakes: {waker, woken} -> count. waker 0: woken from outside any task (timer, i/o). */
struct graph_wake_key {
	__u64 waker;
	__u64 woken;
};

/* tasks: task id -> what the window saw of it. */
struct graph_task {
	__u64 parent;	/* valid when spawned is set */
	__u64 fn;	/* function descriptor (spawn or poll) */
	__u64 name;	/* address of the spawn name (read by userspace) */
	__u64 spawn_ns; /* 0 unless spawned during the window */
	__u64 done_ns;	/* 0 unless completed during the window */
	__u64 polls;
	__s32 result;
	__u32 spawned;
};

/* waits: {task, kind, obj} -> count and the last holder named by the probe. */
struct graph_wait_key {
	__u64 task;
	__u64 obj;
	__u32 kind; /* enum async_wait_kind */
	__u32 pad;
};

struct graph_wait {
	__u64 count;
	__u64 holder;
	__u64 desc; /* AWAIT descriptor of the await that waited */
};

/* Counters in .bss `stats`, indexes: */
enum graph_stat {
	GRAPH_STAT_LOST_TASKS, /* entries that did not fit */
	GRAPH_STAT_LOST_WAKES,
	GRAPH_STAT_LOST_WAITS,
	GRAPH_STAT_MAX,
};

#endif /* AI_BPF_GRAPH_H */
