// SPDX-License-Identifier: MIT
/* The trace/report summary model: building, lints, sorting, JSON and text output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "async/abi.h"
#include "summary.h"

#define MS 1000000ull

static struct ai_sum_task *add_task(struct ai_summary *s, uint64_t id, const char *fn,
				    uint64_t polls, uint64_t busy, uint64_t max_poll)
{
	struct ai_sum_task *t = ai_summary_add_task(s);

	assert_non_null(t);
	t->pid = 42;
	t->id = id;
	t->function = ai_summary_strdup(fn);
	t->state = "done";
	t->done = true;
	t->polls = polls;
	t->busy_ns = busy;
	t->max_poll_ns = max_poll;
	return t;
}

static char *to_string(const struct ai_summary *s, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (json)
		ai_summary_print_json(f, s, false);
	else
		ai_summary_print_text(f, s, 0);
	fclose(f);
	return buf;
}

static void test_init_lost(void **state)
{
	struct ai_summary s;

	(void)state;
	assert_int_equal(ai_summary_init(&s, 42), 0);
	assert_false(s.system);
	assert_int_equal(s.nlost, 1);
	assert_string_equal(s.lost[0].name, "evicted_tasks");
	assert_int_equal(ai_summary_lost_get(&s, "evicted_tasks"), 0);
	assert_int_equal(ai_summary_lost_add(&s, "evicted_tasks", 3), 0);
	assert_int_equal(ai_summary_lost_add(&s, "evicted_tasks", 4), 0);
	assert_int_equal(ai_summary_lost_add(&s, "ringbuf_drops", 9), 0);
	assert_int_equal(ai_summary_lost_get(&s, "evicted_tasks"), 7);
	assert_int_equal(ai_summary_lost_get(&s, "ringbuf_drops"), 9);
	assert_int_equal(ai_summary_lost_get(&s, "nothing"), 0);
	assert_int_equal(s.nlost, 2);
	ai_summary_free(&s);
	ai_summary_free(&s); /* freed twice: zeroed the first time */
	ai_summary_free(NULL);

	assert_int_equal(ai_summary_init(&s, -1), 0);
	assert_true(s.system);
	ai_summary_free(&s);
}

static void test_lints(void **state)
{
	struct ai_summary s;
	struct ai_lint_opts o;
	struct ai_sum_task *t;

	(void)state;
	ai_summary_init(&s, 42);
	ai_summary_lint_defaults(&o);
	assert_true(o.long_poll_ns == 10 * MS);
	o.now_ns = 10000 * MS;

	add_task(&s, 5, "slow", 3, 60 * MS, 50 * MS);	   /* long poll */
	t = add_task(&s, 6, "exact", 3, 30 * MS, 10 * MS); /* == threshold: not long */
	(void)t;
	t = add_task(&s, 3, "stuck", 2, 1, 1); /* lost waker */
	t->done = false;
	t->state = "idle";
	t->state_since_ns = 8000 * MS; /* 2 s before now */
	t->location = ai_summary_strdup("a.c:7");
	t = add_task(&s, 4, "sleeper", 2, 1, 1); /* waits on a timer: fine */
	t->done = false;
	t->state = "idle";
	t->state_since_ns = 1 * MS;
	t->wait_kind = ASYNC_WAIT_TIMER;
	t = add_task(&s, 7, "recent", 2, 1, 1); /* pending, but only 0.5 s */
	t->done = false;
	t->state = "idle";
	t->state_since_ns = 9500 * MS;
	t = add_task(&s, 2, "spinner", 20, 1, 1); /* self-wake 15/20 */
	t->wakes_self = 15;
	t = add_task(&s, 8, "halfspin", 20, 1, 1); /* 10/20 is not "most" */
	t->wakes_self = 10;
	t = add_task(&s, 9, "fewpolls", 4, 1, 1); /* 4/4 but under the minimum */
	t->wakes_self = 4;

	assert_int_equal(ai_summary_lint(&s, &o), 3);
	assert_int_equal(s.nwarnings, 3);
	/* sorted by task id */
	assert_string_equal(s.warnings[0].kind, AI_WARN_SELF_WAKE);
	assert_int_equal(s.warnings[0].task, 2);
	assert_string_equal(s.warnings[0].function, "spinner");
	assert_string_equal(s.warnings[1].kind, AI_WARN_LOST_WAKER);
	assert_int_equal(s.warnings[1].task, 3);
	assert_non_null(strstr(s.warnings[1].detail, "a.c:7"));
	assert_non_null(strstr(s.warnings[1].detail, "2s"));
	assert_string_equal(s.warnings[2].kind, AI_WARN_LONG_POLL);
	assert_int_equal(s.warnings[2].task, 5);
	assert_non_null(strstr(s.warnings[2].detail, "50ms"));
	assert_int_equal(s.warnings[2].pid, 42);
	ai_summary_free(&s);
}

static void test_sort(void **state)
{
	struct ai_summary s;
	enum ai_sum_sort key;

	(void)state;
	assert_int_equal(ai_summary_parse_sort("busy", &key), 0);
	assert_int_equal(key, AI_SORT_BUSY);
	assert_int_equal(ai_summary_parse_sort("polls", &key), 0);
	assert_int_equal(key, AI_SORT_POLLS);
	assert_int_equal(ai_summary_parse_sort("wait", &key), 0);
	assert_int_equal(key, AI_SORT_WAIT);
	assert_int_equal(ai_summary_parse_sort("Busy", &key), -EINVAL);
	assert_int_equal(ai_summary_parse_sort("", &key), -EINVAL);

	ai_summary_init(&s, 42);
	add_task(&s, 1, "a", 10, 100, 1);
	add_task(&s, 2, "b", 30, 50, 1);
	add_task(&s, 3, "c", 20, 300, 1);
	ai_summary_sort(&s, AI_SORT_BUSY);
	assert_int_equal(s.tasks[0].id, 3);
	assert_int_equal(s.tasks[1].id, 1);
	assert_int_equal(s.tasks[2].id, 2);
	ai_summary_sort(&s, AI_SORT_POLLS);
	assert_int_equal(s.tasks[0].id, 2);
	assert_int_equal(s.tasks[1].id, 3);
	assert_int_equal(s.tasks[2].id, 1);
	ai_summary_free(&s);
}

static void test_json(void **state)
{
	struct ai_summary s;
	struct ai_sum_function *f;
	struct ai_sum_await *a;
	char *out;

	(void)state;
	ai_summary_init(&s, 42);
	s.duration_ns = 1234;
	add_task(&s, 1, "fetch \"user\"", 3, 100, 40);
	f = ai_summary_add_function(&s);
	f->pid = 42;
	f->name = ai_summary_strdup("fetch_user");
	f->polls = 3;
	f->poll_ns_log2[1] = 1;
	f->poll_ns_log2[2] = 2;
	a = ai_summary_add_await(&s);
	a->pid = 42;
	a->function = ai_summary_strdup("fetch_user");
	a->callee = ai_summary_strdup("fetch_posts");
	a->location = ai_summary_strdup("examples/fetch_user.c:121");
	a->waits = 1;
	ai_summary_add_warning(&s, 42, AI_WARN_LONG_POLL, 1, "fetch_user", "took %d ms", 12);

	out = to_string(&s, 1);
	assert_non_null(strstr(out, "\"pid\":42"));
	assert_non_null(strstr(out, "\"duration_ns\":1234"));
	assert_non_null(strstr(out, "\"function\":\"fetch \\\"user\\\"\""));
	assert_non_null(strstr(out, "\"poll_ns_log2\":[0,1,2]")); /* trailing zeros cut */
	assert_non_null(strstr(out, "\"sched_delay_ns_log2\":[]"));
	assert_non_null(strstr(out, "\"callee\":\"fetch_posts\""));
	assert_non_null(strstr(out, "\"detail\":\"took 12 ms\""));
	assert_non_null(strstr(out, "\"lost\":{\"evicted_tasks\":0}"));
	assert_non_null(strstr(out, "\"result\":0"));
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);

	out = to_string(&s, 0);
	assert_non_null(strstr(out, "fetch_user: poll duration"));
	assert_non_null(strstr(out, ": count    distribution"));
	assert_non_null(strstr(out, "fetch_user@fetch_posts"));
	assert_non_null(strstr(out, "long-poll: took 12 ms"));
	assert_non_null(strstr(out, "Lost: evicted_tasks=0"));
	free(out);
	ai_summary_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_lost),
		cmocka_unit_test(test_lints),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
