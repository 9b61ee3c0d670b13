// SPDX-License-Identifier: MIT
/* The shared front end: one duration parser with units, "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cli.h"
#include "common.h"

static void test_durations(void **state)
{
	uint64_t ns = 7;
	double secs;

	(void)state;
	assert_true(ai_parse_duration("2", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 2 * AI_NS_PER_SEC);
	assert_true(ai_parse_duration("500ms", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 500 * AI_NS_PER_MS);
	assert_true(ai_parse_duration("2s", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 2 * AI_NS_PER_SEC);
	assert_true(ai_parse_duration("1m", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 60 * AI_NS_PER_SEC);
	assert_true(ai_parse_duration("1.5m", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 90 * AI_NS_PER_SEC);
	assert_true(ai_parse_duration("1h", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 3600 * AI_NS_PER_SEC);
	assert_true(ai_parse_duration("250us", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 250 * AI_NS_PER_US);
	assert_true(ai_parse_duration("42ns", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 42);
	assert_true(ai_parse_duration("0.5", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, AI_NS_PER_SEC / 2);
	assert_true(ai_parse_duration("40", AI_NS_PER_MS, &ns)); /* --long-poll: ms */
	assert_int_equal(ns, 40 * AI_NS_PER_MS);
	assert_true(ai_parse_duration("0", AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 0);
	ns = 7;
	assert_false(ai_parse_duration("", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("-1", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("2x", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("ms", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("2 s", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration(" 2", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("nan", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("inf", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration("1e300", AI_NS_PER_SEC, &ns));
	assert_false(ai_parse_duration(NULL, AI_NS_PER_SEC, &ns));
	assert_int_equal(ns, 7);
	/* the -d/-i of trace and record: positive, with units */
	assert_true(ai_parse_secs("500ms", &secs));
	assert_true(secs == 0.5);
	assert_true(ai_parse_secs("1m", &secs));
	assert_true(secs == 60.0);
	assert_false(ai_parse_secs("0", &secs));
	assert_false(ai_parse_secs("0ms", &secs));
}

static void test_closest(void **state)
{
	static const char *const names[] = { "trace",  "top",	"tasks",    "profile", "record",
					     "report", "graph", "deadlock", "analyze", "list" };
	const size_t n = sizeof(names) / sizeof(names[0]);

	(void)state;
	assert_string_equal(ai_closest_name("trcae", names, n), "trace");
	assert_string_equal(ai_closest_name("recrod", names, n), "record");
	assert_string_equal(ai_closest_name("deadlok", names, n), "deadlock");
	assert_string_equal(ai_closest_name("prof", names, n), "profile");
	assert_string_equal(ai_closest_name("graf", names, n), "graph");
	assert_null(ai_closest_name("frobnicate", names, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_closest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
