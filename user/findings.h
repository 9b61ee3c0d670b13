/* SPDX-License-Identifier: MIT */
/*
 * What `diagnose` finds, as data: each finding names a group of tasks (one function
 * waiting at one await point), the evidence in numbers and a rank. Computed from a
 * series of registry snapshots of one process taken over the diagnosis window (oldest
 * first), so a bug that began before the tracer attached is found as well as one that
 * begins during the window. Pure: no I/O, no printing (diagnose.c renders).
 *
 * A finding is raised only on evidence that cannot come from a healthy program. "Did not
 * move" means: in the same state in the last snapshot as in an earlier one (same state
 * since, same polls, same wait), so at least one interval.
 *   deadlock   a wait-for cycle (mutex holders, JoinHandles, channel ends) whose tasks
 *              did not move;
 *   lost wake  an idle task with no live waker (abi.h `wakers`) that did not move:
 *              nothing can ever wake it, however long ago it got stuck;
 *   orphan     a task waiting for a mutex whose holder is no longer alive: it ended
 *   lock       without unlocking, so nothing will ever unlock it;
 *   stall      tasks waiting on a mutex, or to send on a full channel, whose other end
 *              is itself waiting, all unmoved: named after the task at the root of the
 *              chain (a receiver idle on an empty channel is just a consumer);
 *   leak       tasks of one function at one await point whose number grew in every
 *              interval (by 8 or more over the window) while none of them completed
 *              or even moved.
 */
#ifndef AI_FINDINGS_H
#define AI_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "pollwatch.h"
#include "snapshot.h"

enum ai_finding_kind {
	AI_FINDING_DEADLOCK = 0,
	AI_FINDING_LOST_WAKE = 1,
	AI_FINDING_ORPHAN_LOCK = 2,
	AI_FINDING_STALL = 3,
	AI_FINDING_BLOCKING = 4,
	AI_FINDING_LEAK = 5,
	AI_FINDING_PREEMPTION = 6,
};

#define AI_FINDING_MAX_TASKS 16 /* example task ids kept per finding */

struct ai_finding {
	enum ai_finding_kind kind;
	/*
	 * The tasks, as ids in the last snapshot: a deadlock's cycle in order, a stall's
	 * chain from the first waiter to the root (last), else examples, oldest first.
	 */
	uint64_t task_ids[AI_FINDING_MAX_TASKS];
	size_t ntask_ids;
	size_t count;	      /* tasks in the group (deadlock: in the cycle) */
	uint64_t fn;	      /* FUNCTION descriptor that waits (innermost awaiting frame) */
	uint64_t at;	      /* its AWAIT descriptor: the innermost await point */
	uint32_t after_line;  /* blocking, at no await: the line of the await passed last */
	uint64_t stuck_ns;    /* the longest any of them has been in its state */
	uint64_t root_id;     /* stall: the task everything waits for */
	uint64_t first_count; /* leak: tasks in the group in the first snapshot */
	uint64_t window_ns;   /* leak: time between the first and the last snapshot */
	/* blocking: the longest poll's split (stuck_ns is its length), with the system call
	 * and kernel stack of its longest block; preemption: totals over the long polls */
	uint64_t on_cpu_ns, blocked_ns, preempted_ns;
	int32_t syscall;
	uint64_t kstack[SCHED_KSTACK];
	/* preemption: the CPU quota of the target's cgroup (0: none) and its throttling */
	uint64_t quota_us, period_us, throttled_ns;
};

struct ai_findings {
	struct ai_finding *v;
	size_t n, cap;
};

/*
 * Findings from snaps[0..n-1] (oldest first, all of one process, n >= 2), appended to
 * *out and ranked: most severe kind first, then most tasks. Returns 0 or -ENOMEM,
 * -EINVAL with fewer than two snapshots.
 */
int ai_findings_from_snapshots(const struct ai_snapshot *const *snaps, size_t n,
			       struct ai_findings *out);
void ai_findings_free(struct ai_findings *f);
/* Ranks the whole list: most severe kind first, then most tasks, then longest stuck. */
void ai_findings_rank(struct ai_findings *f);

/* What the target's cgroup says about CPU quota and throttling (0s when unlimited). */
struct ai_cpu_quota {
	uint64_t quota_us, period_us;
	uint64_t throttled_ns; /* during the window */
};

/*
 * Findings from the long polls of a window (pollwatch.h) of `window_ns` on `workers`
 * worker threads, appended to *out and ranked with the rest:
 *   blocking    polls whose own time (on the CPU, or blocked in the kernel inside the
 *               poll) reached min_ns: one finding per (function, await point), with the
 *               count and the longest poll's split, system call and kernel function;
 *   preemption  polls made long only by preemption or a CPU quota's throttling, when
 *               they add up to 5% of the workers' time or more.
 */
int ai_findings_from_polls(const struct ai_long_poll *polls, size_t n, uint64_t min_ns,
			   uint64_t window_ns, unsigned workers, const struct ai_cpu_quota *quota,
			   struct ai_findings *out);

/* "deadlock", "lost-wakeup", "orphan-lock", "stall", "blocking", "task-leak",
 * "preemption" (JSON and metric names). */
const char *ai_finding_kind_name(enum ai_finding_kind kind);

/* The async function and await point a task waits at: the innermost frame stopped at
 * an await (its fn and at), or the root's when no frame is. */
void ai_finding_innermost(const struct ai_snap_task *t, uint64_t *fn, uint64_t *at);

#endif /* AI_FINDINGS_H */
