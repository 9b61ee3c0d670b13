/* SPDX-License-Identifier: MIT */
/* What bpf/profile.bpf.c and user/profile.c share: the key of a sample and the counters. */
#ifndef AI_PROFILE_H
#define AI_PROFILE_H

#include "async/abi.h"

#define PROFILE_MAX_STACKS  16384 /* distinct user stacks kept in the stack map */
#define PROFILE_MAX_ENTRIES 16384 /* distinct sample keys counted */
#define PROFILE_MAX_THREADS 256	  /* registry thread records walked per sample */
#define PROFILE_STACK_DEPTH 127	  /* frames per user stack (PERF_MAX_STACK_DEPTH) */

/* What the interrupted thread was doing; becomes the first folded frame(s). */
enum profile_state {
	PROFILE_TASK = 1,	 /* a worker polling a task: fn + await chain are valid */
	PROFILE_IDLE_WORKER = 2, /* a worker between polls, inside the kernel (parked) */
	PROFILE_RUNTIME = 3,	 /* a runtime thread in user space outside any poll */
	PROFILE_BLOCKING = 4,	 /* a spawn_blocking pool thread */
	PROFILE_REACTOR = 5,	 /* the timer / epoll driver thread */
	PROFILE_OTHER = 6,	 /* a thread of the target that is not a runtime thread */
};

struct profile_key {
	__u32 state;	 /* enum profile_state */
	__s32 stack_id;	 /* user stack in the stack map, negative if it could not be taken */
	__u32 depth;	 /* entries used in chain[] */
	__u32 in_kernel; /* the sample interrupted kernel code (syscall, fault) */
	__u64 fn;	 /* PROFILE_TASK: the task's function descriptor (root frame's fn) */
	__u64 chain[ASYNC_CHAIN_MAX]; /* AWAIT descriptors, root frame first */
};

/* Indexes of the `counters` array map. */
enum profile_counter {
	PROFILE_CNT_SAMPLES = 0,    /* samples of the target counted */
	PROFILE_CNT_TORN = 1,	    /* the thread record changed while read (counted as runtime) */
	PROFILE_CNT_NO_STACK = 2,   /* the user stack could not be stored */
	PROFILE_CNT_DROPPED = 3,    /* the counts map was full */
	PROFILE_CNT_BAD_RECORD = 4, /* a thread record or registry failed its magic check */
	PROFILE_CNT_RUNS = 5,	    /* program runs on a thread of the target */
	PROFILE_CNT_RUN_NS = 6,	    /* time spent in those runs (bpf_ktime_get_ns) */
	PROFILE_CNT_MAX = 8,
};

#endif /* AI_PROFILE_H */
