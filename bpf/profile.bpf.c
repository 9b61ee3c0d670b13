// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * async-inspect profile: a perf_event timer (PERF_COUNT_SW_CPU_CLOCK on every CPU) runs
 * this program. For threads of the target it finds the interrupted thread's record in
 * libasync's registry (plain memory reads, no uprobe), reads the task being polled and
 * its await chain, takes the user stack, and counts the combination.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "profile.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by the loader between open and load. */
const volatile __u32 target_tgid = 0;
/*
 * Runtime address of async_registry. Not rodata: with -- CMD the sampler is attached
 * before the command runs, and the loader stores the address once the command has
 * mapped libasync. Until then (0) samples count as [other thread].
 */
volatile __u64 registry_addr = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROFILE_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, PROFILE_MAX_STACKS);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFILE_MAX_ENTRIES);
	__type(key, struct profile_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFILE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* The key is built here rather than on the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profile_key);
} scratch SEC(".maps");

static __always_inline void add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	add(idx, 1);
}

/* The interrupted thread's record, or 0 when it is not a runtime thread. */
static __always_inline __u64 find_thread(__u32 tid, struct async_thread_abi *t)
{
	struct async_registry_abi reg;
	__u64 rec, addr = registry_addr;

	if (!addr || bpf_probe_read_user(&reg, sizeof(reg), (const void *)addr))
		return 0;
	/* A layout this program does not know is not read further. */
	if (reg.magic != ASYNC_REGISTRY_MAGIC || reg.version != ASYNC_ABI_VERSION) {
		count(PROFILE_CNT_BAD_RECORD);
		return 0;
	}
	rec = reg.threads;
	for (int i = 0; i < PROFILE_MAX_THREADS && rec; i++) {
		if (bpf_probe_read_user(t, sizeof(*t), (const void *)rec))
			return 0;
		if (t->magic != ASYNC_THREAD_MAGIC) {
			count(PROFILE_CNT_BAD_RECORD);
			return 0;
		}
		if (t->tid == tid)
			return rec;
		rec = t->next;
	}
	return 0;
}

/*
 * Fills key->chain with the AWAIT descriptors from the root frame down. The root
 * frame's own fn is fresher than the thread record's (set by the poll function itself
 * on its first poll), so it names the task when present.
 */
static __always_inline void read_chain(struct profile_key *key, __u64 frame)
{
	struct async_frame_abi f;
	__u32 depth = 0;

	for (int i = 0; i < ASYNC_CHAIN_MAX && frame; i++) {
		if (bpf_probe_read_user(&f, sizeof(f), (const void *)frame))
			break;
		if (i == 0 && f.fn)
			key->fn = f.fn;
		if (!f.at)
			break;
		key->chain[i] = f.at;
		depth = i + 1;
		frame = f.child;
	}
	key->depth = depth;
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct async_thread_abi t;
	struct profile_key *key;
	__u32 zero = 0;
	__u64 rec, seq, *val, one = 1, t0;

	if ((__u32)(pid_tgid >> 32) != target_tgid)
		return 0;
	/* What a sample costs the target: measured, reported by the loader. */
	t0 = bpf_ktime_get_ns();
	count(PROFILE_CNT_RUNS);
	key = bpf_map_lookup_elem(&scratch, &zero);
	if (!key)
		return 0;
	__builtin_memset(key, 0, sizeof(*key));
	/* Kernel addresses have the top bit set on every 64-bit architecture we target. */
	key->in_kernel = (PT_REGS_IP(&ctx->regs) >> 63) ? 1 : 0;

	rec = find_thread((__u32)pid_tgid, &t);
	if (!rec) {
		key->state = PROFILE_OTHER;
	} else if (t.kind == ASYNC_THREAD_BLOCKING) {
		key->state = PROFILE_BLOCKING;
	} else if (t.kind == ASYNC_THREAD_REACTOR) {
		key->state = PROFILE_REACTOR;
	} else if (!(t.seq & 1) || !t.root_frame) {
		key->state = key->in_kernel ? PROFILE_IDLE_WORKER : PROFILE_RUNTIME;
	} else {
		key->state = PROFILE_TASK;
		key->fn = t.fn;
		read_chain(key, t.root_frame);
		/* The poll ended (or another began) while we read: not this task's sample. */
		if (bpf_probe_read_user(
			&seq, sizeof(seq),
			(const void *)(rec + __builtin_offsetof(struct async_thread_abi, seq))) ||
		    seq != t.seq) {
			count(PROFILE_CNT_TORN);
			__builtin_memset(key->chain, 0, sizeof(key->chain));
			key->depth = 0;
			key->fn = 0;
			key->state = PROFILE_RUNTIME;
		}
	}

	key->stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (key->stack_id < 0)
		count(PROFILE_CNT_NO_STACK);

	val = bpf_map_lookup_elem(&counts, key);
	if (!val && !bpf_map_update_elem(&counts, key, &one, BPF_NOEXIST)) {
		count(PROFILE_CNT_SAMPLES);
	} else {
		/* Known key, or another CPU inserted it meanwhile, or the map is full. */
		if (!val)
			val = bpf_map_lookup_elem(&counts, key);
		if (val) {
			__sync_fetch_and_add(val, 1);
			count(PROFILE_CNT_SAMPLES);
		} else {
			count(PROFILE_CNT_DROPPED);
		}
	}
	add(PROFILE_CNT_RUN_NS, bpf_ktime_get_ns() - t0);
	return 0;
}
