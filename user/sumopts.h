/* SPDX-License-Identifier: MIT */
/*
 * The options of the final summary, the same in `trace` and `report`: --sort, --top,
 * --long-poll and --lost-waker (names, help, ranges, defaults and error messages).
 */
#ifndef AI_SUMOPTS_H
#define AI_SUMOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "summary.h"

struct ai_sum_opts {
	enum ai_sum_sort sort;
	size_t top;		/* rows per table, 0 = all */
	uint64_t long_poll_ns;	/* warn about polls longer than this */
	uint64_t lost_waker_ns; /* warn about tasks pending this long with no waker */
};

#define AI_SUM_OPTS_DEFAULT                                                            \
	{                                                                              \
		.top = 10, .long_poll_ns = 10000000ull, .lost_waker_ns = 1000000000ull \
	}

/* argp keys of the four options (above the commands' own, which start at 0x100). */
enum {
	AI_SUM_OPT_SORT = 0x1000,
	AI_SUM_OPT_TOP,
	AI_SUM_OPT_LONG_POLL,
	AI_SUM_OPT_LOST_WAKER,
};

/* Their struct argp_option entries, in --help order. */
/* clang-format off */
#define AI_SUM_ARGP_OPTIONS							\
	{ "sort", AI_SUM_OPT_SORT, "KEY", 0,					\
	  "Sort tables by busy (default), polls, sched, idle, wait", 0 },	\
	{ "top", AI_SUM_OPT_TOP, "N", 0, "Rows per table (default 10, 0 = all)", 0 }, \
	{ "long-poll", AI_SUM_OPT_LONG_POLL, "MS", 0,				\
	  "Warn about polls longer than MS (default 10)", 0 },			\
	{ "lost-waker", AI_SUM_OPT_LOST_WAKER, "MS", 0,				\
	  "Warn about tasks pending this long with nothing to wake them (default 1000)", 0 }
/* clang-format on */

/*
 * For an argp parser's default case: parses `arg` of option `key` into o. Returns 0 when
 * stored, `bad` after the one-line error ("invalid value 'ARG' for --OPT: expected ...")
 * for a bad value, and ARGP_ERR_UNKNOWN when `key` is not one of the four.
 */
int ai_sum_opts_parse(struct ai_sum_opts *o, int key, const char *arg, int bad);

/* The lint thresholds of o over ai_summary_lint_defaults(). */
void ai_sum_opts_lint(const struct ai_sum_opts *o, struct ai_lint_opts *lo);

#endif /* AI_SUMOPTS_H */
