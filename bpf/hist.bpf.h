/* SPDX-License-Identifier: MIT */
/*
 * log2 histogram slots on the BPF side; matches ai_hist_slot() in user/hist.h. Plain C,
 * so userspace can include it too (bpf/aggregate.h, after <linux/types.h>).
 */
#ifndef AI_HIST_BPF_H
#define AI_HIST_BPF_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

static __always_inline __u32 ai_log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 ai_log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? ai_log2_u32(hi) + 32 : ai_log2_u32((__u32)v);
}

/* Slot of v in a histogram of `slots` slots: 0 for 0, log2(v) + 1 otherwise, clamped. */
static __always_inline __u32 ai_hist_slot_bpf(__u64 v, __u32 slots)
{
	__u32 s = v ? ai_log2_u64(v) + 1 : 0;

	return s < slots ? s : slots - 1;
}

#endif /* AI_HIST_BPF_H */
