/* SPDX-License-Identifier: MIT */
/* async_strerror / async_err_name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "async/error.h"

static void test_mapped(void **state)
{
	(void)state;
	assert_string_equal(async_strerror(ASYNC_EINVAL), "invalid argument");
	assert_string_equal(async_strerror(ASYNC_ECANCELED), "task aborted");
	assert_string_equal(async_strerror(ASYNC_ETIMEDOUT), "timed out");
	assert_string_equal(async_strerror(ASYNC_EPIPE), "channel closed");
	assert_string_equal(async_strerror(ASYNC_ESHUTDOWN), "executor shut down");
	assert_string_equal(async_strerror(ASYNC_EIO), "i/o error");
	assert_string_equal(async_err_name(ASYNC_EINVAL), "EINVAL");
	assert_string_equal(async_err_name(ASYNC_ETIMEDOUT), "ETIMEDOUT");
	assert_string_equal(async_err_name(-ECONNRESET), "ECONNRESET");
	assert_int_equal(ASYNC_ENOMEM, -ENOMEM);
#define CHECK(code, msg)                                 \
	assert_string_equal(async_strerror(-code), msg); \
	assert_string_equal(async_err_name(-code), #code);
	ASYNC_ERRNO_MAP(CHECK)
#undef CHECK
}

static void test_other(void **state)
{
	(void)state;
	/* codes outside the map: the C library's message and name */
	assert_string_equal(async_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(async_err_name(-ENOENT), "ENOENT");
	assert_string_equal(async_strerror(0), "success");
	assert_string_equal(async_strerror(-99999), "unknown error");
	assert_string_equal(async_strerror(5), "unknown error");
	assert_string_equal(async_err_name(-99999), "UNKNOWN");
	assert_string_equal(async_err_name(0), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
