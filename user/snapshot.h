/* SPDX-License-Identifier: MIT */
/*
 * A snapshot of a libasync process read out of its memory: the registry the runtime
 * exports (symbol ASYNC_REGISTRY_SYMBOL, see include/async/abi.h), every live task's
 * record, its name, its await chain (root frame -> child -> ... -> innermost future),
 * what it waits on, and the runtime's thread records. No probe and no earlier tracing
 * is needed, so tasks spawned long before the tracer started are seen too.
 *
 * The target keeps running while it is read: every walk is bounded, every record's
 * magic is checked, and the whole read is retried a few times while the registry's
 * `gen` changes under it. A snapshot of a busy process may still mix moments; the
 * `consistent` flag says whether it did not.
 */
#ifndef AI_SNAPSHOT_H
#define AI_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "async/abi.h"

#define AI_SNAP_NAME_MAX    64
#define AI_SNAP_MAX_TASKS   100000 /* default cap on the task list walk */
#define AI_SNAP_MAX_THREADS 4096
#define AI_SNAP_RETRIES	    4 /* default reads of the whole registry while `gen` changes */

/* Reads len bytes at addr of the target into buf: 0, or a negative errno. */
typedef int (*ai_snap_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* One future of a task's await chain. */
struct ai_snap_frame {
	uint64_t addr; /* the frame's address in the target */
	uint64_t fn;   /* FUNCTION/LEAF/TRACED descriptor (runtime address) */
	uint64_t at;   /* AWAIT descriptor it is stopped at, 0 if none */
};

/* What the chain walk found at its end. */
enum ai_chain_end {
	AI_CHAIN_OK = 0,	/* ended at a frame without child */
	AI_CHAIN_TRUNCATED = 1, /* deeper than ASYNC_CHAIN_MAX */
	AI_CHAIN_LOOP = 2,	/* a child pointed back into the chain */
	AI_CHAIN_FAULT = 3,	/* a frame could not be read */
};

struct ai_snap_task {
	uint64_t addr;		     /* address of its struct async_task_abi */
	struct async_task_abi abi;   /* the record as read */
	char name[AI_SNAP_NAME_MAX]; /* "" when unreadable */
	struct ai_snap_frame chain[ASYNC_CHAIN_MAX];
	unsigned chain_len;
	enum ai_chain_end chain_end;
	/*
	 * The task it waits for right now, 0 if none or unknown: for MUTEX the mutex's
	 * current holder (read from the mutex), for JOIN the joined task.
	 */
	uint64_t wait_for;
	/*
	 * The wait object's record was read (magic valid): MUTEX (struct async_mutex_abi),
	 * JOIN (the joined task's record), CHAN_RECV/CHAN_SEND (struct async_chan_abi, when
	 * the runtime provides it). obj_desc names its declaration (JOIN: the task's fn).
	 */
	bool obj_valid;
	uint64_t obj_desc;
	uint32_t mutex_waiters;
	uint32_t chan_senders; /* channel waits with obj_valid: sender handles alive */
	uint32_t chan_len;     /* items queued */
	bool chan_receiver;    /* the receiver handle is alive */
	/*
	 * Channel waits: the task at the other end that could end the wait, 0 if none is
	 * known for certain: for a send on a full channel the receiving task (there is one
	 * receiver), for a receive the sending task only while one sender handle is left.
	 */
	uint64_t chan_peer;
};

struct ai_snap_thread {
	uint64_t addr;
	struct async_thread_abi abi;
};

/* How the walk of the task list ended. */
enum ai_snap_end {
	AI_SNAP_END_OK = 0, /* at the list's end */
	AI_SNAP_END_CAP,    /* max_tasks kept; reg.live_tasks says how many there are */
	AI_SNAP_END_LOOP,   /* the list leads back into itself (at bad_addr) */
	AI_SNAP_END_FAULT,  /* a record could not be read or had a bad magic (at bad_addr) */
};

struct ai_snapshot {
	uint64_t registry_addr;
	struct async_registry_abi reg; /* the header read last */
	uint64_t taken_ns;	       /* CLOCK_MONOTONIC when the read began */
	struct ai_snap_task *tasks;    /* sorted by id, ids unique */
	size_t ntasks;
	struct ai_snap_thread *threads;
	size_t nthreads;
	unsigned attempts; /* whole-registry reads done */
	bool consistent;   /* `gen` did not change during the read that was kept */
	bool truncated;	   /* a list walk stopped early (cap, loop, bad magic or fault) */
	enum ai_snap_end tasks_end;
	uint64_t bad_addr; /* LOOP: an address met twice; FAULT: the unreadable record */
	size_t walked;	   /* task records walked (more than ntasks with only_id) */
};

struct ai_snap_opts {
	size_t max_tasks; /* 0: AI_SNAP_MAX_TASKS */
	unsigned retries; /* 0: AI_SNAP_RETRIES */
	uint64_t now_ns;  /* 0: ai_now_ns() */
	/*
	 * Nonzero: walk the whole list (no cap) but keep only the task with this id and
	 * the task it waits for, so that any live task is found in bounded memory.
	 */
	uint64_t only_id;
};

/*
 * Reads the registry at registry_addr through `read`. Errors (negative errno):
 *   -EFAULT (or what `read` returns) the registry cannot be read;  -EPROTO bad magic;
 *   -EPROTONOSUPPORT an ABI version this reader does not know;  -ENOMEM.
 */
int ai_snapshot_read(ai_snap_read_fn read, void *ctx, uint64_t registry_addr,
		     const struct ai_snap_opts *opts, struct ai_snapshot **out);

/* Finds the registry of `pid` (-ENOENT: the process does not use libasync). */
int ai_snapshot_locate(pid_t pid, uint64_t *registry_addr);
/* ai_snapshot_read over process memory (ai_proc_read). */
int ai_snapshot_take(pid_t pid, uint64_t registry_addr, const struct ai_snap_opts *opts,
		     struct ai_snapshot **out);
void ai_snapshot_free(struct ai_snapshot *s);

/* The task with this id, or NULL. */
const struct ai_snap_task *ai_snapshot_find(const struct ai_snapshot *s, uint64_t id);
/* Index of the task with this id, or -1. */
long ai_snapshot_index(const struct ai_snapshot *s, uint64_t id);

/*
 * The same task in two snapshots did not move: idle in both, since the same time, with
 * the same polls and the same wait (object, the task it waits for, the channel's peer).
 */
bool ai_snap_task_unmoved(const struct ai_snap_task *a, const struct ai_snap_task *b);
/* Time the task has been in its state at the snapshot (0 if it changed since). */
uint64_t ai_snap_task_in_state(const struct ai_snapshot *s, const struct ai_snap_task *t);

/*
 * One line about an incomplete task list ("", when complete) into buf: how many tasks
 * were read of how many live, and why the walk stopped.
 */
const char *ai_snapshot_incomplete(const struct ai_snapshot *s, char *buf, size_t len);

/* A short description of a snapshot error, for "failed to read 'registry of PID': <this>". */
const char *ai_snapshot_strerror(int err);

#endif /* AI_SNAPSHOT_H */
