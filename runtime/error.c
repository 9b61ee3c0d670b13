/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "async/error.h"

const char *async_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define ASYNC__ERRNO_MSG(code, msg) \
	case -code:                 \
		return msg;
		ASYNC_ERRNO_MAP(ASYNC__ERRNO_MSG)
#undef ASYNC__ERRNO_MSG
	default:
		break;
	}
	/* strerrordesc_np: glibc's static table, thread-safe, NULL when unknown. */
	const char *s = err < 0 ? strerrordesc_np(-err) : NULL;

	return s ? s : "unknown error";
}

const char *async_err_name(int err)
{
	switch (err) {
#define ASYNC__ERRNO_NAME(code, msg) \
	case -code:                  \
		return #code;
		ASYNC_ERRNO_MAP(ASYNC__ERRNO_NAME)
#undef ASYNC__ERRNO_NAME
	default:
		break;
	}
	const char *s = err < 0 ? strerrorname_np(-err) : NULL;

	return s ? s : "UNKNOWN";
}

#ifdef ASYNC_DEBUG
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

void async__assert_fail(const char *cond, const char *file, int line)
{
	fprintf(stderr, "libasync: assertion failed: %s (%s:%d)\n", cond, file, line);
	abort();
}
#endif
