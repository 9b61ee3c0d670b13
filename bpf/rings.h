/* SPDX-License-Identifier: MIT */
/*
 * What the BPF ring drain (bpf/rings.bpf.h) and its loader (user/rings.c) share: the
 * reading state of one thread's poll ring (include/async/abi.h, "poll rings").
 */
#ifndef AI_BPF_RINGS_H
#define AI_BPF_RINGS_H

#define AI_RINGS_MAX  4096 /* threads with a ring one loader follows */
#define AI_RING_CHUNK 64   /* records copied out of a ring per step */

/* rings (hash keyed by the writing thread's tid). */
struct ai_ring_state {
	__u64 ring;   /* its struct async_ring_abi in the process, 0 once it went away */
	__u64 recs;   /* address of slot 0 */
	__u64 tail;   /* index of the next record to read */
	__u64 lost;   /* records overwritten before they were read (overruns) */
	__u64 read;   /* records read and aggregated */
	__u64 faults; /* of `lost`: records that could not be copied (memory gone) */
	__u32 pid;    /* tgid of the writing thread */
	__u32 slots;  /* a power of two */
};

/* A chunk of records copied out of a ring (per-CPU scratch). */
struct ai_ring_buf {
	struct async_ring_rec recs[2 * AI_RING_CHUNK]; /* twice: the masked copy length */
};

#endif /* AI_BPF_RINGS_H */
