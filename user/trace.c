/* SPDX-License-Identifier: MIT */
/*
 * async-inspect trace: per-task latency of libasync programs, aggregated in kernel maps
 * by bpf/trace.bpf.c from the runtime's USDT probes; tables every -i SECS and a final
 * summary (text with log2 histograms, or --json) at the end.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
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

#include "async/abi.h"
#include "commands.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "chains.h"
#include "foldedwait.h"
#include "names.h"
#include "outfile.h"
#include "proc.h"
#include "rings.h"
#include "snapshot.h"
#include "summary.h"
#include "sumopts.h"
#include "taskfmt.h"
#include "bpf/trace.h"
#include "trace.skel.h"

static struct trace_env {
	pid_t pid;
	bool system;
	char **cmd;
	const char *lib;
	const char *output;
	double duration; /* seconds, 0 = until the end */
	double interval; /* seconds, 0 = no tables */
	bool json;
	bool pretty;
	struct ai_sum_opts sum;
	uint32_t max_tasks;
	uint32_t ring_slots;	 /* --ring-slots, 0: the runtime's default */
	const char *folded_wait; /* --folded-wait FILE */
} env = {
	.sum = AI_SUM_OPTS_DEFAULT,
	.max_tasks = TRACE_MAX_TASKS_DEFAULT,
};

enum {
	OPT_SYSTEM = 0x100,
	OPT_LIB,
	OPT_JSON,
	OPT_PRETTY,
	OPT_MAX_TASKS,
	OPT_RING_SLOTS,
	OPT_FOLDED_WAIT,
};

static const char doc[] =
    "Per-task latency of a libasync program, aggregated in kernel maps.\n"
    "\n"
    "Traces one process (-p PID), a command it starts (-- CMD ARGS; probes are attached "
    "before the command's first instruction and async-inspect exits with its status), or "
    "every process that maps libasync.so (--system). Ends on Ctrl-C, after -d SECS, or "
    "when the traced process exits, with a summary: per function (tasks, polls, busy, "
    "scheduling delay, log2 histograms), per await point (time waited), per task, and "
    "warnings (long polls, lost wakers, self-waking tasks).\n"
    "\n"
    "EXAMPLES:\n"
    "  async-inspect trace -p 1234                # trace PID 1234 until Ctrl-C\n"
    "  async-inspect trace -p 1234 -i 1 -d 10     # tables every second for 10 s\n"
    "  async-inspect trace -- ./fetch_user --users 200\n"
    "  async-inspect trace --json -o out.json -- ./server\n"
    "  async-inspect trace --system -d 5          # every process using libasync.so\n"
    "  async-inspect trace -p 1234 --long-poll 5  # warn about polls over 5 ms\n"
    "\v"
    "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF. The JSON schema is "
    "docs/trace-json.md.";

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Trace this process", 0 },
	{ "system", OPT_SYSTEM, NULL, 0, "Trace every process that maps libasync.so", 0 },
	{ "lib", OPT_LIB, "PATH", 0,
	  "libasync.so to attach to with --system (default: the one a running process maps, "
	  "else the one next to async-inspect, else /usr/local/lib)",
	  0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds", 0 },
	{ "interval", 'i', "SECS", 0, "Print a table of the busiest functions and tasks every SECS",
	  0 },
	{ "json", 'j', NULL, 0, "Print the final summary as one JSON document", 0 },
	{ "pretty", OPT_PRETTY, NULL, 0, "Indent the JSON", 0 },
	{ "output", 'o', "FILE", 0, "Write the final summary to FILE instead of stdout", 0 },
	AI_SUM_ARGP_OPTIONS,
	{ "max-tasks", OPT_MAX_TASKS, "N", 0,
	  "Tasks kept in the kernel map (default 16384); older ones are evicted and counted", 0 },
	{ "ring-slots", OPT_RING_SLOTS, "N", 0,
	  "Slots of the poll rings the traced process allocates from now on (a power of two, "
	  "64..4194304; default 16384 per worker thread)",
	  0 },
	{ "folded-wait", OPT_FOLDED_WAIT, "FILE", 0,
	  "Write the await chains as folded stacks weighted by nanoseconds waited (a wait-time "
	  "flame graph: flamegraph.pl FILE)",
	  0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output, including the verifier log", 0 },
	{},
};

/* ai_bad_value for ai_tf_parse_args: the error is printed already. */
static int bad_value(const char *opt, const char *val, const char *expected)
{
	ai_bad_value(opt, val, expected);
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
	case OPT_SYSTEM:
		env.system = true;
		break;
	case OPT_LIB:
		env.lib = arg;
		break;
	case 'd':
		if (!ai_parse_secs(arg, &env.duration))
			return bad_value("-d", arg, "a positive duration (2, 2s, 500ms, 1m)");
		break;
	case 'i':
		if (!ai_parse_secs(arg, &env.interval))
			return bad_value("-i", arg, "a positive duration (2, 2s, 500ms, 1m)");
		break;
	case 'j':
		env.json = true;
		break;
	case OPT_PRETTY:
		env.pretty = true;
		break;
	case 'o':
		env.output = arg;
		break;
	case OPT_MAX_TASKS:
		if (!ai_parse_u64(arg, &v) || v < 16 || v > 16777216)
			return bad_value("--max-tasks", arg, "a number of tasks (16..16777216)");
		env.max_tasks = (uint32_t)v;
		break;
	case OPT_RING_SLOTS:
		if (!ai_rings_parse_slots(arg, &env.ring_slots))
			return bad_value("--ring-slots", arg, "a power of two (64..4194304)");
		break;
	case OPT_FOLDED_WAIT:
		env.folded_wait = arg;
		break;
	case 'v':
		ai_verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* the command and its arguments: everything from here on */
		env.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END: {
		int modes = (env.pid != 0) + env.system + (env.cmd != NULL);

		if (modes != 1) {
			ai_errorf("%s (see 'async-inspect trace --help')",
				  modes ? "give only one of -p PID, --system and -- CMD ARGS"
					: "nothing to trace: give -p PID, --system or -- CMD ARGS");
			return AI_TF_ARG_REPORTED;
		}
		if (env.lib && !env.system) {
			ai_errorf("--lib only applies to --system");
			return AI_TF_ARG_REPORTED;
		}
		if (env.pretty)
			env.json = true;
		break;
	}
	default:
		return ai_sum_opts_parse(&env.sum, key, arg, AI_TF_ARG_REPORTED);
	}
	return 0;
}

/* ---- the processes seen, and their descriptor tables ------------------------------- */

/* A plain function called from async code (an ASYNC_CALL descriptor). */
struct call_site {
	char *function; /* the async function making the call */
	char *callee;
	char *location;
};

struct proc_info {
	pid_t pid;
	char comm[32];
	struct call_site *calls; /* for naming what a long poll may have blocked in */
	size_t ncalls;
	struct ai_proc_descs *descs; /* NULL until loaded (kept after it exits) */
	bool exited;
	int exit_status;
	/* -- CMD that exited before its mappings could be read: tables from the files */
	struct ai_desc_table *files[2];
	uint64_t file_bias[2];
};

struct trace_ctx {
	struct trace_bpf *skel;
	struct proc_info *procs;
	size_t nprocs;
	uint64_t start_ns;
	uint64_t end_ns; /* when tracing stopped, 0 while it runs */
	int ncpus;
};

static struct proc_info *proc_get(struct trace_ctx *c, pid_t pid)
{
	struct proc_info *p;

	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].pid == pid)
			return &c->procs[i];
	p = realloc(c->procs, (c->nprocs + 1) * sizeof(*p));
	if (!p)
		return NULL;
	c->procs = p;
	p = &c->procs[c->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->exit_status = -1;
	if (ai_proc_comm(pid, p->comm, sizeof(p->comm)))
		snprintf(p->comm, sizeof(p->comm), "?");
	return p;
}

static void proc_free(struct proc_info *p)
{
	for (size_t i = 0; i < p->ncalls; i++) {
		free(p->calls[i].function);
		free(p->calls[i].callee);
		free(p->calls[i].location);
	}
	free(p->calls);
	ai_proc_descs_free(p->descs);
	ai_desc_table_free(p->files[0]);
	ai_desc_table_free(p->files[1]);
}

/* Remembers the ASYNC_CALL descriptors of table `t`. */
static void add_calls(struct proc_info *p, const struct ai_desc_table *t)
{
	for (size_t k = 0; k < t->n; k++) {
		const struct ai_desc *d = &t->descs[k];
		struct call_site *cs;
		char loc[512];

		if (d->kind != ASYNC_DESC_CALL || !d->function || !d->callee)
			continue;
		cs = realloc(p->calls, (p->ncalls + 1) * sizeof(*cs));
		if (!cs)
			return;
		p->calls = cs;
		cs = &p->calls[p->ncalls++];
		cs->function = strdup(d->function);
		cs->callee = strdup(d->callee);
		cs->location = strdup(ai_desc_location(d, loc, sizeof(loc)));
	}
}

/* Collects the ASYNC_CALL descriptors of every object the process maps. */
static void proc_load_calls(struct proc_info *p)
{
	struct ai_map *maps = NULL;
	size_t nmaps = 0;

	if (ai_proc_maps(p->pid, &maps, &nmaps))
		return;
	for (size_t i = 0; i < nmaps; i++) {
		struct ai_desc_table *t = NULL;
		char full[PATH_MAX + 64];

		if (!maps[i].path || maps[i].path[0] != '/' || !ai_proc_map_first(maps, i))
			continue;
		snprintf(full, sizeof(full), "/proc/%d/root%s", (int)p->pid, maps[i].path);
		if (ai_desc_table_load(full, 0, &t))
			continue;
		add_calls(p, t);
		ai_desc_table_free(t);
	}
	ai_proc_maps_free(maps, nmaps);
}

/* 1 if `pid` maps the file with inode `ino` (cheap: no ELF parsing). */
static int proc_maps_inode(pid_t pid, uint64_t ino)
{
	struct ai_map *maps = NULL;
	size_t n = 0;
	int found = 0;

	if (ai_proc_maps(pid, &maps, &n))
		return 0;
	for (size_t i = 0; i < n && !found; i++)
		found = maps[i].path && maps[i].inode == ino;
	ai_proc_maps_free(maps, n);
	return found;
}

/*
 * Loads the descriptor tables once the process maps its libasync probes object (the
 * file with inode `probe_ino` if known, else any object with libasync probes).
 */
static void proc_load_descs_ino(struct proc_info *p, uint64_t probe_ino)
{
	char path[PATH_MAX];

	if (p->descs || p->exited)
		return;
	if (probe_ino ? !proc_maps_inode(p->pid, probe_ino)
		      : ai_proc_find_libasync(p->pid, path, sizeof(path)) != 0)
		return; /* not exec'd yet, or gone */
	if (ai_proc_descs_load(p->pid, &p->descs))
		p->descs = NULL;
	else
		proc_load_calls(p);
	ai_proc_comm(p->pid, p->comm, sizeof(p->comm));
}

static void proc_load_descs(struct proc_info *p)
{
	proc_load_descs_ino(p, 0);
}

/* Long polls: name the plain functions the async function calls (ASYNC_CALL). */
static void annotate_long_polls(struct trace_ctx *c, struct ai_summary *s)
{
	for (size_t i = 0; i < s->nwarnings; i++) {
		struct ai_sum_warning *w = &s->warnings[i];
		struct proc_info *p = NULL;

		if (strcmp(w->kind, AI_WARN_LONG_POLL) || !w->function)
			continue;
		for (size_t j = 0; j < c->nprocs; j++)
			if (c->procs[j].pid == w->pid)
				p = &c->procs[j];
		for (size_t j = 0; p && j < p->ncalls; j++) {
			char *nd = NULL;

			if (strcmp(p->calls[j].function, w->function))
				continue;
			if (asprintf(&nd, "%s; it calls %s() at %s", w->detail, p->calls[j].callee,
				     p->calls[j].location) < 0)
				continue;
			free(w->detail);
			w->detail = nd;
		}
	}
}

static const struct ai_desc *desc_find(struct proc_info *p, uint64_t addr)
{
	if (!p || !addr)
		return NULL;
	if (!p->descs)
		proc_load_descs(p);
	if (p->descs)
		return ai_proc_descs_find(p->descs, addr);
	for (int i = 0; i < 2; i++) {
		const struct ai_desc *d;

		if (p->files[i] && (d = ai_desc_table_find(p->files[i], addr - p->file_bias[i])))
			return d;
	}
	return NULL;
}

/*
 * The load bias of table `t` that maps the most of the `n` runtime addresses `seen`
 * onto its descriptors; biases are page-aligned. Returns how many it maps (0: none).
 * Descriptors are 40-byte array entries, so two page-aligned biases cannot both fit
 * unless a table holds more than 512 of them.
 */
static size_t guess_bias(const struct ai_desc_table *t, const uint64_t *seen, size_t n,
			 uint64_t *bias)
{
	size_t best = 0;

	for (size_t i = 0; i < n && i < 8; i++) {
		for (size_t k = 0; k < t->n; k++) {
			uint64_t b = seen[i] - t->descs[k].addr;
			size_t hits = 0;

			if (b & 0xfff)
				continue;
			for (size_t j = 0; j < n; j++)
				hits += ai_desc_table_find(t, seen[j] - b) != NULL;
			if (hits > best) {
				best = hits;
				*bias = b;
			}
		}
	}
	return best;
}

/*
 * A command that exited before its mappings were read: load the descriptor tables of
 * the executable and of the probe object from the files, and find their load biases
 * from the descriptor addresses in the maps.
 */
static void names_from_files(struct trace_ctx *c, struct proc_info *p, const char *exe,
			     const char *probe_obj)
{
	const char *paths[2] = { exe, probe_obj };
	uint64_t *seen = NULL, *tmp;
	struct ai_chains ch;
	size_t n = 0;

	/* the descriptors on the chains seen */
	if (ai_chains_read(bpf_map__fd(c->skel->maps.chains), c->ncpus, &ch))
		return;
	for (size_t i = 0; i < ch.nchains; i++) {
		const struct ai_chain *k = &ch.chains[i];

		for (uint32_t j = 0; k->pid == p->pid && j < k->v.depth && j < ASYNC_RING_DEPTH;
		     j++) {
			uint64_t d[2] = { k->v.fn[j], k->v.at[j] };

			for (int m = 0; m < 2; m++) {
				if (!d[m])
					continue;
				tmp = realloc(seen, (n + 1) * sizeof(*seen));
				if (!tmp)
					break;
				seen = tmp;
				seen[n++] = d[m];
			}
		}
	}
	ai_chains_free(&ch);
	for (int i = 0; i < 2 && n; i++) {
		if (i == 1 && !strcmp(paths[0], paths[1]))
			break;
		if (ai_desc_table_load(paths[i], 0, &p->files[i]))
			continue;
		if (!guess_bias(p->files[i], seen, n, &p->file_bias[i])) {
			ai_desc_table_free(p->files[i]);
			p->files[i] = NULL;
			continue;
		}
		add_calls(p, p->files[i]);
	}
	free(seen);
}

static char *desc_function(struct proc_info *p, uint64_t addr)
{
	return addr ? ai_summary_desc_name(desc_find(p, addr), addr) : strdup("?");
}

static char *desc_loc(struct proc_info *p, uint64_t addr)
{
	return ai_summary_desc_location(desc_find(p, addr));
}

/* New processes in the maps (--system): note them and load their names while alive. */
static void discover_procs(struct trace_ctx *c)
{
	struct trace_key key, next, *prev = NULL;
	int fd = bpf_map__fd(c->skel->maps.chains);
	pid_t last = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if ((pid_t)key.pid == last)
			continue;
		last = (pid_t)key.pid;
		struct proc_info *p = proc_get(c, last);

		if (p && !p->descs && !p->exited)
			proc_load_descs(p);
	}
}

/* ---- building the summary from the maps --------------------------------------------- */

static uint64_t read_stat(struct trace_ctx *c, int i)
{
	return __atomic_load_n(&c->skel->bss->stats[i], __ATOMIC_RELAXED);
}

static int fill_tasks(struct trace_ctx *c, struct ai_summary *s, bool final)
{
	int fd = bpf_map__fd(c->skel->maps.tasks);
	struct trace_key key, next, *prev = NULL;
	struct trace_task tt;
	uint64_t present = 0, inserts;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ai_sum_task *t;
		struct proc_info *p;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &tt))
			continue;
		present++;
		p = proc_get(c, (pid_t)key.pid);
		t = ai_summary_add_task(s);
		if (!t)
			return -ENOMEM;
		t->pid = (int32_t)key.pid;
		t->id = key.id;
		t->parent = tt.parent;
		t->function = tt.fn ? desc_function(p, tt.fn) : strdup("?");
		if (final && tt.name && p && !p->exited) {
			char name[128];

			if (!ai_proc_read_str(p->pid, tt.name, name, sizeof(name)))
				t->name = strdup(name);
		}
		t->state = ai_summary_state_name(tt.done ? ASYNC_TASK_DONE : tt.state);
		if (tt.at && !tt.done) {
			t->location = desc_loc(p, tt.at);
			t->await = ai_summary_desc_await(desc_find(p, tt.at), tt.at, false);
		}
		t->spawn_ns = tt.spawn_ns;
		t->state_since_ns = tt.state_since_ns;
		t->polls = tt.polls;
		t->busy_ns = tt.busy_ns;
		t->idle_ns = tt.idle_ns;
		t->sched_delay_ns = tt.sched_ns;
		t->max_poll_ns = tt.max_poll_ns;
		if (final && tt.polls) {
			t->max_poll_from =
			    tt.max_poll_from ? ai_summary_desc_await(desc_find(p, tt.max_poll_from),
								     tt.max_poll_from, true)
					     : NULL;
			t->max_poll_to = tt.max_poll_to
					     ? ai_summary_desc_await(desc_find(p, tt.max_poll_to),
								     tt.max_poll_to, true)
					     : NULL;
		}
		t->wakes_self = tt.wakes_self;
		t->wakes_other = tt.wakes_other;
		t->wait_kind =
		    tt.wait_poll == tt.polls && !tt.done ? tt.wait_kind : ASYNC_WAIT_NONE;
		t->done = tt.done || tt.state == ASYNC_TASK_DONE;
		t->result = tt.result;
	}
	inserts = read_stat(c, TRACE_STAT_TASK_INSERTS);
	return ai_summary_lost_add(s, "evicted_tasks", inserts > present ? inserts - present : 0);
}

/* Function and await-point rows: sums over the await chains that hold them (chains.h). */
static int fill_funcs(struct trace_ctx *c, struct ai_summary *s, const struct ai_chains *ch)
{
	for (size_t i = 0; i < ch->nfuncs; i++) {
		const struct ai_chain_row *r = &ch->funcs[i];
		struct proc_info *p = proc_get(c, (pid_t)r->pid);
		struct ai_sum_function *f = ai_summary_add_function(s);

		if (!f)
			return -ENOMEM;
		f->pid = r->pid;
		f->name = desc_function(p, r->desc);
		f->location = desc_loc(p, r->desc);
		f->tasks = r->tasks;
		f->calls = r->nested_waits;
		f->polls = r->polls;
		f->busy_ns = r->busy_ns;
		f->idle_ns = r->idle_ns;
		f->sched_delay_ns = r->sched_ns;
		f->max_poll_ns = r->max_poll_ns;
		f->long_polls = r->long_polls;
		for (int k = 0; k < TRACE_HIST_SLOTS && k < AI_HIST_SLOTS; k++) {
			f->poll_ns_log2[k] = r->poll_hist[k];
			f->sched_delay_ns_log2[k] = r->sched_hist[k];
		}
	}
	return 0;
}

static int fill_awaits(struct trace_ctx *c, struct ai_summary *s, const struct ai_chains *ch)
{
	for (size_t i = 0; i < ch->nawaits; i++) {
		const struct ai_chain_row *r = &ch->awaits[i];
		struct proc_info *p = proc_get(c, (pid_t)r->pid);
		const struct ai_desc *d = desc_find(p, r->desc);
		struct ai_sum_await *a = ai_summary_add_await(s);

		if (!a)
			return -ENOMEM;
		a->pid = r->pid;
		a->function = ai_summary_desc_name(d, r->desc);
		a->callee = d && d->callee ? strdup(d->callee) : NULL;
		a->location = desc_loc(p, r->desc);
		a->waits = r->waits;
		a->wait_ns = r->wait_ns;
		a->max_wait_ns = r->max_wait_ns;
		for (int k = 0; k < TRACE_HIST_SLOTS && k < AI_HIST_SLOTS; k++)
			a->wait_ns_log2[k] = r->wait_hist[k];
	}
	return 0;
}

/*
 * What a pending task waits on, as the runtime's own task records say it: sleeps fire no
 * probe (too hot), and a wait registered before tracing began was never seen. Read from
 * every process still running, so the lost-waker lint flags only tasks that really wait
 * on nothing that can wake them.
 */
static void waits_from_registry(struct ai_summary *s)
{
	for (size_t p = 0; p < s->nprocs; p++) {
		pid_t pid = s->procs[p].pid;
		struct ai_snapshot *snap = NULL;
		uint64_t reg;

		if (s->procs[p].exited || ai_snapshot_locate(pid, &reg) ||
		    ai_snapshot_take(pid, reg, NULL, &snap))
			continue;
		for (size_t i = 0; i < s->ntasks; i++) {
			struct ai_sum_task *t = &s->tasks[i];
			const struct ai_snap_task *st;

			if (t->pid != pid || t->done || t->wait_kind != ASYNC_WAIT_NONE)
				continue;
			st = ai_snapshot_find(snap, t->id);
			if (st)
				t->wait_kind = st->abi.wait_kind;
			else
				t->gone_later = true; /* ids are never reused: it completed since */
		}
		ai_snapshot_free(snap);
	}
}

static int build_summary(struct trace_ctx *c, struct ai_summary *s, int32_t pid, bool final)
{
	uint64_t now = c->end_ns ? c->end_ns : ai_now_ns(), ring_lost, ring_read;
	struct ai_chains ch;
	int err;

	err = ai_summary_init(s, pid);
	if (err)
		return err;
	s->start_ns = c->start_ns;
	s->duration_ns = now - c->start_ns;
	err = fill_tasks(c, s, final);
	if (!err)
		err = ai_chains_read(bpf_map__fd(c->skel->maps.chains), c->ncpus, &ch);
	if (err)
		return err;
	err = fill_funcs(c, s, &ch);
	if (!err)
		err = fill_awaits(c, s, &ch);
	ai_chains_free(&ch);
	if (err)
		return err;
	for (size_t i = 0; i < c->nprocs; i++) {
		struct ai_sum_process *sp = ai_summary_add_process(s);

		if (!sp)
			return -ENOMEM;
		sp->pid = c->procs[i].pid;
		sp->comm = strdup(c->procs[i].comm);
		sp->exited = c->procs[i].exited;
		sp->exit_status = c->procs[i].exit_status;
	}
	ai_rings_counts(bpf_map__fd(c->skel->maps.rings), pid, &ring_lost, &ring_read);
	if ((err = ai_summary_lost_add(s, "ring_overruns", ring_lost)) ||
	    (err = ai_summary_lost_add(s, "task_map_full", read_stat(c, TRACE_STAT_TASK_FULL))) ||
	    (err = ai_summary_lost_add(s, "chain_map_full", read_stat(c, TRACE_STAT_CHAIN_FULL))))
		return err;
	if (final) {
		struct ai_lint_opts lo;

		waits_from_registry(s);
		ai_sum_opts_lint(&env.sum, &lo);
		lo.now_ns = now;
		err = ai_summary_lint(s, &lo);
		if (err < 0)
			return err;
		annotate_long_polls(c, s);
	}
	ai_summary_sort(s, env.sum.sort);
	return 0;
}

/* ---- attaching ---------------------------------------------------------------------- */

#define MAX_LIBS 16

struct lib_set {
	char paths[MAX_LIBS][PATH_MAX];
	dev_t dev[MAX_LIBS];
	ino_t ino[MAX_LIBS];
	size_t n;
};

/*
 * "/proc/PID/root/x/libasync.so.0" as "/x/libasync.so.0" when that is the same file, so
 * that attaching does not depend on PID still running.
 */
static const char *plain_path(const char *path)
{
	struct stat a, b;
	const char *rest;

	if (strncmp(path, "/proc/", 6))
		return path;
	rest = strstr(path + 6, "/root/");
	if (!rest)
		return path;
	rest += 5;
	if (stat(path, &a) || stat(rest, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return path;
	return rest;
}

/* Adds `path` unless the same file (device and inode) is in the set already. */
static void lib_set_add(struct lib_set *ls, const char *path)
{
	struct stat st;

	if (ls->n == MAX_LIBS || stat(path, &st))
		return;
	for (size_t i = 0; i < ls->n; i++)
		if (ls->dev[i] == st.st_dev && ls->ino[i] == st.st_ino)
			return;
	snprintf(ls->paths[ls->n], sizeof(ls->paths[0]), "%s", path);
	ls->dev[ls->n] = st.st_dev;
	ls->ino[ls->n] = st.st_ino;
	ls->n++;
}

/*
 * The libasync.so files for --system: --lib alone if given; otherwise every distinct
 * libasync.so running processes map, the one next to async-inspect, the installed one.
 */
static int system_libs(struct lib_set *ls)
{
	static const char *const installed[] = { "/usr/local/lib/libasync.so.0",
						 "/usr/lib/libasync.so.0" };
	char self[PATH_MAX], path[PATH_MAX], *slash;
	pid_t *pids = NULL;
	size_t n = 0;
	ssize_t r;

	ls->n = 0;
	if (env.lib) {
		int has = ai_elf_has_libasync_probes(env.lib);

		if (has < 0)
			return ai_err("read", env.lib, has);
		if (!has) {
			ai_errorf("'%s' has no libasync probes", env.lib);
			return -ENOENT;
		}
		lib_set_add(ls, env.lib);
		return 0;
	}
	if (!ai_proc_scan_libasync(&pids, &n)) {
		for (size_t i = 0; i < n; i++) {
			const char *base;

			if (ai_proc_find_libasync(pids[i], path, sizeof(path)))
				continue;
			base = strrchr(path, '/');
			if (base && !strncmp(base + 1, "libasync.so", 11))
				lib_set_add(ls, plain_path(path));
		}
		free(pids);
	}
	r = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (r > 0) {
		self[r] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, sizeof(path), "%.*s/libasync.so.0", PATH_MAX - 32,
				     self) < (int)sizeof(path) &&
			    ai_elf_has_libasync_probes(path) == 1)
				lib_set_add(ls, path);
		}
	}
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++)
		if (ai_elf_has_libasync_probes(installed[i]) == 1)
			lib_set_add(ls, installed[i]);
	if (!ls->n) {
		ai_errorf("failed to find libasync.so: no process maps it and none is installed "
			  "(give --lib PATH)");
		return -ENOENT;
	}
	return 0;
}

#define NPROBES	  3
#define MAX_LINKS (MAX_LIBS * NPROBES)

/*
 * The ring probe first (its semaphore makes the workers write poll records to their
 * rings, which the iterator drains), completion next, spawn last: a task whose spawn is
 * seen is then seen whole (spawn_ns != 0 marks the tasks seen from their beginning). libasync fires
 * the spawn probe before it queues the task, so the task's first poll starts after the poll probe
 * (and its semaphore) is in place. Detaching runs in the reverse order.
 */
static int attach_all(struct trace_bpf *skel, pid_t pid, const char *path, struct bpf_link **links,
		      size_t *nlinks)
{
	static const char *const names[NPROBES] = { "ring", "task_done", "task_spawn" };
	struct bpf_program *progs[NPROBES] = { skel->progs.trace_ring, skel->progs.trace_done,
					       skel->progs.trace_spawn };

	for (size_t i = 0; i < NPROBES; i++) {
		int err;

		if (*nlinks == MAX_LINKS)
			return ai_err("attach to", path, -E2BIG);
		err = ai_attach_usdt(progs[i], pid, path, names[i], false, &links[*nlinks]);
		if (err)
			return err;
		(*nlinks)++;
	}
	return 0;
}

/* Detaches links[first..], newest first (spawn before the others); the maps stay. */
static void detach_from(struct bpf_link **links, size_t *nlinks, size_t first)
{
	while (*nlinks > first) {
		(*nlinks)--;
		bpf_link__destroy(links[*nlinks]);
		links[*nlinks] = NULL;
	}
}

static void detach_all(struct bpf_link **links, size_t *nlinks)
{
	detach_from(links, nlinks, 0);
}

/* ---- output ------------------------------------------------------------------------- */

/* Counters of one row at the previous table, to print per-interval deltas. */
struct prev_row {
	int32_t pid;
	uint64_t id; /* task id; for functions the row's index in `names` */
	uint64_t tasks, polls, busy, idle, sched;
};

static struct {
	struct prev_row *tasks, *funcs;
	size_t ntasks, nfuncs;
	char **names; /* function names, parallel to funcs */
} prev;

static void prev_free(void)
{
	for (size_t i = 0; i < prev.nfuncs; i++)
		free(prev.names[i]);
	free(prev.names);
	free(prev.tasks);
	free(prev.funcs);
	memset(&prev, 0, sizeof(prev));
}

static int cmp_prev_task(const void *a, const void *b)
{
	const struct prev_row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Turns the cumulative rows of `s` into what happened since the previous call (rows
 * without a poll in the interval are dropped) and remembers the cumulative values.
 */
static int to_interval(struct ai_summary *s)
{
	struct prev_row *pt = calloc(s->ntasks + 1, sizeof(*pt));
	struct prev_row *pf = calloc(s->nfuncs + 1, sizeof(*pf));
	char **names = calloc(s->nfuncs + 1, sizeof(*names));
	size_t n = 0;

	if (!pt || !pf || !names) {
		free(pt);
		free(pf);
		free(names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->ntasks; i++) {
		struct ai_sum_task *t = &s->tasks[i];

		pt[i] =
		    (struct prev_row){ t->pid,		 t->id, 0, t->polls, t->busy_ns, t->idle_ns,
				       t->sched_delay_ns };
	}
	for (size_t i = 0; i < s->nfuncs; i++) {
		struct ai_sum_function *f = &s->funcs[i];

		pf[i] = (struct prev_row){ f->pid,     i,	   f->tasks,	     f->polls,
					   f->busy_ns, f->idle_ns, f->sched_delay_ns };
		names[i] = ai_summary_strdup(f->name ? f->name : "?");
	}
	/* subtract the previous values (prev.tasks is sorted) */
	for (size_t i = 0; i < s->ntasks; i++) {
		struct ai_sum_task *t = &s->tasks[i];
		struct prev_row key = { .pid = t->pid, .id = t->id }, *p;

		p = prev.ntasks ? bsearch(&key, prev.tasks, prev.ntasks, sizeof(key), cmp_prev_task)
				: NULL;
		if (p) {
			t->polls -= p->polls;
			t->busy_ns -= p->busy;
			t->idle_ns -= p->idle;
			t->sched_delay_ns -= p->sched;
		}
	}
	for (size_t i = 0; i < s->nfuncs; i++) {
		struct ai_sum_function *f = &s->funcs[i];

		for (size_t j = 0; j < prev.nfuncs; j++) {
			struct prev_row *p = &prev.funcs[j];

			if (p->pid != f->pid || strcmp(prev.names[j], f->name ? f->name : "?"))
				continue;
			f->tasks -= p->tasks;
			f->polls -= p->polls;
			f->busy_ns -= p->busy;
			f->idle_ns -= p->idle;
			f->sched_delay_ns -= p->sched;
			break;
		}
	}
	prev_free();
	qsort(pt, s->ntasks, sizeof(*pt), cmp_prev_task);
	prev.tasks = pt;
	prev.ntasks = s->ntasks;
	prev.funcs = pf;
	prev.names = names;
	prev.nfuncs = s->nfuncs;

	/* keep the rows active in the interval (freeing the strings of the others) */
	for (size_t i = 0; i < s->ntasks; i++) {
		struct ai_sum_task *t = &s->tasks[i];

		if (t->polls)
			s->tasks[n++] = *t;
		else
			ai_summary_task_free_strings(t);
	}
	s->ntasks = n;
	n = 0;
	for (size_t i = 0; i < s->nfuncs; i++) {
		struct ai_sum_function *f = &s->funcs[i];

		if (f->polls)
			s->funcs[n++] = *f;
		else
			ai_summary_function_free_strings(f);
	}
	s->nfuncs = n;
	return 0;
}

static int print_interval(struct trace_ctx *c, int32_t pid, uint64_t since_ns)
{
	struct ai_summary s;
	FILE *out = env.json ? stderr : stdout;
	time_t now = time(NULL);
	struct tm tm;
	char ts[32], dur[32];
	int err;

	err = build_summary(c, &s, pid, false);
	if (!err)
		err = to_interval(&s);
	if (!err) {
		ai_summary_sort(&s, env.sum.sort);
		s.duration_ns = ai_now_ns() - since_ns;
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime_r(&now, &tm));
		fprintf(out, "%s  (the last %s)\n", ai_tx(ts),
			ai_fmt_duration(s.duration_ns, dur, sizeof(dur)));
		ai_summary_print_table(out, &s, env.sum.top);
	}
	ai_summary_free(&s);
	return err;
}

static int print_final(struct trace_ctx *c, int32_t pid)
{
	struct ai_summary s;
	struct ai_outfile of;
	FILE *out = stdout;
	int err;

	if (env.output) {
		err = ai_out_open(&of, env.output, AI_OUT_PUBLIC);
		if (err)
			return ai_err("create", env.output, err);
		out = of.f;
	}
	err = build_summary(c, &s, pid, true);
	if (!err) {
		if (env.json)
			ai_summary_print_json(out, &s, env.pretty);
		else
			ai_summary_print_text(out, &s, env.sum.top);
		if (ferror(out))
			err = -EIO;
	} else {
		ai_err("build", "the summary", err);
	}
	ai_summary_free(&s);
	if (env.output) {
		int e = ai_out_finish(&of, !err);

		if (e && !err)
			err = ai_err("write", env.output, e);
	}
	return err;
}

/* The wait stacks, named, as folded stacks weighted by ns waited (--folded-wait). */
static const char *fw_name(void *ctx, int32_t pid, uint64_t desc, char *buf, size_t len)
{
	struct proc_info *p = proc_get(ctx, (pid_t)pid);
	char *name = desc_function(p, desc);

	snprintf(buf, len, "%s", name ? name : "?");
	free(name);
	return buf;
}

static int write_folded_wait(struct trace_ctx *c, int32_t pid)
{
	struct ai_chains ch;
	int err;

	err = ai_chains_read(bpf_map__fd(c->skel->maps.chains), c->ncpus, &ch);
	if (err)
		return ai_err("read", "the await chains", err);
	err = ai_folded_wait_write(env.folded_wait, &ch, pid, fw_name, c);
	ai_chains_free(&ch);
	return err;
}

/* Waits for a child; its status the way a shell reports it. */
static int wait_child(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return AI_EXIT_FAIL;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : AI_EXIT_FAIL;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL); /* EINTR on Ctrl-C is fine: the loop checks ai_exiting */
}

/* ---- main flow ---------------------------------------------------------------------- */

int cmd_trace(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_opt, "[-- CMD [ARGS...]]", doc, NULL,
					  NULL, NULL };
	struct ai_child child = { .pid = -1, .go_fd = -1 };
	static struct lib_set libs;
	libbpf_print_fn_t prev_print = NULL;
	uint64_t probe_ino = 0;
	struct stat st;
	struct bpf_link *links[MAX_LINKS] = { 0 };
	struct bpf_link *iter = NULL;
	struct ai_rings_drainer drainer = { 0 };
	size_t nlinks = 0;
	struct trace_ctx c = { 0 };
	char path[PATH_MAX], exe[PATH_MAX];
	pid_t attach_pid = -1;
	int err, child_status = -1;
	uint64_t next_tick, last_tick, end_ns = 0;
	bool child_done = false;
	int32_t sum_pid;
	bool help;

	err = ai_tf_parse_args(&argp, argc, argv, NULL, &help);
	if (err)
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;
	ai_setup_libbpf_log();

	if (ai_check_bpf_privileges())
		return AI_EXIT_FAIL;
	/* refuse an unusable -o now, not after the whole measurement */
	if (env.output && (err = ai_out_check(env.output))) {
		ai_err("create", env.output, err);
		return AI_EXIT_FAIL;
	}
	/* the object holding the probes */
	if (env.system) {
		if (system_libs(&libs))
			return AI_EXIT_FAIL;
	} else if (ai_probe_target(env.pid, env.cmd ? env.cmd[0] : NULL, exe, sizeof(exe), path,
				   sizeof(path))) {
		return AI_EXIT_FAIL;
	}
	if (env.pid)
		attach_pid = env.pid;

	c.ncpus = libbpf_num_possible_cpus();
	if (c.ncpus <= 0) {
		ai_err("count", "possible CPUs", c.ncpus ? c.ncpus : -EINVAL);
		return AI_EXIT_FAIL;
	}
	c.skel = trace_bpf__open();
	if (!c.skel) {
		err = -errno;
		ai_err("open", "BPF programs", err);
		goto cleanup;
	}
	c.skel->rodata->long_poll_ns = env.sum.long_poll_ns;
	/* test hook: see bpf/trace.bpf.c and tests/bpf/test_trace_errors.sh */
	if (getenv("ASYNC_INSPECT_TEST_VERIFIER_REJECT"))
		c.skel->rodata->test_verifier_reject = 1;
	err = bpf_map__set_max_entries(c.skel->maps.tasks, env.max_tasks);
	if (err) {
		ai_err("size", "the task map", err);
		goto cleanup;
	}
	/* without -v, a failed load prints one line, not libbpf's copy of the verifier log */
	if (!ai_verbose)
		prev_print = libbpf_set_print(quiet_print);
	err = trace_bpf__load(c.skel);
	if (!ai_verbose)
		libbpf_set_print(prev_print);
	if (err) {
		ai_errorf("failed to load 'BPF programs': %s%s", strerror(-err),
			  ai_verbose ? "" : " (run with -v for the libbpf and verifier log)");
		goto cleanup;
	}

	ai_handle_signals();
	c.skel->bss->start_ns = ai_now_ns(); /* polls before it are not "previous polls" */
	/* the rings the targets have already: read from their present head on */
	if (env.pid && env.ring_slots && (err = ai_rings_set_slots(env.pid, env.ring_slots)))
		ai_warnf("cannot set the ring size of PID %d: %s", (int)env.pid, strerror(-err));
	if (env.pid && (err = ai_rings_follow(bpf_map__fd(c.skel->maps.rings), env.pid, false)))
		ai_warnf("cannot read the poll rings of PID %d: %s", (int)env.pid, strerror(-err));
	if (env.system)
		ai_rings_follow_all(bpf_map__fd(c.skel->maps.rings), false);
	if (env.cmd && env.ring_slots) {
		char v[16];

		snprintf(v, sizeof(v), "%u", env.ring_slots);
		setenv("ASYNC_RING_SLOTS", v, 1);
	}
	if (env.cmd) {
		err = ai_child_spawn(env.cmd, &child);
		if (err) {
			ai_err("start", env.cmd[0], err);
			goto cleanup;
		}
		attach_pid = child.pid;
	}
	if (env.system) {
		/* a copy that vanished since the scan is skipped; one attached is enough */
		size_t attached = 0;

		for (size_t i = 0; i < libs.n; i++) {
			size_t before = nlinks;

			if (attach_all(c.skel, -1, libs.paths[i], links, &nlinks)) {
				detach_from(links, &nlinks, before);
				continue;
			}
			attached++;
		}
		err = attached ? 0 : -ENOENT;
	} else {
		err = attach_all(c.skel, attach_pid, path, links, &nlinks);
	}
	if (err)
		goto cleanup;
	/* rings allocated while the ring probe was being attached */
	if (env.pid)
		ai_rings_follow(bpf_map__fd(c.skel->maps.rings), env.pid, true);
	if (env.system)
		ai_rings_follow_all(bpf_map__fd(c.skel->maps.rings), true);
	err = ai_rings_attach_iter(c.skel->progs.trace_drain, env.system ? 0 : attach_pid, &iter);
	if (!err)
		err = ai_rings_drainer_start(&drainer, iter);
	if (err) {
		ai_err("attach", "the ring iterator", err);
		goto cleanup;
	}
	c.start_ns = c.skel->bss->start_ns; /* the window starts where counting starts */
	if (env.cmd) {
		err = ai_child_start(&child);
		if (err) {
			ai_err("start", env.cmd[0], err);
			goto cleanup;
		}
		if (!stat(path, &st))
			probe_ino = st.st_ino;
	}
	if (!env.system) {
		/* procs[0] is the traced process */
		struct proc_info *p = proc_get(&c, attach_pid);

		if (!p) {
			err = -ENOMEM;
			ai_err("allocate", "process table", err);
			goto cleanup;
		}
		if (env.pid)
			proc_load_descs(p);
	}

	sum_pid = env.system ? -1 : (int32_t)attach_pid;
	if (!env.json && !env.output) {
		if (env.system)
			fprintf(stderr, "Tracing every process using %s%s... Ctrl-C to end.\n",
				ai_tx(libs.paths[0]), libs.n > 1 ? " (and other copies)" : "");
		else if (env.pid)
			fprintf(stderr, "Tracing PID %d... Ctrl-C to end.\n", (int)env.pid);
	}
	if (env.duration > 0)
		end_ns = c.start_ns + (uint64_t)(env.duration * 1e9);
	next_tick = env.interval > 0 ? c.start_ns + (uint64_t)(env.interval * 1e9) : 0;
	last_tick = c.start_ns;

	while (!ai_exiting) {
		uint64_t now = ai_now_ns(), wait = 10000000ull; /* 10 ms */

		if (env.cmd) {
			int r = ai_child_reap(&child, &child_status);

			if (r == 1) {
				child_done = true;
				break;
			}
			if (!c.procs[0].descs) {
				proc_load_descs_ino(&c.procs[0], probe_ino);
				wait = 1000000ull; /* catch the mappings before it can exit */
			}
		} else if (env.pid) {
			if (!ai_proc_alive(env.pid)) {
				c.procs[0].exited = true;
				break;
			}
		} else {
			discover_procs(&c);
		}
		if (end_ns && now >= end_ns)
			break;
		if (next_tick && now >= next_tick) {
			err = print_interval(&c, sum_pid, last_tick);
			last_tick = now;
			if (err) {
				ai_err("print", "the table", err);
				goto cleanup;
			}
			next_tick += (uint64_t)(env.interval * 1e9);
		}
		if (end_ns && end_ns - now < wait)
			wait = end_ns - now;
		if (next_tick && next_tick > now && next_tick - now < wait)
			wait = next_tick - now;
		sleep_ns(wait);
	}

	if (env.cmd && !child_done) {
		/* Ctrl-C or -d: the command got the same SIGINT (one process group) or keeps
		 * running; report now, then wait for it if it is ending anyway. */
		if (ai_child_reap(&child, &child_status) == 1)
			child_done = true;
	}
	if (env.cmd && child_done) {
		c.procs[0].exited = true;
		c.procs[0].exit_status = child_status;
		if (!c.procs[0].descs)
			names_from_files(&c, &c.procs[0], exe, path);
	}
	if (env.system)
		discover_procs(&c);
	/* a consistent snapshot: stop updating the maps before reading them; polls that
	 * ended before the stop are still in the rings: drain them first */
	c.end_ns = ai_now_ns();
	c.skel->bss->stop_ns = c.end_ns;
	ai_rings_drainer_stop(&drainer);
	ai_rings_drain(iter);
	c.skel->bss->rings_stopped = 1;
	if (!child_done)
		detach_all(links, &nlinks); /* slow (uprobe unregistration): only if needed */
	err = print_final(&c, sum_pid);
	if (!err && env.folded_wait)
		err = write_folded_wait(&c, sum_pid);

cleanup:
	ai_rings_drainer_stop(&drainer);
	bpf_link__destroy(iter);
	detach_all(links, &nlinks);
	trace_bpf__destroy(c.skel);
	if (env.cmd && child.pid > 0 && !child_done) {
		if (child.go_fd >= 0) {
			/* never started: closing the pipe makes it exit at once */
			close(child.go_fd);
			child.go_fd = -1;
			wait_child(child.pid);
		} else if (!err) {
			/*
			 * -d: it runs to its end. A signal: Ctrl-C in a terminal reached it
			 * too; if it was sent to us alone, pass SIGTERM on after a grace
			 * period. Either way its status is ours.
			 */
			if (ai_exiting) {
				for (int i = 0; i < 50 && !child_done; i++) {
					if (ai_child_reap(&child, &child_status) == 1)
						child_done = true;
					else
						sleep_ns(10000000ull);
				}
				if (!child_done)
					kill(child.pid, SIGTERM);
			}
			if (!child_done)
				child_status = wait_child(child.pid);
			child_done = true;
		}
		/* else: tracing failed; the command keeps running untraced */
	}
	for (size_t i = 0; i < c.nprocs; i++)
		proc_free(&c.procs[i]);
	free(c.procs);
	prev_free();
	if (err)
		return AI_EXIT_FAIL;
	if (env.cmd && child_done)
		return child_status;
	return AI_EXIT_OK;
}
