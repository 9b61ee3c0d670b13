/* SPDX-License-Identifier: MIT */
/* Executors, tasks, join handles and wakers. */
#ifndef ASYNC_EXEC_H
#define ASYNC_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "future.h"

struct async_exec;
struct async_task;

struct async_exec_opts {
	unsigned workers;	   /* worker threads; 0 = one per online CPU */
	bool single_threaded;	   /* run every task on the thread calling async_exec_run */
	unsigned blocking_threads; /* spawn_blocking pool size; 0 = 4 */
	void *data;		   /* user data, returned by async_exec_data() */
};

/* Creates an executor; opts may be NULL for the defaults. Threads start here. */
int async_exec_new(const struct async_exec_opts *opts, struct async_exec **out);
/* Stops the workers, aborts tasks still alive and frees everything. Accepts NULL. */
void async_exec_free(struct async_exec *exec);
void *async_exec_data(const struct async_exec *exec);

/*
 * Runs until no task is alive (multi-threaded: waits for the workers; single-threaded:
 * runs the loop on the calling thread). Returns 0, or a negative errno.
 */
int async_exec_run(struct async_exec *exec);
/*
 * Makes async_exec_run return once every running poll has returned; tasks stay (and
 * are not polled until the next async_exec_run). A stop while no async_exec_run is
 * running makes the next one return at once. Safe from any thread and from tasks.
 */
void async_exec_stop(struct async_exec *exec);

/*
 * A JoinHandle: a future that completes when its task does. Embed it where the result
 * is awaited; async_spawn fills it. Awaiting it yields `result`: 0 when the task ran to
 * completion, ASYNC_ECANCELED when it was aborted. The task's future (and the output
 * it holds) stays alive until the handle is dropped with async_join_drop.
 */
struct async_join {
	struct async_frame frame;
	struct async_task *task;
	int result;
	void *data;
};

/*
 * Spawns a task polling `future` with `poll`. `name` must outlive the task (a string
 * literal). `drop` (may be NULL) runs once when the task is finished with its future
 * (completion or abort, and no handle holds it any more): the task's cleanup.
 * `join` may be NULL for a detached task. Called from inside a task, the new task's
 * parent is the current task. Safe from any thread.
 */
int async_spawn(struct async_exec *exec, const char *name, async_poll_fn poll, void *future,
		async_drop_fn drop, struct async_join *join);
/* Spawns on the executor of the task being polled. */
int async_spawn_cx(struct async_cx *cx, const char *name, async_poll_fn poll, void *future,
		   async_drop_fn drop, struct async_join *join);

enum async_poll async_join_poll(struct async_join *join, struct async_cx *cx);
/* Id of the joined task (0 if the handle is empty). */
uint64_t async_join_task_id(const struct async_join *join);
/* The task's future pointer, as given to async_spawn. */
void *async_join_future(const struct async_join *join);
/*
 * Aborts the task: it is never polled again, its drop runs, awaiting the handle yields
 * ASYNC_ECANCELED. A task aborted while being polled stops after that poll. Returns 0,
 * or ASYNC_EINVAL if it had already completed.
 */
int async_join_abort(struct async_join *join);
/* Detaches the handle (the task keeps running). Accepts an empty handle. */
void async_join_drop(struct async_join *join);

/*
 * Spawns and runs until the future completes (and every other task too). The
 * simplest way to run a program's main future. Returns the task's result.
 */
int async_block_on(struct async_exec *exec, const char *name, async_poll_fn poll, void *future);

/* ---- wakers ----------------------------------------------------------------------- */

/*
 * A waker re-schedules the task it was cloned from. Wake-ups are never lost or
 * duplicated: waking a task that is already scheduled does nothing, waking a task
 * while it is polled makes the executor poll it once more after that poll.
 */
struct async_waker {
	struct async_task *task;
};

/* Takes a reference on the current task. */
struct async_waker async_waker_clone(struct async_cx *cx);
struct async_waker async_waker_dup(const struct async_waker *w);
/* Wakes and releases the reference; the waker is empty afterwards. */
void async_waker_wake(struct async_waker *w);
void async_waker_wake_by_ref(const struct async_waker *w);
/* Releases without waking. Accepts an empty waker. */
void async_waker_drop(struct async_waker *w);
bool async_waker_will_wake(const struct async_waker *w, const struct async_cx *cx);

/* The executor of the task being polled. */
struct async_exec *async_cx_exec(const struct async_cx *cx);

#endif /* ASYNC_EXEC_H */
