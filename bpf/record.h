/* SPDX-License-Identifier: MIT */
/*
 * The events of `async-inspect record`: what bpf/record.bpf.c writes into its ring
 * buffer and what a recording file stores, byte for byte, in its event blocks (see
 * docs/record-format.md). Every event starts with struct ai_rec_hdr; `size` is the
 * whole event. Fields are little-endian, naturally aligned, with explicit padding.
 */
#ifndef AI_BPF_RECORD_H
#define AI_BPF_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "async/abi.h"

enum ai_rec_type {
	AI_REC_SPAWN = 1,
	AI_REC_POLL = 2,
	AI_REC_DONE = 3,
	AI_REC_WAIT = 4,
	AI_REC_ACQUIRE = 5,
	AI_REC_RELEASE = 6,
	AI_REC_THREAD = 7,
	AI_REC_RING = 8,     /* a poll, from a poll ring (self-contained: see below) */
	AI_REC_TYPE_MAX = 9, /* one past the last known type */
};

struct ai_rec_hdr {
	__u16 type; /* enum ai_rec_type */
	__u16 size; /* bytes of the whole event, this header included */
	__u32 pid;  /* process (tgid) that hit the probe */
	__u32 tid;  /* thread that hit the probe */
	__u32 cpu;
	__u64 ts; /* CLOCK_MONOTONIC ns when the probe fired */
};

/* task_spawn(task_id, parent_id, fn_desc, name_addr, task_addr) */
struct ai_rec_spawn {
	struct ai_rec_hdr h;
	__u64 task_id;
	__u64 parent_id;
	__u64 fn;	 /* FUNCTION descriptor, 0 if unknown before the first poll */
	__u64 name_addr; /* resolved through the file's name table */
	__u64 task_addr;
};

/* poll(...) once per poll, at its end: the runtime's own poll record. */
struct ai_rec_poll {
	struct ai_rec_hdr h;
	struct async_poll_rec rec;
};

/* task_done(task_id, result, end_ns) */
struct ai_rec_done {
	struct ai_rec_hdr h;
	__u64 task_id;
	__s32 result;
	__u32 pad;
	__u64 end_ns;
};

/*
 * wait(task_id, kind, obj, holder_id, await_desc). With AI_REC_WAIT_F_CURRENT in flags
 * (and tid 0) it was not a probe: record read it from the runtime's task record when the
 * recording ended, the wait of the task's last poll (sleeps and waits registered before
 * recording fire no probe; without this, report would call those tasks lost wakers).
 */
#define AI_REC_WAIT_F_CURRENT 1u
struct ai_rec_wait {
	struct ai_rec_hdr h;
	__u64 task_id;
	__u32 kind;  /* enum async_wait_kind */
	__u32 flags; /* AI_REC_WAIT_F_*; 0 from the probe */
	__u64 obj;
	__u64 holder_id;
	__u64 await_desc;
};

/* acquire(task_id, kind, obj) and release(task_id, kind, obj) */
struct ai_rec_lock {
	struct ai_rec_hdr h;
	__u64 task_id;
	__u32 kind;
	__u32 pad;
	__u64 obj;
};

/* thread_start(tid, kind, rec_addr) */
struct ai_rec_thread {
	struct ai_rec_hdr h;
	__u32 thread_tid;
	__u32 kind; /* enum async_thread_kind */
	__u64 rec_addr;
};

/*
 * A poll read from a worker's poll ring: the runtime's record as it is, with the chain it
 * resumed from and the end of the task's previous poll, so that a reader can aggregate
 * polls in any order (the rings of several workers are drained one after the other).
 * h.tid is the worker's thread, h.ts the poll's end.
 */
struct ai_rec_ring {
	struct ai_rec_hdr h;
	struct async_ring_rec rec;
};

/* The largest event; readers size their scratch buffers with it. */
#define AI_REC_EVENT_MAX 256

#endif /* AI_BPF_RECORD_H */
