// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * diagnose's view of the scheduler: for every context switch of one of the target's
 * worker threads in the middle of a poll (its thread record's seq is odd), how long it
 * was off its CPU and why: blocked in the kernel (with the system call and kernel stack
 * of the longest block) or preempted/throttled while runnable. Sums per poll, keyed by
 * (tid, seq). The rest of a long poll's time was on the CPU.
 *
 * tp_btf/sched_switch runs in the context of `prev` (the switch has not happened yet),
 * so prev's own memory, its thread record, can be read directly.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "maps.bpf.h"
#include "offcpu.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 target_tgid = 0;
/* Count runs and time them (diagnose -v, bench/diagnose.sh): two clock reads a run. */
const volatile bool count_cost = false;

/* tid -> address of its struct async_thread_abi (the loader fills it from the registry). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCHED_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCHED_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct sched_out);
} off SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SCHED_MAX_POLLS);
	__type(key, struct sched_poll_key);
	__type(value, struct sched_poll);
} polls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SCHED_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Scratch for the switch-out record (too big for the stack with the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sched_out);
} scratch SEC(".maps");

static __always_inline void add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static const struct sched_poll zero_poll;

/* prev leaves its CPU: inside a poll, remember when and why. */
static __always_inline void switch_out(void *ctx, struct task_struct *prev, bool preempt,
				       unsigned int prev_state)
{
	__u32 tid = BPF_CORE_READ(prev, pid), zero = 0;
	__u64 *rec = bpf_map_lookup_elem(&threads, &tid), seq;
	struct sched_out *o;

	if (!rec)
		return;
	if (bpf_probe_read_user(
		&seq, sizeof(seq),
		(const void *)(*rec + __builtin_offsetof(struct async_thread_abi, seq)))) {
		add(SCHED_CNT_BAD_READ, 1);
		return;
	}
	if (!(seq & 1))
		return; /* between polls: parking is not the poll's time */
	o = bpf_map_lookup_elem(&scratch, &zero);
	if (!o)
		return;
	o->seq = seq;
	o->out_ns = bpf_ktime_get_ns();
	o->preempted = preempt || prev_state == 0 /* TASK_RUNNING */;
	o->syscall = -1;
	__builtin_memset(o->kstack, 0, sizeof(o->kstack));
	if (!o->preempted) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);

#ifdef __TARGET_ARCH_x86
		if (regs)
			o->syscall = (__s32)BPF_CORE_READ(regs, orig_ax);
#else
		(void)regs;
#endif
		bpf_get_stack(ctx, o->kstack, sizeof(o->kstack), 0);
	}
	bpf_map_update_elem(&off, &tid, o, BPF_ANY);
	add(SCHED_CNT_SWITCHES, 1);
}

/* next gets its CPU back: add the time it was off to its poll. */
static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct sched_out *o = bpf_map_lookup_elem(&off, &tid);
	struct sched_poll_key key = { .tid = tid };
	struct sched_poll *p;
	int created;
	__u64 d;

	if (!o)
		return;
	key.seq = o->seq;
	d = bpf_ktime_get_ns() - o->out_ns;
	p = ai_map_lookup_or_init(&polls, &key, &zero_poll, &created);
	if (p) {
		p->switches++;
		if (o->preempted) {
			p->preempted_ns += d;
		} else {
			p->blocked_ns += d;
			if (d > p->max_block_ns) {
				p->max_block_ns = d;
				p->max_block_syscall = o->syscall;
				__builtin_memcpy(p->max_block_kstack, o->kstack, sizeof(o->kstack));
			}
		}
	}
	bpf_map_delete_elem(&off, &tid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 t0;
	bool mine_prev = BPF_CORE_READ(prev, tgid) == target_tgid,
	     mine_next = BPF_CORE_READ(next, tgid) == target_tgid;

	if (!mine_prev && !mine_next)
		return 0;
	t0 = count_cost ? bpf_ktime_get_ns() : 0;
	if (mine_prev)
		switch_out(ctx, prev, preempt, prev_state);
	if (mine_next)
		switch_in(next);
	if (count_cost) {
		add(SCHED_CNT_RUNS, 1);
		add(SCHED_CNT_RUN_NS, bpf_ktime_get_ns() - t0);
	}
	return 0;
}
