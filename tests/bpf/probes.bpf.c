// SPDX-License-Identifier: MIT
/*
 * The probe test's BPF side: one program per libasync probe, each copying the probe's
 * arguments (read through libbpf's USDT argument specs) into a ring buffer record.
 * Userspace (probe_check.c) attaches them to one process and checks every record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include <async/abi.h>

#include "probe_event.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

__u64 lost = 0;

static __always_inline struct probe_event *start(__u32 type)
{
	struct probe_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ktime_ns = bpf_ktime_get_ns();
	return e;
}

SEC("usdt")
int BPF_USDT(on_task_spawn, __u64 task_id, __u64 parent_id, __u64 fn, __u64 name, __u64 task)
{
	struct probe_event *e = start(PE_TASK_SPAWN);

	if (!e)
		return 0;
	e->args[0] = task_id;
	e->args[1] = parent_id;
	e->args[2] = fn;
	e->args[3] = name;
	e->args[4] = task;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_poll, __u64 task_id, __u64 start_ns, __u64 end_ns, __u64 woken_ns, __u64 state,
	     __u64 leaf, __u64 waker_id, __u32 result, __u64 fn)
{
	struct probe_event *e = start(PE_POLL);

	if (!e)
		return 0;
	e->args[0] = task_id;
	e->args[1] = start_ns;
	e->args[2] = end_ns;
	e->args[3] = woken_ns;
	e->args[4] = state;
	e->args[5] = leaf;
	e->args[6] = waker_id;
	e->args[7] = result;
	e->args[8] = fn;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_task_done, __u64 task_id, int result, __u64 end_ns)
{
	struct probe_event *e = start(PE_TASK_DONE);

	if (!e)
		return 0;
	e->args[0] = task_id;
	e->args[1] = (__u64)(__s64)result;
	e->args[2] = end_ns;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_wait, __u64 task_id, __u32 kind, __u64 obj, __u64 holder_id, __u64 await_desc)
{
	struct probe_event *e = start(PE_WAIT);

	if (!e)
		return 0;
	e->args[0] = task_id;
	e->args[1] = kind;
	e->args[2] = obj;
	e->args[3] = holder_id;
	e->args[4] = await_desc;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int lock_event(__u32 type, __u64 task_id, __u32 kind, __u64 obj)
{
	struct probe_event *e = start(type);

	if (!e)
		return 0;
	e->args[0] = task_id;
	e->args[1] = kind;
	e->args[2] = obj;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_acquire, __u64 task_id, __u32 kind, __u64 obj)
{
	return lock_event(PE_ACQUIRE, task_id, kind, obj);
}

SEC("usdt")
int BPF_USDT(on_release, __u64 task_id, __u32 kind, __u64 obj)
{
	return lock_event(PE_RELEASE, task_id, kind, obj);
}

SEC("usdt")
int BPF_USDT(on_thread_start, __u32 tid, __u32 kind, __u64 record)
{
	struct probe_event *e = start(PE_THREAD_START);

	if (!e)
		return 0;
	e->args[0] = tid;
	e->args[1] = kind;
	e->args[2] = record;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
