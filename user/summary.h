/* SPDX-License-Identifier: MIT */
/*
 * The final summary of a traced run, as plain C data: tasks, async functions, await
 * points, warnings and lost-data counters. `trace` fills it from its kernel maps,
 * `report` fills the same struct from a recording; both print it with the functions
 * below, so `trace --json` and `report --json` share one schema (docs/trace-json.md).
 *
 * Ownership: every `char *` field of a row is heap memory owned by the summary (set it
 * with ai_summary_strdup or leave it NULL) and freed by ai_summary_free. Rows are added
 * with the ai_summary_add_* functions, which return a zeroed row (or NULL on ENOMEM).
 * Times are nanoseconds, CLOCK_MONOTONIC. Histograms are log2 slots as in user/hist.h
 * (slot i counts values v with 2^(i-1) <= v < 2^i, slot 0 counts 0).
 *
 * Like every library helper this never exits; printing goes to the FILE given.
 */
#ifndef AI_SUMMARY_H
#define AI_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

/* One task. `function` is the display name ("fetch_user") or "0x<addr>" if unknown. */
struct ai_sum_task {
	int32_t pid;
	uint64_t id;
	uint64_t parent;	 /* 0: spawned outside any task (or unknown) */
	char *function;		 /* async function of the task's root future */
	char *name;		 /* name given at spawn, NULL if unknown */
	const char *state;	 /* static string: "idle", "scheduled", "running", "done" */
	char *location;		 /* "file:line" of the await point it is stopped at, NULL if none */
	char *await;		 /* "function@callee" of that await point, NULL if none */
	uint64_t spawn_ns;	 /* 0 if spawned before tracing started */
	uint64_t state_since_ns; /* when it entered `state` */
	uint64_t polls;
	uint64_t busy_ns;	 /* time being polled */
	uint64_t idle_ns;	 /* pending and not woken */
	uint64_t sched_delay_ns; /* woken (or spawned) -> next poll start */
	uint64_t max_poll_ns;	 /* longest single poll */
	char *max_poll_from;  /* "function@callee file:line" the longest poll resumed at, or NULL */
	char *max_poll_to;    /* where the longest poll stopped, NULL if it completed */
	uint64_t wakes_self;  /* polls that followed a wake by the task itself */
	uint64_t wakes_other; /* polls that followed a wake by another task or the runtime */
	uint32_t wait_kind;   /* enum async_wait_kind of its last wait, 0 if none seen */
	bool done;
	bool gone_later; /* pending at the end, but completed just after (not lost) */
	int32_t result;	 /* completion result (0 ok), valid when done */
};

/* One async function (per process in --system mode). */
struct ai_sum_function {
	int32_t pid;
	char *name;
	char *location; /* "file:line" of the function's descriptor, NULL if unknown */
	uint64_t tasks; /* tasks whose root future is this function */
	uint64_t calls; /* below a task's root: waits that ended inside it (0: only a root) */
	uint64_t polls;
	uint64_t busy_ns;
	uint64_t idle_ns;
	uint64_t sched_delay_ns;
	uint64_t max_poll_ns;
	uint64_t long_polls; /* polls longer than the long-poll threshold (0 if unknown) */
	uint64_t poll_ns_log2[AI_HIST_SLOTS];
	uint64_t sched_delay_ns_log2[AI_HIST_SLOTS];
};

/* One await point: where a task's root future was pending, and for how long. */
struct ai_sum_await {
	int32_t pid;
	char *function;	  /* the async function containing the await */
	char *callee;	  /* what it awaits */
	char *location;	  /* "file:line" */
	uint64_t waits;	  /* pending polls that stopped here and were polled again */
	uint64_t wait_ns; /* total time from the pending poll's end to the next poll's start */
	uint64_t max_wait_ns;
	uint64_t wait_ns_log2[AI_HIST_SLOTS];
};

/* Warning kinds (the "kind" string in JSON). */
#define AI_WARN_LONG_POLL  "long-poll"
#define AI_WARN_LOST_WAKER "lost-waker"
#define AI_WARN_SELF_WAKE  "self-wake"

struct ai_sum_warning {
	int32_t pid;
	char *kind;    /* AI_WARN_* */
	uint64_t task; /* task id, 0 if about a function */
	char *function;
	char *detail; /* one human-readable line */
};

/* A named lost-data counter ("evicted_tasks", "ringbuf_drops", ...). */
struct ai_sum_lost {
	char *name;
	uint64_t value;
};

/* A process seen (one for -p / -- CMD, one per process in --system mode). */
struct ai_sum_process {
	int32_t pid;
	char *comm;
	bool exited;
	int exit_status; /* valid if exited and known, else -1 */
};

struct ai_summary {
	int32_t pid;	      /* the traced process; -1 for --system */
	bool system;	      /* --system: rows carry their own pid */
	uint64_t start_ns;    /* CLOCK_MONOTONIC when tracing began */
	uint64_t duration_ns; /* how long it traced */
	char *source;	      /* "trace" or "report"; NULL prints "trace" */

	struct ai_sum_process *procs;
	size_t nprocs, cap_procs;
	struct ai_sum_task *tasks;
	size_t ntasks, cap_tasks;
	struct ai_sum_function *funcs;
	size_t nfuncs, cap_funcs;
	struct ai_sum_await *awaits;
	size_t nawaits, cap_awaits;
	struct ai_sum_warning *warnings;
	size_t nwarnings, cap_warnings;
	struct ai_sum_lost *lost;
	size_t nlost, cap_lost;
};

/* Zeroes *s; adds the lost counter "evicted_tasks" = 0 (so it is always present). */
int ai_summary_init(struct ai_summary *s, int32_t pid);
/* Frees every row and string; accepts NULL and an initialized-then-freed summary. */
void ai_summary_free(struct ai_summary *s);

/* strdup that accepts NULL (returns NULL) */
char *ai_summary_strdup(const char *str);

/* Append a zeroed row; NULL on ENOMEM. Pointers stay valid until the next add. */
/* Frees the strings of one task or function row (for callers that drop rows themselves). */
void ai_summary_task_free_strings(struct ai_sum_task *t);
void ai_summary_function_free_strings(struct ai_sum_function *f);
struct ai_sum_process *ai_summary_add_process(struct ai_summary *s);
struct ai_sum_task *ai_summary_add_task(struct ai_summary *s);
struct ai_sum_function *ai_summary_add_function(struct ai_summary *s);
struct ai_sum_await *ai_summary_add_await(struct ai_summary *s);
/* Adds a warning with formatted detail; returns 0 or -ENOMEM. */
int ai_summary_add_warning(struct ai_summary *s, int32_t pid, const char *kind, uint64_t task,
			   const char *function, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Adds `value` to the lost counter `name` (created at 0 if new); 0 or -ENOMEM. */
int ai_summary_lost_add(struct ai_summary *s, const char *name, uint64_t value);
uint64_t ai_summary_lost_get(const struct ai_summary *s, const char *name);

/* Thresholds of the lints; ai_summary_lint_defaults fills the documented defaults. */
struct ai_lint_opts {
	uint64_t long_poll_ns;	      /* default 10 ms (--long-poll MS) */
	uint64_t lost_waker_ns;	      /* idle this long with no wait registered: default 1 s */
	double self_wake_ratio;	      /* wakes_self / polls above this: default 0.5 */
	uint64_t self_wake_min_polls; /* ...with at least this many polls: default 10 */
	uint64_t now_ns;	      /* end of the run, to compute time in state */
};
void ai_summary_lint_defaults(struct ai_lint_opts *o);
/*
 * Computes the warnings from the task rows (appends to s->warnings):
 *   long-poll:  max_poll_ns > long_poll_ns, naming function and await points;
 *   lost-waker: not done, idle since >= lost_waker_ns, wait_kind NONE (nothing the
 *               runtime knows of can wake it);
 *   self-wake:  wakes_self > self_wake_ratio * polls and polls >= self_wake_min_polls.
 * Then sorts every warning by pid, task and kind. Returns the number added or -ENOMEM.
 */
int ai_summary_lint(struct ai_summary *s, const struct ai_lint_opts *o);

/* Sort keys for tables (--sort). */
enum ai_sum_sort {
	AI_SORT_BUSY,
	AI_SORT_POLLS,
	AI_SORT_SCHED,
	AI_SORT_IDLE,
	AI_SORT_WAIT,
};
/* Parses "busy", "polls", "sched", "idle", "wait"; -EINVAL otherwise. */
int ai_summary_parse_sort(const char *str, enum ai_sum_sort *out);
/* Sorts tasks, functions and await points, largest first (await points by wait_ns). */
void ai_summary_sort(struct ai_summary *s, enum ai_sum_sort key);

/* The interval table: top `top` functions and tasks (0 = all), already sorted. */
void ai_summary_print_table(FILE *f, const struct ai_summary *s, size_t top);
/*
 * The final text summary: per-function totals with poll-duration and scheduling-delay
 * histograms (BCC style, usecs), await points with wait histograms, the top `top`
 * tasks, warnings and lost counters.
 */
void ai_summary_print_text(FILE *f, const struct ai_summary *s, size_t top);
/* The JSON document of docs/trace-json.md; pretty = indented. */
void ai_summary_print_json(FILE *f, const struct ai_summary *s, bool pretty);

/*
 * Row strings from a descriptor (user/desc.h), heap-allocated for the summary's fields;
 * `d` may be NULL (not found): then the address is shown as "0x<addr>" (NULL if addr 0).
 *   ai_summary_desc_name:     "fetch_user"
 *   ai_summary_desc_location: "examples/fetch_user.c:41" (NULL if d is NULL)
 *   ai_summary_desc_await:    "fetch_user@fetch_posts", with_location adds " (file:line)"
 */
struct ai_desc;
char *ai_summary_desc_name(const struct ai_desc *d, uint64_t addr);
char *ai_summary_desc_location(const struct ai_desc *d);
char *ai_summary_desc_await(const struct ai_desc *d, uint64_t addr, bool with_location);

/* "idle", "scheduled", "running", "done" for enum async_task_state ("?" otherwise). */
const char *ai_summary_state_name(unsigned state);
/* "none", "join", "mutex", "chan-recv", "chan-send", "timer", "io", "blocking". */
const char *ai_summary_wait_kind_name(unsigned kind);

#endif /* AI_SUMMARY_H */
