/* SPDX-License-Identifier: MIT */
/*
 * libasync's USDT probes (provider "libasync"), each guarded by a semaphore so that a
 * probe site costs one load and one branch while no tracer is attached. The contract
 * (names, arguments, meaning) is docs/probes.md; build with ASYNC_NO_PROBES to compile
 * every probe out.
 *
 * A call site tests ASYNC_PROBE_ENABLED(name) and, only when it is set, calls an
 * out-of-line ASYNC__PROBE_COLD function that gathers the arguments (timestamps, chain
 * walks) and fires the probe, so the hot path holds one load and one not-taken branch
 * and keeps none of the probe's arguments live:
 *	if (ASYNC_PROBE_ENABLED(task_done))
 *		probe_task_done(t);
 *
 * The semaphores of the probes on the spawn/poll/complete path (task_spawn, poll,
 * task_done, ring) share one aligned 8-byte word: ASYNC_PROBES_HOT() tests all four
 * with one load, so a path that would test several of them (spawn: poll + task_spawn)
 * tests once and takes a traced variant when any is set. The workers test it once
 * every 16 polls to choose the poll loop's variant (exec.c, choose_run_task), so an
 * untraced poll tests none.
 */
#ifndef ASYNC_RUNTIME_PROBES_H
#define ASYNC_RUNTIME_PROBES_H

#ifdef ASYNC_NO_PROBES

#define ASYNC_PROBE_ENABLED(name) 0
#define ASYNC_PROBES_HOT()	  0
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
#define ASYNC_PROBE_ENABLED(name) __builtin_expect(ASYNC__SEM_READ(ASYNC__SEMAPHORE(name)) != 0, 0)
#define ASYNC_PROBES_HOT()	  __builtin_expect(ASYNC__SEM_READ(async__probes_hot) != 0, 0)
#define ASYNC_PROBE(name, ...)	  STAP_PROBEV(libasync, name, ##__VA_ARGS__)

/*
 * The semaphores, defined in probes.c (in this order, the first four in one aligned
 * 8-byte word); the kernel counts attached uprobes in them. Hidden: the tracer finds
 * them through the probes' notes, and the library reaches them PC-relative (no GOT).
 */
#define ASYNC__PROBE_LIST(X) \
	X(task_spawn)        \
	X(poll)              \
	X(task_done)         \
	X(ring)              \
	X(wait)              \
	X(acquire)           \
	X(release)           \
	X(thread_start)

/*
 * A semaphore read that is fresh at every site (the empty asm tells the compiler the
 * kernel may have changed it, so no earlier read is reused) yet not volatile, so it folds
 * into the test: `cmpw $0, sem(%rip); jne`, two instructions (a volatile read costs a
 * separate load, three).
 */
#define ASYNC__SEM_READ(var)             \
	({                               \
		__asm__("" : "+m"(var)); \
		(var);                   \
	})

#define ASYNC__SEMAPHORE_DECL(name) \
	extern unsigned short ASYNC__SEMAPHORE(name) __attribute__((visibility("hidden")));
ASYNC__PROBE_LIST(ASYNC__SEMAPHORE_DECL)
#undef ASYNC__SEMAPHORE_DECL
/* The semaphores of task_spawn, poll, task_done and ring, read as one word. */
extern unsigned long long async__probes_hot __attribute__((visibility("hidden")));

#endif /* ASYNC_NO_PROBES */

/* The out-of-line function behind a probe site: gathers the arguments, fires the probe. */
#define ASYNC__PROBE_COLD __attribute__((noinline, cold))

#endif /* ASYNC_RUNTIME_PROBES_H */
