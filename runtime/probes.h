/* SPDX-License-Identifier: MIT */
/*
 * libasync's USDT probes (provider "libasync"), each guarded by a semaphore so that a
 * probe site costs one load and one branch while no tracer is attached. The contract
 * (names, arguments, meaning) is docs/probes.md; build with ASYNC_NO_PROBES to compile
 * every probe out.
 *
 * Call sites test ASYNC_PROBE_ENABLED(name) before computing arguments:
 *	if (ASYNC_PROBE_ENABLED(task_done))
 *		ASYNC_PROBE(task_done, id, result, now);
 */
#ifndef ASYNC_RUNTIME_PROBES_H
#define ASYNC_RUNTIME_PROBES_H

#ifdef ASYNC_NO_PROBES

#define ASYNC_PROBE_ENABLED(name) 0
/* Keeps the arguments "used" (call sites guard with ASYNC_PROBE_ENABLED: dead code). */
static inline void async__probe_unused(int dummy, ...)
{
	(void)dummy;
}
#define ASYNC_PROBE(name, ...) async__probe_unused(0, ##__VA_ARGS__)

#else

#define _SDT_HAS_SEMAPHORES 1
#define SDT_USE_VARIADIC    1
#include <sys/sdt.h>

#define ASYNC__SEMAPHORE(name)	  libasync_##name##_semaphore
#define ASYNC_PROBE_ENABLED(name) __builtin_expect(ASYNC__SEMAPHORE(name) != 0, 0)
#define ASYNC_PROBE(name, ...)	  STAP_PROBEV(libasync, name, ##__VA_ARGS__)

/* The semaphores, defined in probes.c; the kernel counts attached uprobes in them. */
#define ASYNC__PROBE_LIST(X) \
	X(task_spawn)        \
	X(poll)              \
	X(task_done)         \
	X(wait)              \
	X(acquire)           \
	X(release)           \
	X(thread_start)

#define ASYNC__SEMAPHORE_DECL(name) extern volatile unsigned short ASYNC__SEMAPHORE(name);
ASYNC__PROBE_LIST(ASYNC__SEMAPHORE_DECL)
#undef ASYNC__SEMAPHORE_DECL

#endif /* ASYNC_NO_PROBES */

#endif /* ASYNC_RUNTIME_PROBES_H */
