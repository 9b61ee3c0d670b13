/* SPDX-License-Identifier: MIT */
/*
 * The contract between libasync and its tracers: everything a tracer reads out of a
 * traced process (descriptors, frames, task and thread records, the registry) and the
 * constants its probes pass. Included by the runtime, by the BPF programs (after
 * vmlinux.h) and by the async-inspect loader, so it uses only the kernel's __u64-style
 * types and no pointers: addresses are __u64 in the traced process' address space.
 *
 * Layout changes bump ASYNC_ABI_VERSION; readers refuse versions they do not know.
 */
#ifndef ASYNC_ABI_H
#define ASYNC_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* 2: task .wakers, channel .recv_task/.send_task; 3: poll rings (thread record .ring,
 * registry .ring_slots) */
#define ASYNC_ABI_VERSION 3

/* ---- descriptors ------------------------------------------------------------------ */

/* ELF section holding every struct async_desc of an object (executable or library). */
#define ASYNC_DESC_SECTION "async_desc"
#define ASYNC_DESC_MAGIC   0x43534441u /* "ADSC" little-endian */

enum async_desc_kind {
	ASYNC_DESC_FUNCTION = 1, /* an async function (its poll function) */
	ASYNC_DESC_AWAIT = 2,	 /* an await point inside an async function */
	ASYNC_DESC_LEAF = 3,	 /* a runtime-provided future: sleep, recv, lock, ... */
	ASYNC_DESC_TRACED = 4,	 /* ASYNC_TRACE marker: hand-written future or plain function */
	ASYNC_DESC_CALL = 5,	 /* a plain function called from async code (ASYNC_CALL) */
	ASYNC_DESC_OBJECT = 6,	 /* a wait object's declaration: mutex, channel */
};

/*
 * One descriptor, 40 bytes, 8-byte aligned, in section ASYNC_DESC_SECTION. The three
 * string pointers are ordinary data pointers of the object they live in (relocated by
 * the dynamic loader in PIE executables and shared libraries).
 *
 * function: the enclosing C function (__func__). For FUNCTION and AWAIT descriptors
 *           written with the ASYNC_* macros this is the poll function, whose name is
 *           "<async fn>_poll"; readers show the async function's name without "_poll".
 * callee:   AWAIT: the awaited async function; CALL: the plain function called;
 *           OBJECT: the object's expression (e.g. "&db->lock"); otherwise 0.
 */
struct async_desc_abi {
	__u32 magic;
	__u16 kind;
	__u16 flags;
	__u32 line;
	__u32 reserved;
	__u64 function;
	__u64 callee;
	__u64 file;
};

/* ---- frames: one per future, chained from a task's root to its innermost future --- */

struct async_frame_abi {
	__u64 fn;     /* FUNCTION, LEAF or TRACED descriptor of this future */
	__u64 at;     /* AWAIT descriptor it is stopped at, 0 before its first await */
	__u64 child;  /* frame of the future being awaited at `at`, 0 if none */
	__u32 resume; /* the macros' resume point: the source line of the last await the
		       * future reached (0 before its first); only for ASYNC_* futures */
	__u32 flags;
};

#define ASYNC_CHAIN_MAX 16 /* deepest await chain tracers walk */

/* ---- tasks ------------------------------------------------------------------------ */

#define ASYNC_TASK_MAGIC 0x4b534154u /* "TASK" */

enum async_task_state {
	ASYNC_TASK_IDLE = 0,	  /* pending, waiting for a wake-up */
	ASYNC_TASK_SCHEDULED = 1, /* woken, in a run queue */
	ASYNC_TASK_RUNNING = 2,	  /* being polled */
	ASYNC_TASK_DONE = 3,	  /* completed or aborted; kept alive by a JoinHandle */
};

/* What a pending task waits on (wait probes and task records). */
enum async_wait_kind {
	ASYNC_WAIT_NONE = 0,
	ASYNC_WAIT_JOIN = 1,	  /* obj = task record address, holder = that task's id */
	ASYNC_WAIT_MUTEX = 2,	  /* obj = mutex address, holder = id of the task holding it */
	ASYNC_WAIT_CHAN_RECV = 3, /* obj = channel address, holder = 0 */
	ASYNC_WAIT_CHAN_SEND = 4, /* obj = channel address (full), holder = 0 */
	ASYNC_WAIT_TIMER = 5,	  /* obj = 0, holder = 0 */
	ASYNC_WAIT_IO = 6,	  /* obj = file descriptor, holder = 0 */
	ASYNC_WAIT_BLOCKING = 7,  /* obj = 0: a spawn_blocking job on the blocking pool */
};

/*
 * The first member of every task, kept current with plain stores. The registry links
 * live tasks through reg_next so a reader of process memory finds every task.
 */
struct async_task_abi {
	__u32 magic;
	__u32 state;	      /* enum async_task_state */
	__u64 id;	      /* 1, 2, 3, ...; never reused within a process */
	__u64 parent_id;      /* 0 for tasks spawned outside any task */
	__u64 fn;	      /* descriptor of the task's root future */
	__u64 name;	      /* address of the NUL-terminated name given at spawn */
	__u64 root_frame;     /* address of the root future's struct async_frame */
	__u64 spawn_ns;	      /* CLOCK_MONOTONIC */
	__u64 state_since_ns; /* when the task entered its current state */
	__u64 last_wake_ns;
	__u64 polls;
	__u32 wait_kind; /* enum async_wait_kind */
	/*
	 * Live wakers of this task: clones not yet woken or dropped, wherever they are (a
	 * timer, the reactor, a mutex or channel queue, a JoinHandle, a plain thread). Every
	 * registration that can wake a task holds one, so an IDLE task whose count stays 0
	 * can never be woken again: a lost wake-up, however long ago it got stuck.
	 */
	__u32 wakers;
	__u64 wait_obj;
	__u64 wait_holder;
	__u64 wait_desc; /* AWAIT descriptor of the await that waits, 0 if unknown */
	__u64 reg_next;	 /* next live task (address of its async_task_abi), 0 at the end */
	__u64 reg_prev;
};

/* The first members of struct async_mutex, so a reader can name a mutex's holder. */
#define ASYNC_MUTEX_MAGIC 0x5854554du /* "MUTX" */
struct async_mutex_abi {
	__u32 magic;
	__u32 waiters;
	__u64 holder_id; /* task id holding the lock, 0 when free */
	__u64 desc;	 /* OBJECT descriptor naming where it was declared */
};

/*
 * Optional: the first members of struct async_chan, kept current with plain stores, so a
 * reader can tell a receiver that no sender can wake any more (senders 0, nothing
 * queued) and name the channel. Readers check the magic and do without when it is not
 * there (a runtime that does not provide it).
 */
#define ASYNC_CHAN_MAGIC 0x4e414843u /* "CHAN" */
struct async_chan_abi {
	__u32 magic;
	__u32 senders;	/* sender handles alive */
	__u32 receiver; /* 1 while the receiver handle is alive */
	__u32 len;	/* items queued */
	__u64 capacity; /* items */
	__u64 desc;	/* OBJECT descriptor naming where it was created */
	/*
	 * The tasks at either end, by id (0: none yet, or a plain thread's try_send/recv):
	 * the last task that received or waits to receive, and the last that sent or waits
	 * to send. They link a producer stuck on a full channel to the consumer it waits
	 * for, and a consumer stuck on an empty one to a producer.
	 */
	__u64 recv_task;
	__u64 send_task;
};

/* ---- threads ---------------------------------------------------------------------- */

#define ASYNC_THREAD_MAGIC 0x44524854u /* "THRD" */

enum async_thread_kind {
	ASYNC_THREAD_WORKER = 1,   /* executor worker (or the single-threaded loop's thread) */
	ASYNC_THREAD_BLOCKING = 2, /* spawn_blocking pool */
	ASYNC_THREAD_REACTOR = 3,  /* timer / epoll driver */
};

/*
 * One per runtime thread, updated with plain stores around every poll. A sampler that
 * interrupts a thread reads `seq` before and after the rest: an odd value means a poll
 * is in progress; a change means the record moved under it.
 */
struct async_thread_abi {
	__u32 magic;
	__u32 tid;	     /* kernel thread id (gettid) */
	__u32 kind;	     /* enum async_thread_kind */
	__u32 index;	     /* worker index within its executor */
	__u64 seq;	     /* +1 at poll start and +1 at poll end */
	__u64 task_id;	     /* task being polled, 0 when idle */
	__u64 task;	     /* its async_task_abi address, 0 when idle */
	__u64 root_frame;    /* the task's root frame address, 0 when idle */
	__u64 fn;	     /* the task's function descriptor */
	__u64 poll_start_ns; /* 0 unless a tracer enabled the probes */
	__u64 next;	     /* next thread record, 0 at the end */
	__u64 ring;	     /* its poll ring (struct async_ring_abi), 0 until first traced poll */
};

/* ---- poll rings: one per worker thread, written while a tracer is attached --------- */

/*
 * While the `ring` probe's semaphore is set (a tracer attached to it), every worker appends
 * one struct async_ring_rec per poll to its own ring with plain stores; a tracer drains the
 * rings by reading process memory (async-inspect: a sleepable BPF task iterator) and counts
 * what it finds overwritten. The ring is allocated at the thread's first traced poll with
 * async_registry.ring_slots slots (or the default) and lives until the thread unregisters;
 * its size never changes.
 *
 * Reading: `head` counts the records ever written (the record of index i is in slot
 * i & (slots - 1)); the writer stores the record, then head (release). A reader that last
 * consumed index `tail` reads head, takes records [max(tail, head - slots), head), then
 * reads head again: a record whose index is below (new head - slots) may have been
 * overwritten while it was copied and counts as lost, as does every index it skipped.
 */
#define ASYNC_RING_MAGIC	 0x474e4952u /* "RING" */
#define ASYNC_RING_DEPTH	 5	     /* frames of the await chain a record carries */
#define ASYNC_RING_SLOTS_DEFAULT 16384	     /* records (2.4 MiB per worker thread) */
#define ASYNC_RING_SLOTS_MIN	 64
#define ASYNC_RING_SLOTS_MAX	 (1u << 22)

/* ASYNC_RING_REC flags */
#define ASYNC_RING_TRUNCATED 1 /* the chain was deeper: frames 0..DEPTH-2, then the innermost */

/*
 * One poll, 152 bytes, self-contained so that a reader may aggregate the records of a task
 * out of order (a task moves between workers, so its polls are in several rings):
 * prev_end_ns and the chain it resumed from tell the wait that this poll ended, state and
 * leaf where it stopped. The chain is the task's frames as the poll found them, root
 * first: fn[i] is frame i's FUNCTION/LEAF/TRACED descriptor, at[i] the AWAIT descriptor it
 * was stopped at (0 for the innermost future, usually a runtime leaf such as a sleep, and
 * for a root not polled before).
 */
struct async_ring_rec {
	__u64 task_id;
	__u64 start_ns;	    /* CLOCK_MONOTONIC, poll start */
	__u64 end_ns;	    /* poll end */
	__u64 woken_ns;	    /* when the task was last woken before this poll (or spawned) */
	__u64 waker_id;	    /* task that woke it, 0 if woken from outside a task */
	__u64 prev_end_ns;  /* end of the task's previous traced poll, 0 if none */
	__u64 state;	    /* AWAIT descriptor the root stopped at, 0 when ready */
	__u64 leaf;	    /* innermost AWAIT descriptor it stopped at, 0 when ready */
	__u8 result;	    /* enum async_poll_result */
	__u8 depth;	    /* frames in fn[]/at[], 1..ASYNC_RING_DEPTH */
	__u8 wait_kind;	    /* enum async_wait_kind of the wait this poll ended (0: none known) */
	__u8 flags;	    /* ASYNC_RING_TRUNCATED */
	__u8 end_wait_kind; /* enum async_wait_kind registered at the poll's end, 0 none */
	__u8 reserved[3];
	__u64 fn[ASYNC_RING_DEPTH];
	__u64 at[ASYNC_RING_DEPTH];
};

/* The ring's header (64 bytes); `recs` points at slots * rec_size bytes of records. */
struct async_ring_abi {
	__u32 magic;	/* ASYNC_RING_MAGIC */
	__u32 rec_size; /* sizeof(struct async_ring_rec) */
	__u32 slots;	/* a power of two */
	__u32 tid;	/* the writing thread */
	__u64 head;	/* records written since the ring was allocated */
	__u64 recs;	/* address of slot 0 */
	__u64 reserved[4];
};

/* ---- registry: reachable from the exported symbol ASYNC_REGISTRY_SYMBOL ------------ */

#define ASYNC_REGISTRY_SYMBOL "async_registry"
#define ASYNC_REGISTRY_MAGIC  0x5254534743534e41ull /* "ANSCGSTR" */

struct async_registry_abi {
	__u64 magic;
	__u32 version; /* ASYNC_ABI_VERSION */
	__u32 size;    /* sizeof(struct async_registry_abi) */
	__u64 threads; /* first thread record, 0 if none */
	__u64 tasks;   /* first live task, 0 if none */
	__u64 live_tasks;
	__u64 spawned_tasks;
	__u64 gen; /* bumped on every change to either list */
	/* Slots of poll rings allocated from now on (a power of two within
	 * [ASYNC_RING_SLOTS_MIN, ASYNC_RING_SLOTS_MAX]); a tracer may write it before it
	 * attaches, the environment variable ASYNC_RING_SLOTS sets it at load; 0: default. */
	__u32 ring_slots;
	__u32 reserved;
};

/* ---- probes (provider "libasync"); see docs/probes.md --------------------------- */

/* `ring` probe reasons */
enum async_ring_event {
	ASYNC_RING_NEW = 1,   /* a thread allocated its ring: read it from head `head` on */
	ASYNC_RING_FLUSH = 2, /* the ring is about to go (thread exit, process exit): drain it */
};

#define ASYNC_PROBE_PROVIDER "libasync"

enum async_poll_result {
	ASYNC_RESULT_PENDING = 0,
	ASYNC_RESULT_READY = 1,
};

/* The record one poll produces; the tracer's per-poll aggregation takes exactly this. */
struct async_poll_rec {
	__u64 task_id;
	__u64 start_ns;
	__u64 end_ns;
	__u64 woken_ns; /* when the task was last woken before this poll, 0 if never */
	__u64 state;	/* AWAIT descriptor the root future stopped at, 0 when ready */
	__u64 leaf;	/* AWAIT descriptor of the innermost future, 0 when ready */
	__u64 waker_id; /* task that woke it, 0 if none or woken from outside a task */
	__u32 result;	/* enum async_poll_result */
	__u32 tid;
	__u64 fn; /* the task's function descriptor (root frame's fn) */
};

#endif /* ASYNC_ABI_H */
