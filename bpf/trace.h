/* SPDX-License-Identifier: MIT */
/*
 * What bpf/trace.bpf.c and user/trace.c share: map keys and values of the trace mode.
 * Included after vmlinux.h on the BPF side and after <linux/types.h> in userspace.
 */
#ifndef AI_BPF_TRACE_H
#define AI_BPF_TRACE_H

#ifndef ASYNC_ABI_H
#include "async/abi.h"
#endif

#define TRACE_HIST_SLOTS 64 /* == AI_HIST_SLOTS: slot i counts 2^(i-1) <= v < 2^i */

#define TRACE_MAX_TASKS_DEFAULT 16384
#define TRACE_MAX_FUNCS		4096
#define TRACE_MAX_AWAITS	8192

/* Key of the per-task, per-function and per-await-point maps: a process and an id. */
struct trace_key {
	__u32 pid; /* tgid */
	__u32 pad;
	__u64 id; /* task id, or a descriptor's runtime address */
};

/* tasks (LRU hash): one per task seen, kept after completion until evicted. */
struct trace_task {
	__u64 fn;	 /* function descriptor (root future) */
	__u64 parent;	 /* parent task id */
	__u64 name;	 /* address of the spawn name (read by userspace, not by BPF) */
	__u64 task_addr; /* address of its struct async_task_abi */
	__u64 spawn_ns;	 /* 0 if it was spawned before tracing began */
	__u64 state_since_ns;
	__u64 at;	   /* AWAIT descriptor the root future is stopped at, 0 if none */
	__u64 leaf;	   /* innermost AWAIT descriptor */
	__u64 last_end_ns; /* end of its last poll, 0 before the first poll seen */
	__u64 polls;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 sched_ns;
	__u64 max_poll_ns;
	__u64 max_poll_from; /* AWAIT descriptor the longest poll resumed from */
	__u64 max_poll_to;   /* AWAIT descriptor the longest poll stopped at (0: completed) */
	__u64 wakes_self;
	__u64 wakes_other;
	__u64 wait_obj;
	__u64 wait_poll; /* value of `polls` + 1 when the last wait probe fired */
	__u32 wait_kind; /* enum async_wait_kind of the last wait */
	__u32 state;	 /* enum async_task_state */
	__s32 result;
	__u32 done;
};

/*
 * funcs (per-CPU hash keyed by {pid, function descriptor}): every async function on a
 * task's await chain. Below a root, polls/busy_ns count the polls that resumed in it (a
 * poll's whole duration), idle_ns/sched_ns the waits during which it was on the chain.
 */
struct trace_func {
	__u64 tasks; /* tasks whose root future it is (their first poll was seen) */
	__u64 waits; /* below a root: waits that ended with it on the chain */
	__u64 polls;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 sched_ns;
	__u64 max_poll_ns;
	__u64 long_polls; /* polls longer than long_poll_ns */
	__u64 poll_hist[TRACE_HIST_SLOTS];
	__u64 sched_hist[TRACE_HIST_SLOTS];
};

/* awaits (per-CPU hash keyed by {pid, AWAIT descriptor}). */
struct trace_await {
	__u64 fn;	 /* function descriptor of the frame that waited here */
	__u32 wait_kind; /* enum async_wait_kind of the last wait here (0: unknown) */
	__u32 depth;	 /* frame index on the chain (0: a task's root) */
	__u64 waits;
	__u64 wait_ns;
	__u64 max_wait_ns;
	__u64 wait_hist[TRACE_HIST_SLOTS];
};

/*
 * waitstacks (per-CPU hash): nanoseconds waited per await chain, for --folded-wait. The
 * key is the chain where the task stopped (unused frames zero).
 */
#define TRACE_MAX_STACKS 8192
struct trace_stack_key {
	__u32 pid;
	__u32 depth;
	__u64 fn[ASYNC_RING_DEPTH];
	__u64 at[ASYNC_RING_DEPTH];
};

struct trace_stack {
	__u64 waits;
	__u64 wait_ns;
};

/* Global counters (in .bss as `stats`), indexes: */
enum trace_stat {
	TRACE_STAT_TASK_INSERTS, /* task entries created: minus live entries = evicted */
	TRACE_STAT_FUNC_FULL,	 /* function entries that could not be created */
	TRACE_STAT_AWAIT_FULL,	 /* await-point entries that could not be created */
	TRACE_STAT_TASK_FULL,	 /* task entries that could not be created */
	TRACE_STAT_STACK_FULL,	 /* wait stacks that could not be created */
	TRACE_STAT_MAX,
};

#endif /* AI_BPF_TRACE_H */
