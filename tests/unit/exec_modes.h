/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the executor tests: every test runs once on a single-threaded executor
 * and once on a 2-worker one (cmocka prestate = the mode).
 */
#ifndef TEST_EXEC_MODES_H
#define TEST_EXEC_MODES_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "async/async.h"

struct exec_mode {
	const char *name;
	bool single;
	unsigned workers;
};

static const struct exec_mode MODE_SINGLE = { "single", true, 1 };
static const struct exec_mode MODE_MULTI = { "2 workers", false, 2 };

static inline struct async_exec *mode_exec(void **state)
{
	const struct exec_mode *m = *state;
	struct async_exec_opts o = { .workers = m->workers, .single_threaded = m->single };
	struct async_exec *exec = NULL;

	assert_int_equal(async_exec_new(&o, &exec), 0);
	assert_non_null(exec);
	return exec;
}

#define BOTH_MODES(fn)                                       \
	cmocka_unit_test_prestate(fn, (void *)&MODE_SINGLE), \
	    cmocka_unit_test_prestate(fn, (void *)&MODE_MULTI)

/*
 * Time as an input: the runtime's clock in its test build is CLOCK_MONOTONIC plus
 * async__test_clock_offset (runtime/core.h). RUN_AT_UPTIMES runs a test group four times:
 * at the machine's real uptime, and as if it had been up for at least an hour, 30 days,
 * and 2^63 ns less one minute (the largest CLOCK_MONOTONIC a kernel can report is
 * 2^63 - 1 ns). Each run is a cmocka group of its own, named after its uptime.
 */
extern uint64_t async__test_clock_offset;

static inline uint64_t test_raw_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int run_at_uptimes(const char *name, const struct CMUnitTest *tests, size_t n)
{
	static const struct {
		const char *label;
		uint64_t at_least_ns;
	} uptimes[] = {
		{ "real uptime", 0 },
		{ "uptime 1h", 3600ull * 1000000000ull },
		{ "uptime 30d", 30ull * 86400ull * 1000000000ull },
		{ "uptime 2^63ns-1min", (1ull << 63) - 60ull * 1000000000ull },
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(uptimes) / sizeof(uptimes[0]); i++) {
		char group[160];
		uint64_t raw = test_raw_clock();

		async__test_clock_offset =
		    raw < uptimes[i].at_least_ns ? uptimes[i].at_least_ns - raw : 0;
		snprintf(group, sizeof(group), "%s, %s", name, uptimes[i].label);
		printf("[ CLOCK    ] %s\n", uptimes[i].label); /* tests/watchdog names it */
		fflush(stdout);
		failed += _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	}
	async__test_clock_offset = 0;
	return failed;
}

#define RUN_AT_UPTIMES(tests) run_at_uptimes(__FILE__, (tests), sizeof(tests) / sizeof((tests)[0]))

#endif /* TEST_EXEC_MODES_H */
