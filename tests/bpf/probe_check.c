/* SPDX-License-Identifier: MIT */
/*
 * The probe test: attaches a BPF program (probes.bpf.c) to every libasync probe of
 * probe_workload (statically linked with libasync.a), runs it, and checks the exact
 * number of hits and every argument against what the workload is known to do (see
 * probe_workload.c). While the workload's last poll is in progress it also reads the
 * registry, thread records, task records, descriptors and semaphores out of the
 * process' memory the way a tracer does: symbol addresses from the ELF symbol table
 * plus the load bias from /proc/PID/maps, bytes through process_vm_readv.
 *
 *   probe_check [WORKLOAD]     (default: probe_workload next to probe_check)
 *
 * Exit 0 when every check passes, 1 on a failed check, 77 (with the reason on the last
 * line) when BPF cannot run here: not root, or no kernel BTF.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <async/abi.h>

#include "probe_event.h"
#include "probes.skel.h"

/* What probe_workload does (keep in sync with it). */
#define SLEEPERS   10
#define CONTENDERS 3
#define SLEEP_MS   5
#define HOLD_MS	   50
#define JOINED_MS  20
#define NTASKS	   (1 + SLEEPERS + CONTENDERS + 1 + 1)
#define NPOLLS	   (3 + 3 * SLEEPERS + 2 * CONTENDERS + 2 + 2)
#define WORKERS	   2

#define MAX_EVENTS  4096
#define MAX_DESCS   256
#define MAX_THREADS 64
#define TIMEOUT_S   30

static const char *const probe_names[PE_NTYPES] = {
	[PE_TASK_SPAWN] = "task_spawn",	    [PE_POLL] = "poll",
	[PE_TASK_DONE] = "task_done",	    [PE_WAIT] = "wait",
	[PE_ACQUIRE] = "acquire",	    [PE_RELEASE] = "release",
	[PE_THREAD_START] = "thread_start",
};

static int failures;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "ok: " : "FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

/* ---- the workload's ELF file ---------------------------------------------------------- */

struct elf_info {
	uint64_t desc_start, desc_end; /* link-time range of the async_desc section */
	uint64_t load0_vaddr;	       /* vaddr of the PT_LOAD at file offset 0 */
	uint64_t registry, mutex;      /* link-time symbol addresses */
	uint64_t sema[PE_NTYPES];
};

static void read_elf(const char *path, struct elf_info *info)
{
	char sema_name[64];
	size_t shstrndx, nph;
	Elf_Scn *scn = NULL;
	bool have_load = false;
	int fd;
	Elf *e;

	memset(info, 0, sizeof(*info));
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open '%s': %s", path, strerror(errno));
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_getshdrstrndx(e, &shstrndx) || elf_getphdrnum(e, &nph))
		die("read ELF '%s': %s", path, elf_errmsg(-1));
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_offset == 0) {
			info->load0_vaddr = ph.p_vaddr;
			have_load = true;
		}
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ASYNC_DESC_SECTION)) {
			info->desc_start = sh.sh_addr;
			info->desc_end = sh.sh_addr + sh.sh_size;
		}
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;

		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym sym;
			const char *sname;

			if (!gelf_getsym(data, (int)i, &sym))
				continue;
			sname = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!sname)
				continue;
			if (!strcmp(sname, ASYNC_REGISTRY_SYMBOL))
				info->registry = sym.st_value;
			else if (!strcmp(sname, "probe_mutex"))
				info->mutex = sym.st_value;
			for (int t = 1; t < PE_NTYPES; t++) {
				snprintf(sema_name, sizeof(sema_name), "libasync_%s_semaphore",
					 probe_names[t]);
				if (!strcmp(sname, sema_name))
					info->sema[t] = sym.st_value;
			}
		}
	}
	elf_end(e);
	close(fd);
	if (!have_load)
		die("'%s' has no PT_LOAD segment at offset 0", path);
	check(info->desc_end > info->desc_start, "%s section present (%llu bytes)",
	      ASYNC_DESC_SECTION, (unsigned long long)(info->desc_end - info->desc_start));
	check(info->registry != 0, "symbol %s in the symbol table", ASYNC_REGISTRY_SYMBOL);
	check(info->mutex != 0, "symbol probe_mutex in the symbol table");
	for (int t = 1; t < PE_NTYPES; t++)
		check(info->sema[t] != 0, "semaphore libasync_%s_semaphore in the symbol table",
		      probe_names[t]);
	if (failures)
		exit(1);
}

/* Runtime address = link-time address + bias, from the mapping of file offset 0. */
static uint64_t load_bias(pid_t pid, const char *path, const struct elf_info *info)
{
	char maps[64], line[PATH_MAX + 128], real[PATH_MAX];
	uint64_t bias = 0;
	bool found = false;
	FILE *f;

	if (!realpath(path, real))
		die("resolve '%s': %s", path, strerror(errno));
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		die("open '%s': %s", maps, strerror(errno));
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char file[PATH_MAX] = "";

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095s", &start, &end, &off, file) < 3)
			continue;
		if (off == 0 && !strcmp(file, real)) {
			bias = start - info->load0_vaddr;
			found = true;
		}
	}
	fclose(f);
	if (!found)
		die("find '%s' in %s", real, maps);
	return bias;
}

/* ---- reading the workload's memory ----------------------------------------------------- */

static pid_t child_pid;

static bool peek(uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(child_pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool peek_str(uint64_t addr, char *buf, size_t len)
{
	size_t i;

	/* Byte by byte up to the NUL: a string may end right before an unmapped page. */
	for (i = 0; i + 1 < len; i++) {
		if (!peek(addr + i, &buf[i], 1))
			return false;
		if (!buf[i])
			return true;
	}
	buf[i] = 0;
	return true;
}

struct desc_info {
	uint64_t addr;
	struct async_desc_abi d;
	char function[64], callee[64], file[128];
};

static struct desc_info descs[MAX_DESCS];
static int ndescs;
static struct elf_info elf;
static uint64_t bias;

static bool in_desc_section(uint64_t addr)
{
	return addr >= elf.desc_start + bias &&
	       addr + sizeof(struct async_desc_abi) <= elf.desc_end + bias;
}

/* Reads (once) and caches the descriptor at runtime address `addr`. */
static const struct desc_info *learn_desc(uint64_t addr)
{
	struct desc_info *di;

	if (!addr || !in_desc_section(addr))
		return NULL;
	for (int i = 0; i < ndescs; i++)
		if (descs[i].addr == addr)
			return &descs[i];
	if (ndescs == MAX_DESCS)
		die("more than %d distinct descriptors", MAX_DESCS);
	di = &descs[ndescs];
	memset(di, 0, sizeof(*di));
	di->addr = addr;
	if (!peek(addr, &di->d, sizeof(di->d)) || di->d.magic != ASYNC_DESC_MAGIC)
		return NULL;
	if (di->d.function && !peek_str(di->d.function, di->function, sizeof(di->function)))
		return NULL;
	if (di->d.callee && !peek_str(di->d.callee, di->callee, sizeof(di->callee)))
		return NULL;
	if (di->d.file && !peek_str(di->d.file, di->file, sizeof(di->file)))
		return NULL;
	ndescs++;
	return di;
}

static const struct desc_info *find_desc(uint64_t addr)
{
	for (int i = 0; i < ndescs; i++)
		if (descs[i].addr == addr)
			return &descs[i];
	return NULL;
}

/* ---- events ------------------------------------------------------------------------------ */

static struct probe_event events[MAX_EVENTS];
static int nevents;

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len < sizeof(struct probe_event) || nevents == MAX_EVENTS)
		return -E2BIG;
	memcpy(&events[nevents++], data, sizeof(struct probe_event));
	return 0;
}

static int cmp_ktime(const void *a, const void *b)
{
	const struct probe_event *x = a, *y = b;

	return x->ktime_ns < y->ktime_ns ? -1 : x->ktime_ns > y->ktime_ns;
}

/* Everything checked about one spawned task. */
struct task {
	uint64_t id, parent, fn_arg, name_addr, addr;
	char name[32];
	const struct probe_event *polls[8];
	int npolls;
	const struct probe_event *done;
	int ndone;
};

static struct task tasks[NTASKS + 16];
static int ntasks;

static struct task *task_by_id(uint64_t id)
{
	for (int i = 0; i < ntasks; i++)
		if (tasks[i].id == id)
			return &tasks[i];
	return NULL;
}

/* What the pause (the workload's last poll in progress) showed. */
struct snapshot {
	bool taken;
	uint32_t worker_tids[MAX_THREADS];
	int nworkers;
	uint64_t busy_worker_tid;
};

static struct snapshot snap;

/* Names of tasks (string literals) and descriptors, read while the process lives. */
static void learn_from_events(void)
{
	for (int i = 0; i < nevents; i++) {
		const struct probe_event *e = &events[i];

		switch (e->type) {
		case PE_POLL:
			learn_desc(e->args[4]);
			learn_desc(e->args[5]);
			learn_desc(e->args[8]);
			break;
		case PE_WAIT:
			learn_desc(e->args[4]);
			break;
		case PE_TASK_SPAWN:
			learn_desc(e->args[2]);
			break;
		}
	}
}

static struct task *main_task(void)
{
	for (int i = 0; i < ntasks; i++)
		if (!strcmp(tasks[i].name, "main"))
			return &tasks[i];
	return NULL;
}

static void collect_spawns(void)
{
	ntasks = 0;
	for (int i = 0; i < nevents; i++) {
		const struct probe_event *e = &events[i];
		struct task *t;

		if (e->type != PE_TASK_SPAWN || ntasks == (int)(sizeof(tasks) / sizeof(tasks[0])))
			continue;
		t = &tasks[ntasks++];
		memset(t, 0, sizeof(*t));
		t->id = e->args[0];
		t->parent = e->args[1];
		t->fn_arg = e->args[2];
		t->name_addr = e->args[3];
		t->addr = e->args[4];
		if (!peek_str(t->name_addr, t->name, sizeof(t->name)))
			snprintf(t->name, sizeof(t->name), "<unreadable %#llx>",
				 (unsigned long long)t->name_addr);
	}
}

/* ---- the pause: read registry, threads and tasks out of the process ------------------- */

static void check_snapshot(void)
{
	struct async_registry_abi reg;
	struct async_task_abi tr;
	struct async_frame_abi frame;
	struct async_mutex_abi mx;
	uint64_t addr, main_fn = 0;
	struct task *m;
	int nrec = 0, busy = 0, idle = 0, ntask_recs = 0;
	bool main_listed = false;

	learn_from_events();
	collect_spawns();
	m = main_task();
	if (!m)
		die("no task_spawn hit for the task named main before the pause");
	for (int i = 0; i < nevents; i++)
		if (events[i].type == PE_POLL && events[i].args[0] == m->id)
			main_fn = events[i].args[8];

	for (int t = 1; t < PE_NTYPES; t++) {
		unsigned short v = 0;
		bool read = peek(elf.sema[t] + bias, &v, sizeof(v));

		check(read && v >= 1, "semaphore of %s is %u while attached (>= 1)", probe_names[t],
		      v);
	}

	/*
	 * joined woke main before it left the registry (completion wakes the joiner first),
	 * so give the other worker a moment to finish unlinking it: at most 2 s.
	 */
	for (int tries = 0;; tries++) {
		if (!peek(elf.registry + bias, &reg, sizeof(reg)))
			die("read the registry at %#llx",
			    (unsigned long long)(elf.registry + bias));
		if (reg.live_tasks <= 1 || tries == 200)
			break;
		usleep(10000);
	}
	check(reg.magic == ASYNC_REGISTRY_MAGIC && reg.version == ASYNC_ABI_VERSION &&
		  reg.size == sizeof(reg),
	      "registry header: magic %#llx version %u size %u", (unsigned long long)reg.magic,
	      reg.version, reg.size);
	check(reg.spawned_tasks == NTASKS, "registry: %d tasks spawned (got %llu)", NTASKS,
	      (unsigned long long)reg.spawned_tasks);
	check(reg.live_tasks == 1, "registry: 1 live task at the pause (got %llu)",
	      (unsigned long long)reg.live_tasks);

	/* Thread records: one per runtime thread; the worker polling main shows it. */
	for (addr = reg.threads; addr && nrec < MAX_THREADS; nrec++) {
		struct async_thread_abi th;

		if (!peek(addr, &th, sizeof(th)) || th.magic != ASYNC_THREAD_MAGIC) {
			check(false, "thread record at %#llx readable with magic THRD",
			      (unsigned long long)addr);
			break;
		}
		if (th.kind == ASYNC_THREAD_WORKER) {
			snap.worker_tids[snap.nworkers++] = th.tid;
			if (th.task_id) {
				busy++;
				snap.busy_worker_tid = th.tid;
				check(th.task_id == m->id && th.task == m->addr && (th.seq & 1) &&
					  th.fn == main_fn && th.fn,
				      "busy worker %u (tid %u): task %llu (main %llu), task record "
				      "%#llx, seq %llu odd, fn %#llx",
				      th.index, th.tid, (unsigned long long)th.task_id,
				      (unsigned long long)m->id, (unsigned long long)th.task,
				      (unsigned long long)th.seq, (unsigned long long)th.fn);
				if (peek(th.root_frame, &frame, sizeof(frame)))
					check(frame.fn == main_fn,
					      "busy worker's root frame %#llx has main's fn",
					      (unsigned long long)th.root_frame);
				else
					check(false, "read root frame %#llx",
					      (unsigned long long)th.root_frame);
			} else {
				idle++;
				check(!(th.seq & 1) && !th.task && !th.root_frame && !th.fn,
				      "idle worker %u (tid %u): no task, seq %llu even", th.index,
				      th.tid, (unsigned long long)th.seq);
			}
		}
		/* Every record's thread_start hit names this record, tid and kind. */
		int starts = 0;

		for (int i = 0; i < nevents; i++)
			if (events[i].type == PE_THREAD_START && events[i].args[2] == addr)
				starts +=
				    events[i].args[0] == th.tid && events[i].args[1] == th.kind;
		check(starts == 1,
		      "thread record %#llx (tid %u, kind %u) announced by exactly one "
		      "thread_start hit",
		      (unsigned long long)addr, th.tid, th.kind);
		addr = th.next;
	}
	check(snap.nworkers == WORKERS && busy == 1 && idle == WORKERS - 1,
	      "%d worker records, 1 busy polling main, %d idle (got %d, %d busy, %d idle)", WORKERS,
	      WORKERS - 1, snap.nworkers, busy, idle);

	/* Task records: only main is alive, being polled. */
	for (addr = reg.tasks; addr && ntask_recs < 64; ntask_recs++) {
		if (!peek(addr, &tr, sizeof(tr)) || tr.magic != ASYNC_TASK_MAGIC) {
			check(false, "task record at %#llx readable with magic TASK",
			      (unsigned long long)addr);
			break;
		}
		if (tr.id == m->id) {
			main_listed = true;
			check(addr == m->addr && tr.state == ASYNC_TASK_RUNNING &&
				  tr.parent_id == 0 && tr.name == m->name_addr &&
				  tr.fn == main_fn && tr.polls == 3,
			      "main's task record: address = spawn's, RUNNING, parent 0, name, fn, "
			      "3rd poll (state %u polls %llu)",
			      tr.state, (unsigned long long)tr.polls);
			check(tr.wait_kind == ASYNC_WAIT_NONE && !tr.wait_obj,
			      "main's task record: waits on nothing once joined");
		}
		addr = tr.reg_next;
	}
	check(main_listed && ntask_recs == 1, "registry task list = [main] (%d records)",
	      ntask_recs);

	/* The mutex, named by its OBJECT descriptor. */
	if (peek(elf.mutex + bias, &mx, sizeof(mx))) {
		const struct desc_info *d = learn_desc(mx.desc);

		check(mx.magic == ASYNC_MUTEX_MAGIC && mx.holder_id == 0 && mx.waiters == 0,
		      "probe_mutex: magic MUTX, free, no waiters");
		check(d && d->d.kind == ASYNC_DESC_OBJECT && !strcmp(d->callee, "&probe_mutex"),
		      "probe_mutex's descriptor: OBJECT '%s'", d ? d->callee : "?");
	} else {
		check(false, "read probe_mutex");
	}
	snap.taken = true;
}

/* ---- after exit: every hit -------------------------------------------------------------- */

static int count(uint32_t type)
{
	int n = 0;

	for (int i = 0; i < nevents; i++)
		n += events[i].type == type;
	return n;
}

static bool is_worker_tid(uint32_t tid)
{
	for (int i = 0; i < snap.nworkers; i++)
		if (snap.worker_tids[i] == tid)
			return true;
	return false;
}

static const char *callee_of(uint64_t desc)
{
	const struct desc_info *d = find_desc(desc);

	return d ? d->callee : "?";
}

static void check_polls(struct task *t, int want, const char *fn_name)
{
	char poll_name[64];
	const struct desc_info *fn;
	bool ok = true;

	snprintf(poll_name, sizeof(poll_name), "%s_poll", fn_name);
	check(t->npolls == want, "task %llu (%s): %d polls (got %d)", (unsigned long long)t->id,
	      t->name, want, t->npolls);
	for (int k = 0; k < t->npolls; k++) {
		const struct probe_event *p = t->polls[k];
		bool last = k == t->npolls - 1;
		const struct desc_info *st = find_desc(p->args[4]);

		if (p->args[2] < p->args[1] || (k && p->args[1] < t->polls[k - 1]->args[2])) {
			check(false,
			      "task %llu poll %d: start %llu <= end %llu, after previous end",
			      (unsigned long long)t->id, k, (unsigned long long)p->args[1],
			      (unsigned long long)p->args[2]);
			ok = false;
		}
		if (p->args[7] != (last ? ASYNC_RESULT_READY : ASYNC_RESULT_PENDING)) {
			check(false, "task %llu poll %d: result %llu", (unsigned long long)t->id, k,
			      (unsigned long long)p->args[7]);
			ok = false;
		}
		if (last ? p->args[4] || p->args[5]
			 : !st || st->d.kind != ASYNC_DESC_AWAIT || p->args[5] != p->args[4] ||
			       strcmp(st->function, poll_name)) {
			check(false,
			      "task %llu poll %d: state/leaf %#llx/%#llx (AWAIT in %s, or 0 "
			      "when ready)",
			      (unsigned long long)t->id, k, (unsigned long long)p->args[4],
			      (unsigned long long)p->args[5], poll_name);
			ok = false;
		}
		if (k && (p->args[3] < t->polls[k - 1]->args[2] || p->args[3] > p->args[1])) {
			check(false,
			      "task %llu poll %d: woken_ns %llu between previous end and start",
			      (unsigned long long)t->id, k, (unsigned long long)p->args[3]);
			ok = false;
		}
		if (p->args[8] != t->polls[0]->args[8] || !is_worker_tid(p->tid)) {
			check(false, "task %llu poll %d: same fn every poll, on a worker thread",
			      (unsigned long long)t->id, k);
			ok = false;
		}
	}
	fn = t->npolls ? find_desc(t->polls[0]->args[8]) : NULL;
	check(fn && fn->d.kind == ASYNC_DESC_FUNCTION && !strcmp(fn->function, poll_name),
	      "task %llu (%s): fn descriptor is FUNCTION %s", (unsigned long long)t->id, t->name,
	      fn ? fn->function : "?");
	check(!t->fn_arg || t->fn_arg == (t->npolls ? t->polls[0]->args[8] : 0),
	      "task %llu: spawn's fn is 0 or the function's descriptor", (unsigned long long)t->id);
	check(ok, "task %llu (%s): ordered polls, results, states, wake times, threads",
	      (unsigned long long)t->id, t->name);
	check(t->ndone == 1 && t->done->args[1] == 0 && t->npolls &&
		  t->done->args[2] >= t->polls[t->npolls - 1]->args[2],
	      "task %llu: one task_done, result 0, after its last poll", (unsigned long long)t->id);
}

static void check_all(void)
{
	struct task *m, *joined = NULL, *receiver = NULL;
	int nsleepers = 0, ncontenders = 0, nworker_starts = 0;
	uint64_t mutex = elf.mutex + bias;

	/* tasks[] (with names) came from the pause: every spawn happens before it. */
	qsort(events, nevents, sizeof(events[0]), cmp_ktime);
	check(count(PE_TASK_SPAWN) == NTASKS, "%d task_spawn hits (got %d)", NTASKS,
	      count(PE_TASK_SPAWN));
	check(count(PE_TASK_DONE) == NTASKS, "%d task_done hits (got %d)", NTASKS,
	      count(PE_TASK_DONE));
	check(count(PE_POLL) == NPOLLS, "%d poll hits (got %d)", NPOLLS, count(PE_POLL));
	check(count(PE_WAIT) == CONTENDERS + 2, "%d wait hits (got %d)", CONTENDERS + 2,
	      count(PE_WAIT));
	check(count(PE_ACQUIRE) == CONTENDERS + 3, "%d acquire hits (got %d)", CONTENDERS + 3,
	      count(PE_ACQUIRE));
	check(count(PE_RELEASE) == CONTENDERS + 1, "%d release hits (got %d)", CONTENDERS + 1,
	      count(PE_RELEASE));

	for (int i = 0; i < nevents; i++) {
		const struct probe_event *e = &events[i];
		struct task *t = task_by_id(e->args[0]);

		if (e->type == PE_THREAD_START)
			nworker_starts += e->args[1] == ASYNC_THREAD_WORKER;
		if (e->type != PE_POLL && e->type != PE_TASK_DONE)
			continue;
		if (!t) {
			check(false, "%s hit for unknown task %llu", probe_names[e->type],
			      (unsigned long long)e->args[0]);
			continue;
		}
		if (e->type == PE_POLL && t->npolls < 8)
			t->polls[t->npolls++] = e;
		if (e->type == PE_TASK_DONE && !t->ndone++)
			t->done = e;
	}
	check(nworker_starts == WORKERS, "%d thread_start hits of kind WORKER (got %d)", WORKERS,
	      nworker_starts);

	m = main_task();
	if (!m)
		die("no main task");
	check(m->parent == 0, "main: parent 0 (spawned outside any task)");
	check_polls(m, 3, "main_task");
	for (int i = 0; i < ntasks; i++) {
		struct task *t = &tasks[i];

		if (t == m)
			continue;
		check(t->parent == m->id && t->id > m->id,
		      "task %llu (%s): parent is main (%llu), id after main's",
		      (unsigned long long)t->id, t->name, (unsigned long long)t->parent);
		if (!strcmp(t->name, "sleeper")) {
			nsleepers++;
			check_polls(t, 3, "sleeper");
			if (t->npolls == 3) {
				check(t->polls[1]->args[1] >=
					      t->polls[0]->args[1] + (SLEEP_MS - 1) * 1000000ull &&
					  t->polls[2]->args[1] >=
					      t->polls[1]->args[1] + (SLEEP_MS - 1) * 1000000ull,
				      "sleeper %llu: polls >= %d ms apart",
				      (unsigned long long)t->id, SLEEP_MS - 1);
				check(t->polls[0]->args[4] != t->polls[1]->args[4] &&
					  !strcmp(callee_of(t->polls[0]->args[4]), "async_sleep") &&
					  !strcmp(callee_of(t->polls[1]->args[4]), "async_sleep"),
				      "sleeper %llu: two distinct async_sleep await points",
				      (unsigned long long)t->id);
				check(t->polls[1]->args[6] == 0 && t->polls[2]->args[6] == 0,
				      "sleeper %llu: woken by timers (waker 0)",
				      (unsigned long long)t->id);
			}
		} else if (!strcmp(t->name, "contender")) {
			ncontenders++;
			check_polls(t, 2, "contender");
			if (t->npolls >= 1)
				check(!strcmp(callee_of(t->polls[0]->args[4]), "async_lock"),
				      "contender %llu: pending at async_lock",
				      (unsigned long long)t->id);
		} else if (!strcmp(t->name, "receiver")) {
			receiver = t;
			check_polls(t, 2, "receiver");
		} else if (!strcmp(t->name, "joined")) {
			joined = t;
			check_polls(t, 2, "joined");
		} else {
			check(false, "unexpected task name '%s'", t->name);
		}
	}
	check(nsleepers == SLEEPERS && ncontenders == CONTENDERS && joined && receiver,
	      "%d sleepers, %d contenders, 1 receiver, 1 joined (got %d, %d, %d, %d)", SLEEPERS,
	      CONTENDERS, nsleepers, ncontenders, receiver != NULL, joined != NULL);
	if (failures || !joined || !receiver)
		return;

	/* The channel: receiver waits on it empty, main's send wakes it, it receives. */
	uint64_t chan_wait = 0, chan_acq = 0;
	int ncw = 0, nca = 0;

	for (int i = 0; i < nevents; i++) {
		const struct probe_event *e = &events[i];

		if ((e->type != PE_WAIT && e->type != PE_ACQUIRE) ||
		    e->args[1] != ASYNC_WAIT_CHAN_RECV)
			continue;
		if (e->type == PE_WAIT) {
			ncw++;
			chan_wait = e->args[2];
			check(e->args[0] == receiver->id && e->args[2] && e->args[3] == 0 &&
				  e->args[4] == receiver->polls[0]->args[4],
			      "wait(CHAN_RECV) by receiver: a channel, no holder, at its await");
		} else {
			nca++;
			chan_acq = e->args[2];
			check(e->args[0] == receiver->id, "acquire(CHAN_RECV) by receiver");
		}
	}
	check(ncw == 1 && nca == 1 && chan_wait == chan_acq,
	      "one wait(CHAN_RECV) and one acquire(CHAN_RECV) of the same channel (%d, %d)", ncw,
	      nca);
	check(!strcmp(callee_of(receiver->polls[0]->args[4]), "async_recv") &&
		  receiver->polls[1]->args[6] == m->id,
	      "receiver: pending at async_recv, woken by main's send (waker %llu)",
	      (unsigned long long)receiver->polls[1]->args[6]);

	/* main: pending at the hold sleep, then at the join; woken by the timer, then joined. */
	check(!strcmp(callee_of(m->polls[0]->args[4]), "async_sleep") &&
		  !strcmp(callee_of(m->polls[1]->args[4]), "async_join"),
	      "main: pending at async_sleep, then at async_join");
	check(m->polls[1]->args[1] >= m->polls[0]->args[1] + (HOLD_MS - 1) * 1000000ull,
	      "main: held the mutex >= %d ms", HOLD_MS - 1);
	check(m->polls[1]->args[6] == 0 && m->polls[2]->args[6] == joined->id,
	      "main: woken by the timer (waker 0), then by joined (waker %llu, got %llu)",
	      (unsigned long long)joined->id, (unsigned long long)m->polls[2]->args[6]);
	check(m->polls[2]->tid == snap.busy_worker_tid,
	      "main's last poll ran on the worker the thread records showed busy (tid %u)",
	      (unsigned)snap.busy_worker_tid);

	/* The lock: main, then each contender in the order they queued (FIFO). */
	uint64_t order[CONTENDERS + 1] = { m->id };
	int nw = 0, na = 0, nr = 0, nja = 0, njw = 0;
	bool alternate = true;

	for (int i = 0; i < nevents; i++) {
		const struct probe_event *e = &events[i];

		if (e->type == PE_WAIT && e->args[1] == ASYNC_WAIT_MUTEX) {
			struct task *t = task_by_id(e->args[0]);

			check(t && !strcmp(t->name, "contender") && e->args[2] == mutex &&
				  e->args[3] == m->id && t->npolls &&
				  e->args[4] == t->polls[0]->args[4],
			      "wait(MUTEX) by contender %llu: obj probe_mutex, holder main, at its "
			      "await",
			      (unsigned long long)e->args[0]);
			if (nw < CONTENDERS)
				order[1 + nw] = e->args[0];
			nw++;
		} else if (e->type == PE_WAIT && e->args[1] == ASYNC_WAIT_JOIN) {
			njw++;
			check(e->args[0] == m->id && e->args[1] == ASYNC_WAIT_JOIN &&
				  e->args[2] == joined->addr && e->args[3] == joined->id &&
				  e->args[4] == m->polls[1]->args[4],
			      "wait(JOIN) by main: obj joined's task record, holder joined, at "
			      "its await");
		} else if (e->type == PE_ACQUIRE && e->args[1] == ASYNC_WAIT_JOIN) {
			nja++;
			check(e->args[0] == m->id && e->args[2] == joined->addr,
			      "acquire(JOIN) by main of joined's task record");
		} else if ((e->type == PE_ACQUIRE || e->type == PE_RELEASE) &&
			   e->args[1] != ASYNC_WAIT_CHAN_RECV) {
			bool acq = e->type == PE_ACQUIRE;
			int k = acq ? na++ : nr++;

			if (e->args[1] != ASYNC_WAIT_MUTEX || e->args[2] != mutex ||
			    (acq ? na != nr + 1 : na != nr) || k > CONTENDERS ||
			    e->args[0] != order[k])
				alternate = false;
		}
	}
	check(nw == CONTENDERS && njw == 1 && nja == 1,
	      "%d wait(MUTEX), 1 wait(JOIN), 1 acquire(JOIN) (got %d, %d, %d)", CONTENDERS, nw, njw,
	      nja);
	check(alternate && na == CONTENDERS + 1 && nr == CONTENDERS + 1,
	      "probe_mutex acquired and released alternately by main then each contender in "
	      "queue order");
	for (int k = 1; k <= CONTENDERS && k <= nw; k++) {
		struct task *t = task_by_id(order[k]);

		check(t && t->npolls == 2 && t->polls[1]->args[6] == order[k - 1],
		      "contender %llu woken by the previous holder %llu (got %llu)",
		      (unsigned long long)order[k], (unsigned long long)order[k - 1],
		      t && t->npolls == 2 ? (unsigned long long)t->polls[1]->args[6] : 0ull);
	}
}

/* ---- running it ------------------------------------------------------------------------- */

static void skip(const char *why)
{
	printf("skip: %s\n", why);
	exit(77);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t prog_off;
	} progs[] = {
		{ "task_spawn", offsetof(struct probes_bpf, progs.on_task_spawn) },
		{ "poll", offsetof(struct probes_bpf, progs.on_poll) },
		{ "task_done", offsetof(struct probes_bpf, progs.on_task_done) },
		{ "wait", offsetof(struct probes_bpf, progs.on_wait) },
		{ "acquire", offsetof(struct probes_bpf, progs.on_acquire) },
		{ "release", offsetof(struct probes_bpf, progs.on_release) },
		{ "thread_start", offsetof(struct probes_bpf, progs.on_thread_start) },
	};
	char workload[PATH_MAX], fdbuf[2][16];
	int start_pipe[2], notify_pipe[2], go_pipe[2], status = 0, err;
	struct bpf_link *links[sizeof(progs) / sizeof(progs[0])] = { 0 };
	struct ring_buffer *rb = NULL;
	struct probes_bpf *skel;
	bool exited = false;
	time_t deadline;

	if (geteuid() != 0)
		skip("not root: attaching BPF programs needs root");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		skip("kernel has no BTF (/sys/kernel/btf/vmlinux)");
	if (argc > 1) {
		snprintf(workload, sizeof(workload), "%s", argv[1]);
	} else {
		char *slash;

		snprintf(workload, sizeof(workload), "%s", argv[0]);
		slash = strrchr(workload, '/');
		snprintf(slash ? slash + 1 : workload,
			 sizeof(workload) - (slash ? (size_t)(slash + 1 - workload) : 0),
			 "probe_workload");
	}
	read_elf(workload, &elf);
	libbpf_set_print(libbpf_quiet);

	if (pipe2(start_pipe, O_CLOEXEC) || pipe(notify_pipe) || pipe(go_pipe))
		die("create pipes: %s", strerror(errno));
	child_pid = fork();
	if (child_pid < 0)
		die("fork: %s", strerror(errno));
	if (child_pid == 0) {
		char c;

		close(start_pipe[1]);
		close(notify_pipe[0]);
		close(go_pipe[1]);
		if (read(start_pipe[0], &c, 1) != 1)
			_exit(126);
		snprintf(fdbuf[0], sizeof(fdbuf[0]), "%d", notify_pipe[1]);
		snprintf(fdbuf[1], sizeof(fdbuf[1]), "%d", go_pipe[0]);
		execl(workload, workload, fdbuf[0], fdbuf[1], (char *)NULL);
		_exit(127);
	}
	close(start_pipe[0]);
	close(notify_pipe[1]);
	close(go_pipe[0]);

	skel = probes_bpf__open_and_load();
	if (!skel) {
		kill(child_pid, SIGKILL);
		die("open and load the BPF program: %s", strerror(errno));
	}
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_program *prog =
		    *(struct bpf_program **)((char *)skel + progs[i].prog_off);
		struct bpf_link *link;

		link = bpf_program__attach_usdt(prog, child_pid, workload, ASYNC_PROBE_PROVIDER,
						progs[i].name, NULL);
		if (!link) {
			err = -errno;
			kill(child_pid, SIGKILL);
			die("attach to usdt %s:%s:%s: %s", workload, ASYNC_PROBE_PROVIDER,
			    progs[i].name, strerror(-err));
		}
		links[i] = link;
	}
	check(true, "attached to all %zu libasync probes of %s", sizeof(progs) / sizeof(progs[0]),
	      workload);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		kill(child_pid, SIGKILL);
		die("create ring buffer: %s", strerror(errno));
	}
	if (write(start_pipe[1], "g", 1) != 1)
		die("start the workload: %s", strerror(errno));
	close(start_pipe[1]);

	deadline = time(NULL) + TIMEOUT_S;
	while (!exited) {
		struct pollfd pfd = { .fd = notify_pipe[0], .events = POLLIN };
		char c;

		ring_buffer__poll(rb, 10);
		if (!snap.taken && poll(&pfd, 1, 0) == 1 && read(notify_pipe[0], &c, 1) == 1) {
			ring_buffer__consume(rb);
			bias = load_bias(child_pid, workload, &elf);
			check_snapshot();
			if (write(go_pipe[1], "g", 1) != 1)
				die("resume the workload: %s", strerror(errno));
		}
		if (waitpid(child_pid, &status, WNOHANG) == child_pid)
			exited = true;
		if (time(NULL) > deadline) {
			kill(child_pid, SIGKILL);
			waitpid(child_pid, &status, 0);
			die("workload did not finish within %d s", TIMEOUT_S);
		}
	}
	ring_buffer__consume(rb);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "workload exited 0 (status %#x)",
	      status);
	check(snap.taken, "workload paused in its last poll and was inspected");
	check(skel->bss->lost == 0, "no ring buffer records lost (%llu)",
	      (unsigned long long)skel->bss->lost);
	if (snap.taken)
		check_all();
	ring_buffer__free(rb);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		bpf_link__destroy(links[i]);
	probes_bpf__destroy(skel);
	printf("%d events, %d descriptors read, %s\n", nevents, ndescs,
	       failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
