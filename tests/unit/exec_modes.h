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

#endif /* TEST_EXEC_MODES_H */
