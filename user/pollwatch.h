/* SPDX-License-Identifier: MIT */
/*
 * Long polls of a running libasync process and why they were long, for diagnose: the
 * worker threads' records are read every tick (a poll is in progress while `seq` is odd,
 * abi.h), and bpf/offcpu.bpf.c adds the scheduler's side: how long each poll was off its
 * CPU, blocked in the kernel (with the system call and kernel stack) or preempted /
 * throttled while runnable. What remains of a long poll was on the CPU. No probe and no
 * trap in the target: only its context switches in the middle of a poll run BPF.
 */
#ifndef AI_POLLWATCH_H
#define AI_POLLWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf/offcpu.h"
#include "snapshot.h"

struct ai_long_poll {
	uint32_t tid;
	uint64_t seq;
	uint64_t task_id;
	uint64_t task_fn; /* the task's function descriptor */
	/* where the poll was when first seen: the innermost frame and the await point it
	 * had passed last (0 before its first await) */
	uint64_t fn, at;
	/* at no await (at == 0): the source line of the await it passed last, for futures
	 * written with the ASYNC_* macros (frame.resume); 0 before the first */
	uint32_t after_line;
	uint64_t wall_ns; /* at least this long (between the ticks that saw it) */
	uint64_t on_cpu_ns, blocked_ns, preempted_ns;
	uint64_t max_block_ns;
	int32_t syscall; /* of the longest block, -1 if none */
	uint64_t kstack[SCHED_KSTACK];
};

struct ai_pollwatch;

/*
 * Loads and attaches the scheduler program for `pid`; polls of `min_ns` or longer are
 * kept. Prints nothing; returns a negative errno (BPF unavailable, no privileges).
 */
int ai_pollwatch_open(pid_t pid, uint64_t min_ns, struct ai_pollwatch **out);
/* Watches the worker threads of this snapshot (call again as threads come and go). */
int ai_pollwatch_threads(struct ai_pollwatch *w, const struct ai_snapshot *s);
/* One look at every watched thread; finishes the polls that ended since the last. */
void ai_pollwatch_tick(struct ai_pollwatch *w);
/* The long polls seen so far. */
const struct ai_long_poll *ai_pollwatch_polls(const struct ai_pollwatch *w, size_t *n);
/* BPF's counts: program runs (context switches of the target), switches in the middle
 * of a poll, and the program's own time (ns). */
void ai_pollwatch_stats(const struct ai_pollwatch *w, uint64_t *runs, uint64_t *switches,
			uint64_t *bpf_ns);
void ai_pollwatch_free(struct ai_pollwatch *w);

/* "nanosleep", "read", ... for an x86-64 system call number, NULL when not known. */
const char *ai_syscall_name(int nr);
/* The first kernel function of a sleeping thread's stack that is not the scheduler's
 * ("hrtimer_nanosleep", "pipe_read"), from /proc/kallsyms; NULL when none is known. */
const char *ai_kernel_sleep_site(const uint64_t *kstack, size_t n);

#endif /* AI_POLLWATCH_H */
