// SPDX-License-Identifier: MIT
/* log2 histogram slots, percentiles and printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"

static void test_slots(void **state)
{
	(void)state;
	assert_int_equal(ai_hist_slot(0), 0);
	assert_int_equal(ai_hist_slot(1), 1);
	assert_int_equal(ai_hist_slot(2), 2);
	assert_int_equal(ai_hist_slot(3), 2);
	assert_int_equal(ai_hist_slot(4), 3);
	assert_int_equal(ai_hist_slot(1023), 10);
	assert_int_equal(ai_hist_slot(1024), 11);
	assert_int_equal(ai_hist_slot(1ull << 62), 63);
	assert_int_equal(ai_hist_slot(UINT64_MAX), AI_HIST_SLOTS - 1);
	/* every value lands in the slot whose range holds it */
	for (unsigned i = 1; i < 62; i++) {
		assert_int_equal(ai_hist_slot(1ull << (i - 1)), i);
		assert_int_equal(ai_hist_slot((1ull << i) - 1), i);
	}
}

static void test_percentile(void **state)
{
	uint64_t slots[AI_HIST_SLOTS] = { 0 };

	(void)state;
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 50), 0);
	/* 90 values in [1024, 2047], 10 in [1 << 20, (1 << 21) - 1] */
	slots[11] = 90;
	slots[21] = 10;
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 50), 2047);
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 90), 2047);
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 90.5), (1 << 21) - 1);
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 99), (1 << 21) - 1);
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 100), (1 << 21) - 1);
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 0), 2047);
	slots[0] = 1000;
	assert_int_equal(ai_hist_percentile(slots, AI_HIST_SLOTS, 50), 0);
}

static void test_print(void **state)
{
	uint64_t slots[AI_HIST_SLOTS] = { 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	slots[3] = 10;
	slots[5] = 5;
	f = open_memstream(&out, &len);
	assert_non_null(f);
	ai_hist_print(f, slots, AI_HIST_SLOTS, "usecs");
	fclose(f);
	/* header + slots 3, 4, 5 (trimmed at both ends) */
	int lines = 0;

	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	assert_non_null(strstr(out, "usecs"));
	assert_non_null(strstr(out, "4 -> 7"));
	assert_non_null(strstr(out, "16 -> 31"));
	assert_null(strstr(out, "32 -> 63"));
	/* the largest slot gets the full bar of 40 stars, half as many gets 20 */
	assert_non_null(strstr(out, "|****************************************|"));
	assert_non_null(strstr(out, "|********************                    |"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
