/* SPDX-License-Identifier: MIT */
#ifndef ASYNC_ERROR_H
#define ASYNC_ERROR_H

#include <errno.h>

/*
 * Every libasync call that can fail returns 0 (or a count) on success and a negative
 * errno value on failure. The codes it uses, with their messages:
 */
#define ASYNC_ERRNO_MAP(X)                            \
	X(EINVAL, "invalid argument")                 \
	X(ENOMEM, "out of memory")                    \
	X(EAGAIN, "resource temporarily unavailable") \
	X(EBUSY, "resource busy")                     \
	X(ECANCELED, "task aborted")                  \
	X(ETIMEDOUT, "timed out")                     \
	X(EPIPE, "channel closed")                    \
	X(ESHUTDOWN, "executor shut down")            \
	X(ECONNREFUSED, "connection refused")         \
	X(ECONNRESET, "connection reset by peer")     \
	X(EADDRINUSE, "address already in use")       \
	X(EMFILE, "too many open files")              \
	X(EIO, "i/o error")

enum async_errno {
#define ASYNC__ERRNO_ENUM(code, msg) ASYNC_##code = -code,
	ASYNC_ERRNO_MAP(ASYNC__ERRNO_ENUM)
#undef ASYNC__ERRNO_ENUM
};

/* Message for a negative errno value (any value, not only the ones above). */
const char *async_strerror(int err);
/* "EINVAL", "ETIMEDOUT", ... or "UNKNOWN". */
const char *async_err_name(int err);

#endif /* ASYNC_ERROR_H */
