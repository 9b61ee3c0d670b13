/* SPDX-License-Identifier: MIT */
/*
 * A recording (user/recfile.h) replayed into per-task timelines: every poll and wait of
 * every task, the same per-task, per-function and per-await-point aggregation as
 * `trace` does in its kernel maps (bpf/trace.bpf.c, aggregate_poll), and the exports:
 * the summary model of user/summary.h, Chrome trace-event JSON (Perfetto), an SVG
 * picture and coloured terminal text.
 *
 * Library code: never prints, never exits; functions return 0 or a negative errno.
 */
#ifndef AI_TIMELINE_H
#define AI_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "recfile.h"
#include "summary.h"

/* Keep every poll and wait (for the exports); without it only the aggregates are kept. */
#define AI_TL_SLICES 1u
/* Slices kept at most (the aggregates still count everything past it). */
#define AI_TL_MAX_SLICES (1u << 20)

struct ai_tl_poll {
	uint64_t start_ns, end_ns;
	uint64_t woken_ns;
	uint64_t from;	/* AWAIT descriptor it resumed at (0: first poll) */
	uint64_t state; /* AWAIT descriptor it stopped at, 0 when ready */
	uint64_t waker;
	uint32_t tid;
	uint32_t ready;
	uint32_t wait_kind; /* enum async_wait_kind registered during this poll */
	uint32_t pad;
	uint64_t leaf; /* innermost AWAIT descriptor it stopped at, 0 when ready */
};

struct ai_tl_task {
	uint32_t pid;
	uint64_t id, parent;
	uint64_t fn, name_addr;
	uint64_t spawn_ns; /* 0 if spawned before the recording */
	uint32_t spawn_tid;
	/* what trace keeps per task (struct trace_task), computed the same way */
	uint64_t state_since_ns, at, leaf, last_end_ns;
	uint64_t polls, busy_ns, idle_ns, sched_ns, max_poll_ns, max_poll_from, max_poll_to;
	uint64_t wakes_self, wakes_other, wait_poll;
	uint32_t wait_kind, state;
	int32_t result;
	bool done;
	uint64_t done_ns;
	/* AI_TL_SLICES */
	struct ai_tl_poll *pl;
	size_t npl, cap_pl;
};

struct ai_tl_func {
	uint32_t pid;
	uint64_t fn;
	uint64_t tasks, polls, busy_ns, idle_ns, sched_ns, max_poll_ns;
	uint64_t long_polls; /* polls longer than tl->long_poll_ns */
	uint64_t calls;	     /* below a task's root: waits that ended inside it */
	uint64_t poll_hist[AI_HIST_SLOTS], sched_hist[AI_HIST_SLOTS];
};

struct ai_tl_await {
	uint32_t pid;
	uint64_t desc;
	uint64_t waits, wait_ns, max_wait_ns;
	uint64_t wait_hist[AI_HIST_SLOTS];
};

/* An await chain a ring-recorded poll resumed from, and what was waited there. */
struct ai_tl_chain {
	uint32_t pid, depth;
	uint64_t fn[ASYNC_RING_DEPTH], at[ASYNC_RING_DEPTH];
	uint64_t waits, wait_ns;
};

struct ai_tl_thread {
	uint32_t pid, tid, kind; /* kind: enum async_thread_kind, 0 if only seen polling */
	uint32_t index;		 /* order of appearance within its kind */
};

struct ai_tl_map; /* (pid, 64-bit key) -> index */

struct ai_timeline {
	struct ai_recfile *rf;
	unsigned flags;
	uint64_t long_poll_ns;	  /* threshold of ai_tl_func.long_polls */
	struct ai_tl_task *tasks; /* in order of first appearance */
	size_t ntasks, cap_tasks;
	struct ai_tl_func *funcs;
	size_t nfuncs, cap_funcs;
	struct ai_tl_await *awaits;
	size_t nawaits, cap_awaits;
	struct ai_tl_thread *threads;
	size_t nthreads, cap_threads;
	struct ai_tl_chain *chains; /* recordings with AI_REC_RING events */
	size_t nchains, cap_chains;
	struct ai_tl_map *task_map, *func_map, *await_map;
	uint64_t first_ns, last_ns; /* earliest and latest time of any event */
	uint64_t slices, dropped_slices;
};

/*
 * Reads and replays a recording; polls longer than long_poll_ns (0: 10 ms, trace's
 * default) are counted per function. Errors as ai_recfile_read (with the reason in
 * err); a damaged file loads what was readable, with tl->rf->warning set.
 */
int ai_tl_load(const char *path, unsigned flags, uint64_t long_poll_ns, struct ai_timeline **out,
	       char *err, size_t errlen);
/* The same on an open FILE (seekable); the caller closes it. */
int ai_tl_fload(FILE *f, unsigned flags, uint64_t long_poll_ns, struct ai_timeline **out, char *err,
		size_t errlen);
void ai_tl_free(struct ai_timeline *tl);

/*
 * Fills `s` (initialized here) exactly as `trace` fills it from its maps: same rows, same
 * names, same lint (long-poll warnings name the plain functions the async function
 * calls, from its ASYNC_CALL descriptors, as trace does); lo may be NULL for the
 * defaults (now_ns = end of the recording). Adds the lost counters of trace (0 here)
 * and "ringbuf_drops".
 */
int ai_tl_summary(const struct ai_timeline *tl, const struct ai_lint_opts *lo,
		  struct ai_summary *s);

/*
 * Chrome trace-event JSON (opens in ui.perfetto.dev and chrome://tracing): a track per
 * task under its process, a slice per poll and per wait, worker threads as tracks,
 * flow arrows for spawn and wake. Needs AI_TL_SLICES.
 */
int ai_tl_write_chrome(const struct ai_timeline *tl, FILE *f);
/* The await chains as folded stacks weighted by nanoseconds waited (--folded-wait). */
int ai_tl_write_folded_wait(const struct ai_timeline *tl, FILE *f);
/* A static SVG timeline: one row per task, running / scheduled / waiting, time axis. */
int ai_tl_write_svg(const struct ai_timeline *tl, FILE *f);
/* The same as text, `width` columns of bars, ANSI colours if `color`. */
int ai_tl_write_text(const struct ai_timeline *tl, FILE *f, unsigned width, bool color,
		     size_t max_rows);

#endif /* AI_TIMELINE_H */
