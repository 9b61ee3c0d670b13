/* SPDX-License-Identifier: MIT */
/*
 * Async functions as explicit state machines.
 *
 * An async function `foo` is a struct whose first member is a struct async_frame (the
 * locals that live across awaits are its other members) and a poll function named
 * foo_poll:
 *
 *	struct fetch_user {
 *		struct async_frame frame;
 *		uint64_t id;
 *		struct fetch_profile profile;
 *	};
 *
 *	static enum async_poll fetch_user_poll(struct fetch_user *f, struct async_cx *cx)
 *	{
 *		ASYNC_BEGIN(f);
 *		fetch_profile_init(&f->profile, f->id);
 *		ASYNC_AWAIT(f, cx, fetch_profile, &f->profile);
 *		ASYNC_RETURN(f);
 *	}
 *
 * ASYNC_AWAIT(f, cx, callee, child) polls `callee_poll(child, cx)` and returns
 * ASYNC_PENDING until it is ready. Child futures live inside the parent (no allocation
 * per await). Each await records a descriptor (function, callee, file, line) in the
 * ELF section ASYNC_DESC_SECTION, so tracers name states without strings crossing the
 * kernel. Locals of the poll function do not survive an await: keep them in the struct.
 * Use ASYNC_AWAIT at most once per source line.
 */
#ifndef ASYNC_FUTURE_H
#define ASYNC_FUTURE_H

#include <stdint.h>

#include "abi.h"

enum async_poll {
	ASYNC_PENDING = 0,
	ASYNC_READY = 1,
};

struct async_cx;

/* A descriptor. Layout is struct async_desc_abi. */
struct async_desc {
	uint32_t magic;
	uint16_t kind;
	uint16_t flags;
	uint32_t line;
	uint32_t reserved;
	const char *function;
	const char *callee;
	const char *file;
};

/* Layout is struct async_frame_abi. */
struct async_frame {
	const struct async_desc *fn;
	const struct async_desc *at;
	struct async_frame *child;
	uint32_t resume;
	uint32_t flags;
};

typedef enum async_poll (*async_poll_fn)(void *future, struct async_cx *cx);
typedef void (*async_drop_fn)(void *future);

/* Cast a typed poll function (taking a pointer to its own struct) to async_poll_fn. */
#define ASYNC_POLL_FN(fn) ((async_poll_fn)(fn))
#define ASYNC_DROP_FN(fn) ((async_drop_fn)(fn))

/* ---- descriptors ------------------------------------------------------------------ */

#define ASYNC__DESC_ATTR __attribute__((section(ASYNC_DESC_SECTION), used, aligned(8)))

/* Defines a block-scope static descriptor named `var`. */
#define ASYNC__DESC(var, kind_, callee_)                  \
	static struct async_desc var ASYNC__DESC_ATTR = { \
		.magic = ASYNC_DESC_MAGIC,                \
		.kind = (kind_),                          \
		.line = __LINE__,                         \
		.function = __func__,                     \
		.callee = (callee_),                      \
		.file = __FILE__,                         \
	}

/* ---- the state-machine macros ----------------------------------------------------- */

#define ASYNC_BEGIN(f)                                       \
	ASYNC__DESC(async__fn_desc, ASYNC_DESC_FUNCTION, 0); \
	(f)->frame.fn = &async__fn_desc;                     \
	switch ((f)->frame.resume) {                         \
	case 0:

/* Await `child` (a struct callee *), polling it with callee_poll(child, cx). */
#define ASYNC_AWAIT(f, cx, callee, child_)                                 \
	do {                                                               \
		ASYNC__DESC(async__await_desc, ASYNC_DESC_AWAIT, #callee); \
		(f)->frame.at = &async__await_desc;                        \
		(f)->frame.child = (struct async_frame *)(child_);         \
		(f)->frame.resume = __LINE__;                              \
	case __LINE__:                                                     \
		if (callee##_poll((child_), (cx)) == ASYNC_PENDING)        \
			return ASYNC_PENDING;                              \
		(f)->frame.child = 0;                                      \
		(f)->frame.at = 0;                                         \
	} while (0)

/*
 * Await a future through an explicit poll expression that yields enum async_poll,
 * for futures not named callee_poll (e.g. a select over several children).
 */
#define ASYNC_AWAIT_EXPR(f, callee, child_, poll_expr)                     \
	do {                                                               \
		ASYNC__DESC(async__await_desc, ASYNC_DESC_AWAIT, #callee); \
		(f)->frame.at = &async__await_desc;                        \
		(f)->frame.child = (struct async_frame *)(child_);         \
		(f)->frame.resume = __LINE__;                              \
	case __LINE__:                                                     \
		if ((poll_expr) == ASYNC_PENDING)                          \
			return ASYNC_PENDING;                              \
		(f)->frame.child = 0;                                      \
		(f)->frame.at = 0;                                         \
	} while (0)

/* Give control back to the executor once; the task is re-queued at once. */
#define ASYNC_YIELD(f, cx)                                                       \
	do {                                                                     \
		ASYNC__DESC(async__await_desc, ASYNC_DESC_AWAIT, "async_yield"); \
		(f)->frame.at = &async__await_desc;                              \
		(f)->frame.resume = __LINE__;                                    \
		async_cx_wake_self(cx);                                          \
		return ASYNC_PENDING;                                            \
	case __LINE__:                                                           \
		(f)->frame.at = 0;                                               \
	} while (0)

/* Complete now, from anywhere between ASYNC_BEGIN and ASYNC_RETURN. */
#define ASYNC_DONE(f)                           \
	do {                                    \
		(f)->frame.resume = UINT32_MAX; \
		(f)->frame.at = 0;              \
		(f)->frame.child = 0;           \
		return ASYNC_READY;             \
	} while (0)

/* Complete; the last statement of every poll function that starts with ASYNC_BEGIN. */
#define ASYNC_RETURN(f)             \
	ASYNC_DONE(f);              \
	default:                    \
		return ASYNC_READY; \
		}

/* ---- markers ------------------------------------------------------------------------ */

/*
 * ASYNC_TRACE(frame): the counterpart of #[async_inspect::trace] for a hand-written
 * poll function: place it first in the poll function; it names the future after the
 * enclosing function. `frame` is the future's struct async_frame.
 */
#define ASYNC_TRACE(frame_)                                            \
	do {                                                           \
		ASYNC__DESC(async__traced_desc, ASYNC_DESC_TRACED, 0); \
		(frame_).fn = &async__traced_desc;                     \
	} while (0)

/*
 * ASYNC_CALL(fn, args...): calls a plain (non-async) function from async code and
 * records the call in the descriptor section, so the static call graph shows it.
 */
#define ASYNC_CALL(fn, ...)                                          \
	({                                                           \
		ASYNC__DESC(async__call_desc, ASYNC_DESC_CALL, #fn); \
		(void)async__call_desc;                              \
		fn(__VA_ARGS__);                                     \
	})

/* ---- the context a poll function receives ---------------------------------------- */

/* Id of the task being polled. */
uint64_t async_cx_task_id(const struct async_cx *cx);
/* Schedule the current task to be polled again (after this poll returns). */
void async_cx_wake_self(struct async_cx *cx);

#endif /* ASYNC_FUTURE_H */
