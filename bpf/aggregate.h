/* SPDX-License-Identifier: MIT */
/*
 * The arithmetic of one poll, in one place for bpf/trace.bpf.c (aggregate_poll, live) and
 * user/timeline.c (replay_poll, over a recording) so that `report` equals `trace`: the
 * poll's busy time, how the time since the task's previous poll splits into idle and
 * scheduling delay, who woke it, where it stopped, and the histogram slot of a duration.
 * Static inline functions over struct async_poll_rec and plain counters: no BPF helpers,
 * no maps. Include after vmlinux.h (BPF) or <linux/types.h> (userspace), and async/abi.h.
 */
#ifndef AI_BPF_AGGREGATE_H
#define AI_BPF_AGGREGATE_H

#include "hist.bpf.h"
#include "trace.h"

/* Fully unrolled loops over a ring record's chain (BPF; gcc in userspace needs none). */
#ifdef __clang__
#define AI_UNROLL _Pragma("clang loop unroll(full)")
#else
#define AI_UNROLL
#endif

/* The poll record a ring record stands for. */
static __always_inline void ai_ring_poll_rec(const struct async_ring_rec *rr, __u32 tid,
					     struct async_poll_rec *r)
{
	r->task_id = rr->task_id;
	r->start_ns = rr->start_ns;
	r->end_ns = rr->end_ns;
	r->woken_ns = rr->woken_ns;
	r->waker_id = rr->waker_id;
	r->result = rr->result;
	r->tid = tid;
	r->fn = rr->fn[0];
	r->state = rr->result == ASYNC_RESULT_READY ? 0 : rr->state;
	r->leaf = rr->result == ASYNC_RESULT_READY ? 0 : rr->leaf;
}

/* Who woke a task before a poll. */
enum ai_poll_wake {
	AI_POLL_WAKE_NONE,  /* first poll seen: no previous poll to be woken after */
	AI_POLL_WAKE_SELF,  /* re-poll, woken by the task itself */
	AI_POLL_WAKE_OTHER, /* re-poll, woken by another task or from outside a task */
};

/* The times one poll adds to its task, function and await point. */
struct ai_poll_times {
	__u64 dur;	 /* busy: the poll's own duration */
	__u64 gap;	 /* end of the previous poll to the start of this one (re-polls) */
	__u64 idle;	 /* part of gap before the wake */
	__u64 sched;	 /* wake (or spawn) to the start of this poll */
	__u32 has_sched; /* sched is known (goes into the scheduling-delay histogram) */
	__u32 wake;	 /* enum ai_poll_wake */
};

/*
 * The times of poll `r` of a task whose previous poll seen ended at last_end_ns (0: none
 * seen) and that was seen spawned at spawn_ns (0: not seen).
 */
static __always_inline void ai_poll_times(const struct async_poll_rec *r, __u64 last_end_ns,
					  __u64 spawn_ns, struct ai_poll_times *pt)
{
	pt->dur = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0;
	pt->gap = 0;
	pt->idle = 0;
	pt->sched = 0;
	pt->has_sched = 0;
	pt->wake = AI_POLL_WAKE_NONE;
	if (last_end_ns) {
		/* re-poll: split the gap since the last poll into idle and scheduling delay */
		pt->gap = r->start_ns > last_end_ns ? r->start_ns - last_end_ns : 0;
		if (r->woken_ns > last_end_ns && r->woken_ns <= r->start_ns) {
			pt->idle = r->woken_ns - last_end_ns;
			pt->sched = r->start_ns - r->woken_ns;
		} else {
			pt->sched =
			    pt->gap; /* woken during the previous poll (a self-wake, a yield) */
		}
		pt->has_sched = 1;
		pt->wake = r->waker_id == r->task_id ? AI_POLL_WAKE_SELF : AI_POLL_WAKE_OTHER;
	} else if (r->woken_ns && r->woken_ns <= r->start_ns) {
		/* first poll seen: spawned (or woken before we attached) -> first poll */
		pt->sched = r->start_ns - r->woken_ns;
		pt->has_sched = 1;
	} else if (spawn_ns && spawn_ns <= r->start_ns) {
		pt->sched = r->start_ns - spawn_ns;
		pt->has_sched = 1;
	}
}

/* Where the task stands after poll `r`: the AWAIT it stopped at, its leaf, its state. */
static __always_inline __u64 ai_poll_at(const struct async_poll_rec *r)
{
	return r->result == ASYNC_RESULT_READY ? 0 : r->state;
}

static __always_inline __u64 ai_poll_leaf(const struct async_poll_rec *r)
{
	return r->result == ASYNC_RESULT_READY ? 0 : r->leaf;
}

static __always_inline __u32 ai_poll_task_state(const struct async_poll_rec *r)
{
	return r->result == ASYNC_RESULT_READY ? ASYNC_TASK_DONE : ASYNC_TASK_IDLE;
}

/* Slot of a duration in the TRACE_HIST_SLOTS-slot histograms of both sides. */
static __always_inline __u32 ai_poll_slot(__u64 ns)
{
	return ai_hist_slot_bpf(ns, TRACE_HIST_SLOTS);
}

/*
 * What poll `r` (with times *pt) changes in a task row, its function's row and the row of
 * the await point it resumed from. Macros, so that they apply to the rows of both sides:
 * struct trace_task / trace_func / trace_await in BPF, struct ai_tl_task / ai_tl_func /
 * ai_tl_await in user/timeline.h, which use the same field names.
 */

/* Task row t; prev_at is t->at before this poll (the await point it resumed from). */
#define AI_POLL_UPDATE_TASK(t, r, pt, prev_at)                                                  \
	do {                                                                                    \
		if ((pt)->wake == AI_POLL_WAKE_SELF)                                            \
			(t)->wakes_self++;                                                      \
		else if ((pt)->wake == AI_POLL_WAKE_OTHER)                                      \
			(t)->wakes_other++;                                                     \
		(t)->polls++;                                                                   \
		(t)->busy_ns += (pt)->dur;                                                      \
		(t)->idle_ns += (pt)->idle;                                                     \
		(t)->sched_ns += (pt)->sched;                                                   \
		if ((pt)->dur > (t)->max_poll_ns) {                                             \
			(t)->max_poll_ns = (pt)->dur;                                           \
			(t)->max_poll_from = (prev_at);                                         \
			(t)->max_poll_to = (r)->state;                                          \
		}                                                                               \
		if ((t)->wait_poll != (t)->polls)                                               \
			(t)->wait_kind = ASYNC_WAIT_NONE; /* no wait registered in this poll */ \
		(t)->at = ai_poll_at(r);                                                        \
		(t)->leaf = ai_poll_leaf(r);                                                    \
		(t)->last_end_ns = (r)->end_ns;                                                 \
		(t)->state = ai_poll_task_state(r);                                             \
		(t)->state_since_ns = (r)->end_ns;                                              \
	} while (0)

/*
 * Task row t and ring record rr (as poll record r): AI_POLL_UPDATE_TASK in any order among
 * the task's records, with pt computed here from the record's own previous end (prev_end,
 * 0 when not within the traced window). The runtime's spawn time (a first poll's woken_ns)
 * replaces a later spawn time taken by the probe; what says where the task is now (its
 * stop, state, wait) comes from its latest poll only.
 */
#define AI_RING_UPDATE_TASK(t, rr, r, pt, prev_end)                     \
	do {                                                            \
		__typeof__(*(t)) saved_;                                \
		int older_ = (rr)->end_ns < (t)->last_end_ns;           \
                                                                        \
		if (!(prev_end) && (t)->spawn_ns && (r)->woken_ns &&    \
		    (r)->woken_ns < (t)->spawn_ns)                      \
			(t)->spawn_ns = (r)->woken_ns;                  \
		ai_poll_times(r, prev_end, (t)->spawn_ns, pt);          \
		if (older_)                                             \
			__builtin_memcpy(&saved_, (t), sizeof(saved_)); \
		if ((r)->fn)                                            \
			(t)->fn = (r)->fn;                              \
		(t)->wait_kind = (rr)->end_wait_kind;                   \
		(t)->wait_poll = (t)->polls + 1;                        \
		AI_POLL_UPDATE_TASK(t, r, pt, (rr)->at[0]);             \
		if (older_) {                                           \
			(t)->fn = saved_.fn;                            \
			(t)->at = saved_.at;                            \
			(t)->leaf = saved_.leaf;                        \
			(t)->last_end_ns = saved_.last_end_ns;          \
			(t)->state = saved_.state;                      \
			(t)->state_since_ns = saved_.state_since_ns;    \
			(t)->wait_kind = saved_.wait_kind;              \
			(t)->wait_poll = (t)->polls;                    \
		}                                                       \
	} while (0)

/* Function row f; first: the task's first poll seen; long_poll: the long-poll threshold. */
#define AI_POLL_UPDATE_FUNC(f, pt, first, long_poll)                  \
	do {                                                          \
		if (first)                                            \
			(f)->tasks++;                                 \
		(f)->polls++;                                         \
		(f)->busy_ns += (pt)->dur;                            \
		(f)->idle_ns += (pt)->idle;                           \
		(f)->sched_ns += (pt)->sched;                         \
		if ((pt)->dur > (f)->max_poll_ns)                     \
			(f)->max_poll_ns = (pt)->dur;                 \
		if ((pt)->dur > (long_poll))                          \
			(f)->long_polls++;                            \
		(f)->poll_hist[ai_poll_slot((pt)->dur)]++;            \
		if ((pt)->has_sched)                                  \
			(f)->sched_hist[ai_poll_slot((pt)->sched)]++; \
	} while (0)

/* Await-point row a of the previous poll's stop (only when prev_at && pt->gap). */
#define AI_POLL_UPDATE_AWAIT(a, pt)                        \
	do {                                               \
		(a)->waits++;                              \
		(a)->wait_ns += (pt)->gap;                 \
		if ((pt)->gap > (a)->max_wait_ns)          \
			(a)->max_wait_ns = (pt)->gap;      \
		(a)->wait_hist[ai_poll_slot((pt)->gap)]++; \
	} while (0)

#endif /* AI_BPF_AGGREGATE_H */
