// SPDX-License-Identifier: MIT
/* The final summary's options, shared by trace and report. */
#include <argp.h>
#include <errno.h>

#include "cli.h"
#include "common.h"
#include "sumopts.h"

int ai_sum_opts_parse(struct ai_sum_opts *o, int key, const char *arg, int bad)
{
	const char *opt, *expected;
	uint64_t v;

	switch (key) {
	case AI_SUM_OPT_SORT:
		if (!ai_summary_parse_sort(arg, &o->sort))
			return 0;
		opt = "--sort";
		expected = "busy, polls, sched, idle or wait";
		break;
	case AI_SUM_OPT_TOP:
		if (ai_parse_u64(arg, &v) && v <= 1000000) {
			o->top = (size_t)v;
			return 0;
		}
		opt = "--top";
		expected = "a number of rows";
		break;
	case AI_SUM_OPT_LONG_POLL:
		/* a bare number is milliseconds; "500us" or "2s" say their unit */
		if (ai_parse_duration(arg, AI_NS_PER_MS, &v) && v && v <= 3600 * AI_NS_PER_SEC) {
			o->long_poll_ns = v;
			return 0;
		}
		opt = "--long-poll";
		expected = "milliseconds or a duration (1..3600000 ms)";
		break;
	case AI_SUM_OPT_LOST_WAKER:
		if (ai_parse_duration(arg, AI_NS_PER_MS, &v) && v && v <= 86400 * AI_NS_PER_SEC) {
			o->lost_waker_ns = v;
			return 0;
		}
		opt = "--lost-waker";
		expected = "milliseconds or a duration (1..86400000 ms)";
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	ai_bad_value(opt, arg, expected);
	return bad;
}

void ai_sum_opts_lint(const struct ai_sum_opts *o, struct ai_lint_opts *lo)
{
	ai_summary_lint_defaults(lo);
	lo->long_poll_ns = o->long_poll_ns;
	lo->lost_waker_ns = o->lost_waker_ns;
}
