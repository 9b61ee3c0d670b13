// SPDX-License-Identifier: MIT
/*
 * async-inspect record: every libasync probe hit becomes one event in a ring buffer
 * (built on the stack, copied into a reservation, submitted: emit()). Submissions do not wake the
 * reader; it drains the buffer on a timer, and is woken only when the unread data passes
 * `wakeup_bytes` (or for the first event, so that the loader reads the process' mappings while it
 * lives). A failed reservation is counted per CPU in `lost`, never dropped silently.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

#include "record.h"

const volatile __u32 targ_tgid = 0;	       /* 0: every process */
const volatile __u64 wakeup_bytes = 256 << 10; /* wake the reader past this much unread */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader before load */
} events SEC(".maps");

/* Reservations that failed because the ring buffer was full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Set by the first event: that one wakes the reader at once (record traces one process). */
__u32 first_seen;
/*
 * Set by the loader once every probe is attached: before that, a task could be seen
 * spawned but not polled (its probes attach one after the other).
 */
__u32 armed;
/* Set by the loader before it attaches (CLOCK_MONOTONIC). */
volatile __u64 rec_start_ns;

static __always_inline void *reserve(__u32 size, __u16 type, __u32 *wake)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct ai_rec_hdr *h;

	if (!armed || (targ_tgid && tgid != targ_tgid))
		return NULL;
	h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		__u32 zero = 0;
		__u64 *cnt = bpf_map_lookup_elem(&lost, &zero);

		if (cnt)
			*cnt += 1;
		return NULL;
	}
	h->type = type;
	h->size = size;
	h->pid = tgid;
	h->tid = (__u32)id;
	h->cpu = bpf_get_smp_processor_id();
	h->ts = bpf_ktime_get_ns();
	*wake = 0;
	if (!first_seen) {
		first_seen = 1;
		*wake = 1;
	}
	return h;
}

static __always_inline void submit(void *e, __u32 wake)
{
	if (!wake && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		wake = 1;
	bpf_ringbuf_submit(e, wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/*
 * One event: `ev` built on the stack (its header left empty), `size` bytes of it. Reserves
 * room, fills the header, copies the rest and submits; wake_now wakes the reader at once.
 */
static __always_inline int emit(const void *ev, __u32 size, __u16 type, __u32 wake_now)
{
	struct ai_rec_hdr *h;
	__u32 wake;

	h = reserve(size, type, &wake);
	if (!h)
		return 0;
	__builtin_memcpy(h + 1, (const struct ai_rec_hdr *)ev + 1, size - sizeof(*h));
	submit(h, wake | wake_now);
	return 0;
}

SEC("usdt")
int BPF_USDT(rec_task_spawn, __u64 task_id, __u64 parent_id, __u64 fn, __u64 name_addr,
	     __u64 task_addr)
{
	struct ai_rec_spawn e = {
		.task_id = task_id,
		.parent_id = parent_id,
		.fn = fn,
		.name_addr = name_addr,
		.task_addr = task_addr,
	};

	return emit(&e, sizeof(e), AI_REC_SPAWN, 0);
}

/* One ring record (bpf/rings.bpf.h drains the rings), as an AI_REC_RING event. */
__attribute__((noinline)) int ai_ring_record(const struct async_ring_rec *rr, __u32 pid, __u32 tid)
{
	struct ai_rec_ring *e;
	__u32 wake = 0;

	if (!rr || !armed || (targ_tgid && pid != targ_tgid))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *cnt = bpf_map_lookup_elem(&lost, &zero);

		if (cnt)
			*cnt += 1;
		return 0;
	}
	e->h.type = AI_REC_RING;
	e->h.size = sizeof(*e);
	e->h.pid = pid;
	e->h.tid = tid;
	e->h.cpu = bpf_get_smp_processor_id();
	e->h.ts = rr->end_ns;
	__builtin_memcpy(&e->rec, rr, sizeof(e->rec));
	/* a previous poll before the recording is not one of its polls */
	if (e->rec.prev_end_ns < rec_start_ns)
		e->rec.prev_end_ns = 0;
	if (!first_seen) {
		first_seen = 1;
		wake = 1;
	}
	submit(e, wake);
	return 0;
}

#include "rings.bpf.h"

/* The ring drain: rec_drain (the iterator the loader triggers), rec_ring (libasync:ring). */
AI_RINGS_PROGRAMS(rec_drain, rec_ring)

SEC("usdt")
int BPF_USDT(rec_poll, __u64 task_id, __u64 start_ns, __u64 end_ns, __u64 woken_ns, __u64 state,
	     __u64 leaf, __u64 waker_id, __u32 result, __u64 fn)
{
	struct ai_rec_poll e = {
		.rec = {
			.task_id = task_id,
			.start_ns = start_ns,
			.end_ns = end_ns,
			.woken_ns = woken_ns,
			.state = state,
			.leaf = leaf,
			.waker_id = waker_id,
			.result = result,
			.tid = (__u32)bpf_get_current_pid_tgid(),
			.fn = fn,
		},
	};

	return emit(&e, sizeof(e), AI_REC_POLL, 0);
}

SEC("usdt")
int BPF_USDT(rec_task_done, __u64 task_id, __s32 result, __u64 end_ns)
{
	struct ai_rec_done e = { .task_id = task_id, .result = result, .end_ns = end_ns };

	return emit(&e, sizeof(e), AI_REC_DONE, 0);
}

SEC("usdt")
int BPF_USDT(rec_wait, __u64 task_id, __u32 kind, __u64 obj, __u64 holder_id, __u64 await_desc)
{
	struct ai_rec_wait e = {
		.task_id = task_id,
		.kind = kind,
		.obj = obj,
		.holder_id = holder_id,
		.await_desc = await_desc,
	};

	return emit(&e, sizeof(e), AI_REC_WAIT, 0);
}

static __always_inline int lock_event(__u16 type, __u64 task_id, __u32 kind, __u64 obj)
{
	struct ai_rec_lock e = { .task_id = task_id, .kind = kind, .obj = obj };

	return emit(&e, sizeof(e), type, 0);
}

SEC("usdt")
int BPF_USDT(rec_acquire, __u64 task_id, __u32 kind, __u64 obj)
{
	return lock_event(AI_REC_ACQUIRE, task_id, kind, obj);
}

SEC("usdt")
int BPF_USDT(rec_release, __u64 task_id, __u32 kind, __u64 obj)
{
	return lock_event(AI_REC_RELEASE, task_id, kind, obj);
}

SEC("usdt")
int BPF_USDT(rec_thread_start, __u32 tid, __u32 kind, __u64 rec_addr)
{
	struct ai_rec_thread e = { .thread_tid = tid, .kind = kind, .rec_addr = rec_addr };

	/* Threads start rarely and the loader wants their records early. */
	return emit(&e, sizeof(e), AI_REC_THREAD, 1);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
