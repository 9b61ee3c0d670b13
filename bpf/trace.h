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

/* Key of the per-task and per-chain maps: a process and an id. */
struct trace_key {
	__u32 pid; /* tgid */
	__u32 pad;
	__u64 id; /* task id, or a chain's hash */
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
 * chains (per-CPU hash keyed by {pid, hash of the chain}): one row per await chain a poll
 * resumed from (a ring record's fn[]/at[], root first; a first poll's chain is its root
 * alone). Every record adds to exactly one row, so the loader builds every function's and
 * every await point's row by summing the rows of the chains that hold it, exactly:
 * functions at chain[0] are task roots (tasks, polls, busy, scheduling delay, idle),
 * functions below it the polls that resumed in them, and each await point on the chain
 * the waits that ended there (the wait histogram too). The chain itself is the key of
 * the wait-time flame graph (--folded-wait).
 */
struct trace_chain {
	__u64 fn[ASYNC_RING_DEPTH];
	__u64 at[ASYNC_RING_DEPTH];
	__u32 depth;
	__u32 wait_kind; /* enum async_wait_kind of the last wait that ended here */
	__u64 tasks;	 /* first polls seen (tasks whose root is fn[0]) */
	__u64 polls;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 sched_ns;
	__u64 max_poll_ns;
	__u64 long_polls; /* polls longer than long_poll_ns */
	__u64 waits;	  /* polls that ended a wait at this chain (gap > 0) */
	__u64 wait_ns;	  /* end of the previous poll to the start of this one */
	__u64 max_wait_ns;
	__u64 poll_hist[TRACE_HIST_SLOTS];
	__u64 sched_hist[TRACE_HIST_SLOTS];
	__u64 wait_hist[TRACE_HIST_SLOTS];
};

#define TRACE_MAX_CHAINS 4096

/* Global counters (in .bss as `stats`), indexes: */
enum trace_stat {
	TRACE_STAT_TASK_INSERTS, /* task entries created: minus live entries = evicted */
	TRACE_STAT_CHAIN_FULL,	 /* polls whose chain entry could not be created */
	TRACE_STAT_TASK_FULL,	 /* task entries that could not be created */
	TRACE_STAT_MAX,
};

#endif /* AI_BPF_TRACE_H */
