// SPDX-License-Identifier: MIT
/*
 * async-inspect record: every libasync probe event of one process, through a BPF ring
 * buffer, into a self-contained recording file (docs/record-format.md) that `report`
 * reads offline.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "names.h"
#include "proc.h"
#include "recfile.h"
#include "bpf/record.h"
#include "rings.h"
#include "record.skel.h"
#include "snapshot.h"
#include "taskfmt.h"

static struct env {
	pid_t pid;
	char **cmd;
	const char *output;
	double duration;
	uint64_t buffer_bytes;
} env = { .buffer_bytes = 16 << 20 };

static const char doc[] =
    "Record every libasync probe event of a process to a file.\n"
    "\n"
    "Records one process (-p PID) or a command it starts (-- CMD ARGS; probes are attached "
    "before the command's first instruction and async-inspect exits with its status) into "
    "FILE: the process and descriptor tables (so the file reads without the binary), and "
    "every spawn, poll, wait, lock and completion event, zlib-compressed. Ends on Ctrl-C, "
    "after -d SECS, or when the process exits, always with a complete file. Events the "
    "ring buffer had no room for are counted per CPU, printed and stored in the file.\n"
    "\n"
    "EXAMPLES:\n"
    "  async-inspect record -o run.rec -- ./fetch_user --users 200\n"
    "  async-inspect record -p 1234 -d 10 -o run.rec   # 10 s of PID 1234\n"
    "  async-inspect record -b 64 -p 1234 -o run.rec   # a 64 MiB ring buffer\n"
    "  async-inspect report run.rec                    # then: summaries offline\n"
    "  async-inspect report run.rec --timeline run.json  # open in ui.perfetto.dev\n"
    "\v"
    "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF. The file format is "
    "docs/record-format.md.";

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Record this process", 0 },
	{ "output", 'o', "FILE", 0, "Write the recording to FILE (required)", 0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds", 0 },
	{ "buffer-mb", 'b', "MB", 0, "Ring buffer size in MiB, a power of two (default 16)", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output, including the verifier log", 0 },
	{},
};

/* An error ai_bad_value or ai_errorf printed already (see ai_tf_parse_args). */
static int reported(int err)
{
	(void)err;
	return AI_TF_ARG_REPORTED;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	uint64_t v;

	switch (key) {
	case 'p':
		if (ai_tf_parse_pid(arg, &env.pid))
			return AI_TF_ARG_REPORTED;
		break;
	case 'o':
		env.output = arg;
		break;
	case 'd':
		if (!ai_parse_secs(arg, &env.duration))
			return reported(
			    ai_bad_value("-d", arg, "a positive duration (2, 2s, 500ms, 1m)"));
		break;
	case 'b':
		if (!ai_parse_u64(arg, &v) || v == 0 || v > 1024 || (v & (v - 1)))
			return reported(
			    ai_bad_value("-b", arg, "a power of two from 1 to 1024 (MiB)"));
		env.buffer_bytes = v << 20;
		break;
	case 'v':
		ai_verbose = true;
		break;
	case ARGP_KEY_ARG:
		env.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if ((env.pid != 0) + (env.cmd != NULL) != 1) {
			ai_errorf("%s (see 'async-inspect record --help')",
				  env.pid ? "give only one of -p PID and -- CMD ARGS"
					  : "nothing to record: give -p PID or -- CMD ARGS");
			return AI_TF_ARG_REPORTED;
		}
		if (!env.output) {
			ai_errorf(
			    "no output file: give -o FILE (see 'async-inspect record --help')");
			return AI_TF_ARG_REPORTED;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- the processes seen: their tables go into the file while they live ------------- */

struct rec_proc {
	pid_t pid;
	struct ai_proc_descs *descs; /* NULL if the process could not be read */
	size_t objs_done;	     /* objects of descs already looked at */
	uint64_t *names;	     /* name addresses already stored */
	size_t nnames, cap_names;
	struct ai_map *maps; /* its mappings when first seen: names outlive the process */
	size_t nmaps;
};

struct rec_ctx {
	struct record_bpf *skel;
	struct ai_rf_writer *w;
	struct rec_proc *procs;
	size_t nprocs;
	int err; /* first error of the event callback */
	int ncpus;
	uint64_t *lost;
	uint64_t lost_total;
	uint64_t ring_lost; /* of lost_total: poll ring overruns */
};

/* Writes the descriptor tables of objects found since the last call. */
static int write_new_objects(struct rec_ctx *c, struct rec_proc *p)
{
	const struct ai_desc_table *t;
	const char *path;
	uint64_t bias;
	int err;

	while (!ai_proc_descs_object(p->descs, p->objs_done, &path, &bias, &t)) {
		p->objs_done++;
		if (!t)
			continue;
		err = ai_rf_write_object(c->w, (uint32_t)p->pid, bias, path, t->descs, t->n);
		if (err)
			return err;
	}
	return 0;
}

static struct rec_proc *proc_get(struct rec_ctx *c, pid_t pid)
{
	char comm[64] = "?", exe[PATH_MAX] = "", link[64];
	struct rec_proc *p;
	ssize_t r;

	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].pid == pid)
			return &c->procs[i];
	p = realloc(c->procs, (c->nprocs + 1) * sizeof(*p));
	if (!p) {
		c->err = -ENOMEM;
		return NULL;
	}
	c->procs = p;
	p = &c->procs[c->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	ai_proc_comm(pid, comm, sizeof(comm));
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	r = readlink(link, exe, sizeof(exe) - 1);
	exe[r > 0 ? r : 0] = '\0';
	c->err = ai_rf_write_proc(c->w, (uint32_t)pid, comm, exe);
	if (ai_proc_maps(pid, &p->maps, &p->nmaps)) {
		p->maps = NULL;
		p->nmaps = 0;
	}
	if (ai_proc_descs_load(pid, &p->descs))
		p->descs = NULL; /* gone already: its events stay, unnamed */
	else if (!c->err)
		c->err = write_new_objects(c, p);
	return c->err ? NULL : p;
}

/* Makes sure the object holding descriptor `addr` is in the file (rescans on a miss). */
static void need_desc(struct rec_ctx *c, struct rec_proc *p, uint64_t addr)
{
	if (!addr || !p->descs || ai_proc_descs_find(p->descs, addr))
		return;
	/* the miss rescanned the mappings (at most every 100 ms): store what is new */
	if (!c->err)
		c->err = write_new_objects(c, p);
}

/*
 * Spawn names are string literals: in a file-backed mapping. Read from the file, they
 * are there after the process exited (events are drained in batches, maybe later).
 */
static int name_from_file(const struct rec_proc *p, uint64_t addr, char *buf, size_t len)
{
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct ai_map *m = &p->maps[i];
		char path[PATH_MAX + 32];
		ssize_t r;
		int fd;

		if (!m->path || m->path[0] != '/' || addr < m->start || addr >= m->end)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)p->pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = pread(fd, buf, len - 1, (off_t)(addr - m->start + m->offset));
		close(fd);
		if (r <= 0)
			return -EFAULT;
		buf[r] = '\0';
		return memchr(buf, '\0', (size_t)r) ? 0 : -EFAULT;
	}
	return -ENOENT;
}

static void need_name(struct rec_ctx *c, struct rec_proc *p, uint64_t addr)
{
	char name[128];

	if (!addr)
		return;
	for (size_t i = 0; i < p->nnames; i++)
		if (p->names[i] == addr)
			return;
	if (p->nnames == p->cap_names) {
		size_t cap = p->cap_names ? p->cap_names * 2 : 16;
		uint64_t *n = realloc(p->names, cap * sizeof(*n));

		if (!n) {
			c->err = -ENOMEM;
			return;
		}
		p->names = n;
		p->cap_names = cap;
	}
	p->names[p->nnames++] = addr;
	if (!ai_proc_read_str(p->pid, addr, name, sizeof(name)) ||
	    !name_from_file(p, addr, name, sizeof(name)))
		c->err = ai_rf_add_name(c->w, (uint32_t)p->pid, addr, name);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct rec_ctx *c = ctx;
	const struct ai_rec_hdr *h = data;
	struct rec_proc *p;

	if (size < sizeof(*h) || h->size != size)
		return 0; /* cannot happen: the BPF side writes whole events */
	p = proc_get(c, (pid_t)h->pid);
	if (!p)
		return c->err;
	switch (h->type) {
	case AI_REC_SPAWN: {
		const struct ai_rec_spawn *e = data;

		need_desc(c, p, e->fn);
		need_name(c, p, e->name_addr);
		break;
	}
	case AI_REC_POLL: {
		const struct ai_rec_poll *e = data;

		need_desc(c, p, e->rec.fn);
		need_desc(c, p, e->rec.state);
		if (e->rec.leaf != e->rec.state)
			need_desc(c, p, e->rec.leaf);
		break;
	}
	case AI_REC_WAIT: {
		const struct ai_rec_wait *e = data;

		need_desc(c, p, e->await_desc);
		break;
	}
	default:
		break;
	}
	if (!c->err)
		c->err = ai_rf_add_event(c->w, data, size);
	return c->err;
}

/* Reads the per-CPU lost counters; writes a lost block when they changed. */
/*
 * At the end: the wait every pending task is in, from the runtime's task records, as
 * wait events flagged AI_REC_WAIT_F_CURRENT (see bpf/record.h). Processes that exited
 * or cannot be read are left as they are.
 */
static int write_current_waits(struct rec_ctx *c)
{
	for (size_t i = 0; i < c->nprocs && !c->err; i++) {
		pid_t pid = c->procs[i].pid;
		struct ai_snapshot *snap = NULL;
		uint64_t reg, now = ai_now_ns();

		if (!ai_proc_alive(pid) || ai_snapshot_locate(pid, &reg) ||
		    ai_snapshot_take(pid, reg, NULL, &snap))
			continue;
		for (size_t k = 0; k < snap->ntasks && !c->err; k++) {
			const struct ai_snap_task *t = &snap->tasks[k];
			struct ai_rec_wait e = {
				.h = { .type = AI_REC_WAIT,
				       .size = sizeof(e),
				       .pid = (__u32)pid,
				       .ts = now },
				.task_id = t->abi.id,
				.kind = t->abi.wait_kind,
				.flags = AI_REC_WAIT_F_CURRENT,
				.obj = t->abi.wait_obj,
				.holder_id = t->wait_for,
				.await_desc = t->chain_len ? t->chain[0].at : 0,
			};

			if (t->abi.state != ASYNC_TASK_IDLE || t->abi.wait_kind == ASYNC_WAIT_NONE)
				continue;
			handle_event(c, &e, sizeof(e));
		}
		ai_snapshot_free(snap);
	}
	return c->err;
}

static int update_lost(struct rec_ctx *c, bool force)
{
	uint32_t zero = 0;
	uint64_t total = 0, ring_lost, ring_read;
	int err;

	err = bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.lost), &zero, c->lost);
	if (err)
		return -errno;
	/* polls overwritten in a poll ring before they were drained count as lost too (on
	 * the first CPU's counter: they were never on any CPU's ring buffer) */
	ai_rings_counts(bpf_map__fd(c->skel->maps.rings), -1, &ring_lost, &ring_read);
	c->lost[0] += ring_lost;
	c->ring_lost = ring_lost;
	for (int i = 0; i < c->ncpus; i++)
		total += c->lost[i];
	if (total == c->lost_total && !force)
		return 0;
	c->lost_total = total;
	return ai_rf_write_lost(c->w, c->lost, (uint32_t)c->ncpus);
}

/* ---- attaching ---------------------------------------------------------------------- */

static int attach_all(struct record_bpf *skel, pid_t pid, const char *path)
{
	/* polls come through the rings (the ring probe announces them), not the poll probe */
	static const char *const names[] = { "task_spawn", "ring",    "task_done",   "wait",
					     "acquire",	   "release", "thread_start" };
	struct bpf_program *progs[] = { skel->progs.rec_task_spawn,  skel->progs.rec_ring,
					skel->progs.rec_task_done,   skel->progs.rec_wait,
					skel->progs.rec_acquire,     skel->progs.rec_release,
					skel->progs.rec_thread_start };
	struct bpf_link **links[] = { &skel->links.rec_task_spawn,  &skel->links.rec_ring,
				      &skel->links.rec_task_done,   &skel->links.rec_wait,
				      &skel->links.rec_acquire,	    &skel->links.rec_release,
				      &skel->links.rec_thread_start };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* Only the ring probe is required: a statically linked program carries the
		 * probes of the runtime parts it uses. */
		int err = ai_attach_usdt(progs[i], pid, path, names[i], strcmp(names[i], "ring"),
					 links[i]);

		if (err)
			return err;
	}
	return 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- main flow ---------------------------------------------------------------------- */

int cmd_record(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_opt, "[-- CMD [ARGS...]]", doc, NULL,
					  NULL, NULL };
	struct ai_child child = { .pid = -1, .go_fd = -1 };
	struct ai_rf_info info = { 0 };
	struct ring_buffer *rb = NULL;
	struct rec_ctx c = { 0 };
	struct bpf_link *iter = NULL;
	struct ai_rings_drainer drainer = { 0 };
	char path[PATH_MAX], exe[PATH_MAX];
	int err, status = AI_EXIT_OK, child_status = -1;
	bool help;
	uint64_t start, deadline = 0, next_lost;
	pid_t pid;

	err = ai_tf_parse_args(&argp, argc, argv, NULL, &help);
	if (help)
		return AI_EXIT_OK;
	if (err)
		return AI_EXIT_USAGE;
	ai_setup_libbpf_log();

	if (env.pid && ai_check_pid(env.pid))
		return AI_EXIT_FAIL;
	if (env.cmd) {
		err = ai_exec_resolve(env.cmd[0], exe, sizeof(exe));
		if (err) {
			ai_err("find command", env.cmd[0], err);
			return AI_EXIT_FAIL;
		}
	}
	if (ai_check_bpf_privileges())
		return AI_EXIT_FAIL;
	if (ai_probe_target_verb(env.pid, env.cmd ? env.cmd[0] : NULL, "record", exe, sizeof(exe),
				 path, sizeof(path)))
		return AI_EXIT_FAIL;

	c.ncpus = libbpf_num_possible_cpus();
	if (c.ncpus <= 0) {
		ai_err("count", "possible CPUs", c.ncpus ? c.ncpus : -EINVAL);
		return AI_EXIT_FAIL;
	}
	c.lost = calloc((size_t)c.ncpus, sizeof(*c.lost));
	if (!c.lost) {
		ai_err("allocate", "buffers", -ENOMEM);
		return AI_EXIT_FAIL;
	}

	if (env.cmd) {
		err = ai_child_spawn(env.cmd, &child);
		if (err) {
			ai_err("start", env.cmd[0], err);
			goto cleanup;
		}
		pid = child.pid;
	} else {
		pid = env.pid;
	}

	c.skel = record_bpf__open();
	if (!c.skel) {
		err = -errno;
		ai_err("open", "BPF programs", err);
		goto cleanup;
	}
	c.skel->rodata->targ_tgid = (uint32_t)pid;
	c.skel->rodata->wakeup_bytes = env.buffer_bytes / 4;
	err = bpf_map__set_max_entries(c.skel->maps.events, (uint32_t)env.buffer_bytes);
	if (err) {
		ai_err("size", "the ring buffer", err);
		goto cleanup;
	}
	err = record_bpf__load(c.skel);
	if (err) {
		ai_err("load", "BPF programs", err);
		if (!ai_verbose)
			fprintf(stderr, "(run with -v to see the verifier log)\n");
		goto cleanup;
	}
	c.skel->bss->rec_start_ns = ai_now_ns();
	/* -p: the rings it has already, from their present head on */
	if (env.pid && (err = ai_rings_follow(bpf_map__fd(c.skel->maps.rings), pid, false)))
		ai_warnf("cannot read the poll rings of PID %d: %s", (int)pid, strerror(-err));
	err = attach_all(c.skel, pid, path);
	if (!err && env.pid) /* rings allocated while the ring probe was being attached */
		ai_rings_follow(bpf_map__fd(c.skel->maps.rings), pid, true);
	if (!err)
		err = ai_rings_attach_iter(c.skel->progs.rec_drain, pid, &iter);
	if (err)
		goto cleanup;
	rb = ring_buffer__new(bpf_map__fd(c.skel->maps.events), handle_event, &c, NULL);
	if (!rb) {
		err = -errno;
		ai_err("open", "the ring buffer", err);
		goto cleanup;
	}
	/* every probe is attached: from here on the recording is consistent */
	__atomic_store_n(&c.skel->bss->armed, 1, __ATOMIC_RELEASE);
	err = ai_rings_drainer_start(&drainer, iter);
	if (err) {
		ai_err("start", "the ring drain", err);
		goto cleanup;
	}

	start = ai_now_ns();
	info.flags = env.cmd ? AI_RF_F_COMMAND : 0;
	info.target_pid = (uint32_t)pid;
	info.ncpus = (uint32_t)c.ncpus;
	info.start_ns = start;
	info.start_real_ns = realtime_ns();
	err = ai_rf_writer_open(env.output, &info, &c.w);
	if (err) {
		ai_err("create", env.output, err);
		goto cleanup;
	}
	/* -p: the tables now, while we know the process is there */
	if (env.pid && !proc_get(&c, pid)) {
		err = c.err;
		ai_err("write", env.output, err);
		goto cleanup;
	}

	ai_handle_signals();
	if (env.cmd) {
		err = ai_child_start(&child);
		if (err) {
			ai_err("start", env.cmd[0], err);
			goto cleanup;
		}
	} else {
		fprintf(stderr, "Recording process %d to %s... Hit Ctrl-C to end.\n", (int)pid,
			env.output);
	}
	if (env.duration > 0)
		deadline = start + (uint64_t)(env.duration * 1e9);
	next_lost = start + 1000000000ull;

	while (!ai_exiting) {
		bool early = env.cmd && !c.nprocs;
		uint64_t now;

		/* -- CMD: read its tables as soon as it maps libasync, before it can exit */
		if (early && !ai_proc_find_libasync(pid, path, sizeof(path)) &&
		    !proc_get(&c, pid)) {
			err = c.err;
			ai_err("write", env.output, err);
			goto cleanup;
		}
		/* Woken early only past the threshold (or for the first event): on a timeout,
		 * drain what the unwoken submissions left. */
		err = ring_buffer__poll(rb, early ? 1 : 100);
		if (err == 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		if (err == -EINTR)
			err = 0;
		if (c.err)
			err = c.err;
		if (err < 0) {
			ai_err("write", env.output, err);
			goto cleanup;
		}
		now = ai_now_ns();
		if (now >= next_lost) {
			/* every second: what was recorded is on disk, even if we are killed */
			err = ai_rf_flush(c.w);
			if (!err)
				err = update_lost(&c, false);
			if (err) {
				ai_err("write", env.output, err);
				goto cleanup;
			}
			next_lost = now + 1000000000ull;
		}
		if (deadline && now >= deadline)
			break;
		if (env.cmd) {
			if (ai_child_reap(&child, &child_status) == 1)
				break;
		} else if (!ai_proc_alive(pid)) {
			break;
		}
	}

	/* what the poll rings still hold, everything in the ring buffer, then the totals */
	ai_rings_drainer_stop(&drainer);
	ai_rings_drain(iter);
	c.skel->bss->rings_stopped = 1;
	err = ring_buffer__consume(rb);
	if (err >= 0)
		err = c.err;
	if (!err)
		err = write_current_waits(&c);
	if (!err)
		err = update_lost(&c, true);
	if (!err) {
		uint64_t events = ai_rf_writer_events(c.w);

		err = ai_rf_writer_close(c.w, ai_now_ns(), child_status);
		c.w = NULL;
		if (!err) {
			struct stat st;
			uint64_t bytes = stat(env.output, &st) ? 0 : (uint64_t)st.st_size;

			fprintf(stderr,
				"Recorded %llu events to %s (%llu bytes, %.1f bytes/event), %llu "
				"lost.\n",
				(unsigned long long)events, env.output, (unsigned long long)bytes,
				events ? (double)bytes / (double)events : 0.0,
				(unsigned long long)c.lost_total);
		}
	}
	if (err < 0) {
		ai_err("write", env.output, err);
		goto cleanup;
	}
	if (c.lost_total) {
		char buf[512];
		size_t n = 0;

		for (int i = 0; i < c.ncpus && n < sizeof(buf) - 32; i++)
			if (c.lost[i])
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, " cpu%d=%llu", i,
						      (unsigned long long)c.lost[i]);
		ai_warnf("%llu events lost, %llu of them polls overwritten in a poll ring (per "
			 "CPU:%s); try a larger -b",
			 (unsigned long long)c.lost_total, (unsigned long long)c.ring_lost, buf);
	}
	err = 0;

cleanup:
	ai_rings_drainer_stop(&drainer);
	bpf_link__destroy(iter);
	if (err)
		status = AI_EXIT_FAIL;
	if (c.w) /* an error: keep what was written readable up to here */
		ai_rf_writer_free(c.w);
	ring_buffer__free(rb);
	record_bpf__destroy(c.skel);
	for (size_t i = 0; i < c.nprocs; i++) {
		ai_proc_descs_free(c.procs[i].descs);
		free(c.procs[i].names);
		ai_proc_maps_free(c.procs[i].maps, c.procs[i].nmaps);
	}
	free(c.procs);
	free(c.lost);
	if (child.pid > 0) {
		int st;

		bool started = child.go_fd < 0;

		/* never started: closing the pipe makes it exit */
		if (!started) {
			close(child.go_fd);
			child.go_fd = -1;
		}
		/* Ctrl-C: a terminal sent it SIGINT too; a kill(1) did not, so pass it on.
		 * After -d it runs to its end, as under trace. */
		if (ai_exiting && started && child_status < 0) {
			kill(child.pid, SIGINT);
			/* a command started in the background ignores SIGINT: then SIGTERM */
			for (int i = 0; i < 200 && ai_child_reap(&child, &child_status) == 0; i++)
				usleep(10000);
			if (child_status < 0 && child.pid > 0)
				kill(child.pid, SIGTERM);
		}
		while (child_status < 0 && child.pid > 0 && waitpid(child.pid, &st, 0) < 0 &&
		       errno == EINTR)
			;
		if (child_status < 0 && child.pid > 0)
			child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (!err && env.cmd && child_status >= 0)
		status = child_status;
	return status;
}
