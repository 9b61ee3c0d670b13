/* SPDX-License-Identifier: MIT */
/* Long polls and their on-CPU / blocked / preempted split (see pollwatch.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "offcpu.skel.h"
#include "pollwatch.h"
#include "proc.h"

/* One watched worker thread and the poll it was last seen in. */
struct watched {
	uint32_t tid;
	uint64_t addr; /* its struct async_thread_abi */
	uint64_t seq;  /* odd: in the poll below */
	uint64_t first_seen_ns, last_seen_ns;
	uint64_t task_id, task_fn, fn, at, poll_start_ns;
	uint32_t after_line;
	bool located; /* fn/at read for this poll */
};

struct ai_pollwatch {
	pid_t pid;
	uint64_t min_ns;
	struct offcpu_bpf *skel;
	struct watched *threads;
	size_t nthreads;
	struct ai_long_poll *polls;
	size_t npolls, cap;
};

int ai_pollwatch_open(pid_t pid, uint64_t min_ns, struct ai_pollwatch **out)
{
	struct ai_pollwatch *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->pid = pid;
	w->min_ns = min_ns;
	w->skel = offcpu_bpf__open();
	if (!w->skel) {
		err = -errno;
		goto fail;
	}
	w->skel->rodata->target_tgid = (__u32)pid;
	w->skel->rodata->count_cost = ai_verbose;
	err = offcpu_bpf__load(w->skel);
	if (!err)
		err = offcpu_bpf__attach(w->skel);
	if (err)
		goto fail;
	*out = w;
	return 0;
fail:
	ai_pollwatch_free(w);
	return err ? err : -EINVAL;
}

int ai_pollwatch_threads(struct ai_pollwatch *w, const struct ai_snapshot *s)
{
	int fd = bpf_map__fd(w->skel->maps.threads);
	struct watched *v = calloc(s->nthreads ? s->nthreads : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct ai_snap_thread *t = &s->threads[i];
		__u32 tid = t->abi.tid;
		__u64 addr = t->addr;

		if (t->abi.kind != ASYNC_THREAD_WORKER || n == SCHED_MAX_THREADS)
			continue;
		v[n] = (struct watched){ .tid = tid, .addr = addr };
		/* keep what the previous look knew of this thread's poll */
		for (size_t k = 0; k < w->nthreads; k++)
			if (w->threads[k].tid == tid && w->threads[k].addr == addr)
				v[n] = w->threads[k];
		bpf_map_update_elem(fd, &tid, &addr, BPF_ANY);
		n++;
	}
	free(w->threads);
	w->threads = v;
	w->nthreads = n;
	return 0;
}

/*
 * Where a poll in progress is: the innermost frame of the chain from `frame`, the await
 * it is at, or (between awaits) the line of the await it passed last.
 */
static void locate(pid_t pid, uint64_t frame, struct watched *t)
{
	struct async_frame_abi f;

	t->fn = t->at = 0;
	t->after_line = 0;
	for (int depth = 0; frame && depth < ASYNC_CHAIN_MAX; depth++) {
		if (ai_proc_read(pid, frame, &f, sizeof(f)))
			return;
		t->fn = f.fn;
		if (!f.at) {
			t->after_line = f.resume;
			return;
		}
		t->at = f.at;
		frame = f.child;
	}
}

/* A poll of `t` ended: keep it if it was long, with the scheduler's split. */
static void finish(struct ai_pollwatch *w, const struct watched *t)
{
	struct sched_poll_key key = { .tid = t->tid, .seq = t->seq };
	struct sched_poll sp = { 0 };
	struct ai_long_poll *p;
	uint64_t wall = t->last_seen_ns - t->first_seen_ns, off;
	int fd = bpf_map__fd(w->skel->maps.polls);
	bool have = !bpf_map_lookup_elem(fd, &key, &sp);

	if (have)
		bpf_map_delete_elem(fd, &key);
	if (t->poll_start_ns && t->last_seen_ns > t->poll_start_ns)
		wall = t->last_seen_ns - t->poll_start_ns; /* a tracer's exact start */
	off = sp.blocked_ns + sp.preempted_ns;
	if (off > wall)
		wall = off;
	if (wall < w->min_ns)
		return;
	p = ai_add_row((void **)&w->polls, &w->npolls, &w->cap, sizeof(*p));
	if (!p)
		return;
	*p = (struct ai_long_poll){
		.tid = t->tid,
		.seq = t->seq,
		.task_id = t->task_id,
		.task_fn = t->task_fn,
		.fn = t->fn,
		.at = t->at,
		.after_line = t->after_line,
		.wall_ns = wall,
		.on_cpu_ns = wall - off,
		.blocked_ns = sp.blocked_ns,
		.preempted_ns = sp.preempted_ns,
		.max_block_ns = sp.max_block_ns,
		.syscall = have && sp.max_block_ns ? sp.max_block_syscall : -1,
	};
	memcpy(p->kstack, sp.max_block_kstack, sizeof(p->kstack));
}

void ai_pollwatch_tick(struct ai_pollwatch *w)
{
	for (size_t i = 0; i < w->nthreads; i++) {
		struct watched *t = &w->threads[i];
		struct async_thread_abi rec;
		uint64_t now;

		if (ai_proc_read(w->pid, t->addr, &rec, sizeof(rec)) ||
		    rec.magic != ASYNC_THREAD_MAGIC)
			continue;
		now = ai_now_ns();
		if (rec.seq == t->seq) {
			t->last_seen_ns = now;
			if ((rec.seq & 1) && !t->located && rec.root_frame) {
				/* in the same poll since the last look: worth locating */
				t->task_id = rec.task_id;
				t->task_fn = rec.fn;
				t->poll_start_ns = rec.poll_start_ns;
				locate(w->pid, rec.root_frame, t);
				t->located = true;
			}
			continue;
		}
		if ((t->seq & 1) && t->located)
			finish(w, t);
		t->seq = rec.seq;
		t->first_seen_ns = t->last_seen_ns = now;
		t->located = false;
	}
}

const struct ai_long_poll *ai_pollwatch_polls(const struct ai_pollwatch *w, size_t *n)
{
	*n = w->npolls;
	return w->polls;
}

void ai_pollwatch_stats(const struct ai_pollwatch *w, uint64_t *runs, uint64_t *switches,
			uint64_t *bpf_ns)
{
	int fd = bpf_map__fd(w->skel->maps.counters), ncpu = libbpf_num_possible_cpus();
	__u64 *v;

	*runs = *switches = *bpf_ns = 0;
	if (ncpu <= 0)
		return;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	for (__u32 idx = 0; idx < SCHED_CNT_MAX; idx++) {
		if (bpf_map_lookup_elem(fd, &idx, v))
			continue;
		for (int c = 0; c < ncpu; c++) {
			if (idx == SCHED_CNT_SWITCHES)
				*switches += v[c];
			else if (idx == SCHED_CNT_RUNS)
				*runs += v[c];
			else if (idx == SCHED_CNT_RUN_NS)
				*bpf_ns += v[c];
		}
	}
	free(v);
}

void ai_pollwatch_free(struct ai_pollwatch *w)
{
	if (!w)
		return;
	offcpu_bpf__destroy(w->skel);
	free(w->threads);
	free(w->polls);
	free(w);
}

/* ---- naming where a thread slept ----------------------------------------------------- */

struct ksym {
	uint64_t addr;
	char *name;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* /proc/kallsyms, sorted (text symbols only); loaded once. */
static struct ksym *ksyms;
static size_t nksyms;

static void load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	size_t cap = 0;
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		struct ksym *k;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr ||
		    (type != 't' && type != 'T'))
			continue;
		k = ai_add_row((void **)&ksyms, &nksyms, &cap, sizeof(*k));
		if (!k)
			break;
		k->addr = addr;
		k->name = strdup(name);
		if (!k->name)
			nksyms--;
	}
	fclose(f);
	if (nksyms)
		qsort(ksyms, nksyms, sizeof(*ksyms), cmp_ksym);
}

static const char *ksym_of(uint64_t addr)
{
	size_t lo = 0, hi = nksyms;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (ksyms[m].addr <= addr)
			lo = m + 1;
		else
			hi = m;
	}
	return lo ? ksyms[lo - 1].name : NULL;
}

/* Scheduler and tracing frames say nothing about why the thread slept. */
static bool generic_frame(const char *name)
{
	static const char *const prefixes[] = {
		"schedule",    "__schedule",	 "__switch",	 "preempt_schedule",
		"io_schedule", "__traceiter",	 "bpf_",	 "__bpf",
		"trace_",      "__cond_resched", "do_syscall_64"
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

const char *ai_kernel_sleep_site(const uint64_t *kstack, size_t n)
{
	if (!ksyms)
		load_kallsyms();
	for (size_t i = 0; i < n && kstack[i]; i++) {
		const char *name = ksym_of(kstack[i]);

		if (name && !generic_frame(name))
			return name;
	}
	return NULL;
}

const char *ai_syscall_name(int nr)
{
#if defined(__x86_64__)
	switch (nr) {
	case 0:
		return "read";
	case 1:
		return "write";
	case 7:
		return "poll";
	case 17:
		return "pread64";
	case 18:
		return "pwrite64";
	case 19:
		return "readv";
	case 20:
		return "writev";
	case 23:
		return "select";
	case 34:
		return "pause";
	case 35:
		return "nanosleep";
	case 42:
		return "connect";
	case 43:
		return "accept";
	case 44:
		return "sendto";
	case 45:
		return "recvfrom";
	case 46:
		return "sendmsg";
	case 47:
		return "recvmsg";
	case 61:
		return "wait4";
	case 72:
		return "fcntl";
	case 74:
		return "fsync";
	case 75:
		return "fdatasync";
	case 202:
		return "futex";
	case 230:
		return "clock_nanosleep";
	case 232:
		return "epoll_wait";
	case 257:
		return "openat";
	case 270:
		return "pselect6";
	case 271:
		return "ppoll";
	case 281:
		return "epoll_pwait";
	case 288:
		return "accept4";
	case 441:
		return "epoll_pwait2";
	}
#else
	(void)nr;
#endif
	return NULL;
}
