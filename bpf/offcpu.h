/* SPDX-License-Identifier: MIT */
/*
 * What bpf/offcpu.bpf.c and user/pollwatch.c share: the scheduler's view of the target's
 * worker threads while they are inside a poll. A poll is named by (tid, seq): the thread
 * record's `seq` is odd and constant for the length of one poll (abi.h).
 */
#ifndef AI_OFFCPU_H
#define AI_OFFCPU_H

#include "async/abi.h"

#define SCHED_MAX_THREADS 1024	/* worker threads watched */
#define SCHED_MAX_POLLS	  16384 /* polls with off-CPU time kept (LRU) */
#define SCHED_KSTACK	  8	/* kernel frames kept of a poll's longest block */

/* A worker thread taken off its CPU in the middle of a poll. */
struct sched_out {
	__u64 seq;
	__u64 out_ns;
	__u32 preempted; /* still runnable: preempted, or throttled by a CPU quota */
	__s32 syscall;	 /* blocked: the system call it slept in (-1 if none) */
	__u64 kstack[SCHED_KSTACK];
};

struct sched_poll_key {
	__u32 tid;
	__u32 pad;
	__u64 seq;
};

/* Off-CPU time inside one poll, split by why. */
struct sched_poll {
	__u64 task_id;
	__u64 blocked_ns;   /* asleep in the kernel: a blocking call inside the poll */
	__u64 preempted_ns; /* runnable but not running: preemption or CPU quota */
	__u64 switches;
	__u64 max_block_ns; /* the longest single block, with where it slept: */
	__s32 max_block_syscall;
	__u32 pad;
	__u64 max_block_kstack[SCHED_KSTACK];
};

enum sched_counter {
	SCHED_CNT_SWITCHES = 0, /* switches of watched threads inside a poll */
	SCHED_CNT_BAD_READ = 1, /* a thread record could not be read */
	SCHED_CNT_RUNS = 2,	/* program runs on the target's threads */
	SCHED_CNT_RUN_NS = 3,	/* time spent in those runs */
	SCHED_CNT_MAX = 4,
};

#endif /* AI_OFFCPU_H */
