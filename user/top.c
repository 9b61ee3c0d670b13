/* SPDX-License-Identifier: MIT */
/*
 * async-inspect top (-p PID | -- CMD ARGS): a live, refreshing table of the tasks of a
 * libasync process, like top or tokio-console's task list. Every refresh reads the
 * runtime's registry (state, time in it, polls, where each task waits); busy, sched and
 * idle time come from trace's BPF programs (bpf/trace.bpf.c, per-task map) attached to
 * the process' probes. Keys sort the table; q quits.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "async/abi.h"
#include "commands.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "names.h"
#include "proc.h"
#include "snapshot.h"
#include "taskfmt.h"
#include "bpf/trace.h"
#include "trace.skel.h"
#include "waitgraph.h"

#define LONG_POLL_NS  10000000ull /* a poll this long blocks its worker: warned */
#define SELF_WAKE_PCT 50

enum sort_key { SORT_BUSY, SORT_POLLS, SORT_SCHED, SORT_IDLE, SORT_TIME, SORT_ID };

struct top_args {
	pid_t pid;
	char **cmd;
	uint64_t interval_ns;
	long iterations; /* 0: until q or Ctrl-C */
	enum sort_key sort;
	bool no_bpf;
	bool batch;
};

static const char doc[] =
    "A live, refreshing table of the tasks of a libasync process (like top, or "
    "tokio-console's task list): state and time in it, busy time (being polled), "
    "scheduling delay (woken -> polled), idle time, polls, polls per second, the await "
    "point each task waits at, and warnings (long polls that block a worker, tasks "
    "that mostly wake themselves, tasks in a circular wait). Busy, sched and idle need "
    "BPF (root) and count from when top attached.\n\n"
    "Keys: b busy, p polls, s sched, i idle, t time in state, n id (sort); r reverse; "
    "q quit.\v"
    "EXAMPLES:\n"
    "  sudo async-inspect top -p 1234               # watch a running process\n"
    "  sudo async-inspect top -- ./server --port 80 # start it and watch it\n"
    "  sudo async-inspect top -p 1234 -b -n 3       # 3 plain-text tables, no ANSI\n";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to watch", 0 },
	{ "interval", 'i', "SECS", 0, "Refresh interval (default 1)", 0 },
	{ "iterations", 'n', "N", 0, "Stop after N refreshes", 0 },
	{ "sort", 's', "KEY", 0, "Initial sort: busy, polls, sched, idle, time, id (default busy)",
	  0 },
	{ "batch", 'b', NULL, 0, "Plain text, one table per refresh (default when not a tty)", 0 },
	{ "no-bpf", 'N', NULL, 0, "Registry only: no busy/sched/idle columns", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose diagnostics (libbpf debug output)", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	static const char *const sorts[] = { "busy", "polls", "sched", "idle", "time", "id" };
	struct top_args *a = state->input;
	uint64_t v;

	switch (key) {
	case 'p':
		return ai_tf_parse_pid(arg, &a->pid) ? AI_TF_ARG_REPORTED : 0;
	case 'i':
		if (ai_tf_parse_secs("-i", arg, &a->interval_ns))
			return AI_TF_ARG_REPORTED;
		if (a->interval_ns < 50000000ull) {
			ai_errorf("failed to parse -i '%s': the interval must be >= 0.05 s", arg);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	case 'n':
		if (!ai_parse_u64(arg, &v) || !v || v > LONG_MAX) {
			ai_errorf("failed to parse -n '%s': not a positive count", arg);
			return AI_TF_ARG_REPORTED;
		}
		a->iterations = (long)v;
		return 0;
	case 's':
		for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
			if (!strcmp(arg, sorts[i])) {
				a->sort = (enum sort_key)i;
				return 0;
			}
		}
		ai_errorf("failed to parse --sort '%s': one of busy, polls, sched, idle, time, id",
			  arg);
		return AI_TF_ARG_REPORTED;
	case 'b':
		a->batch = true;
		return 0;
	case 'N':
		a->no_bpf = true;
		return 0;
	case 'v':
		ai_verbose = true;
		return 0;
	case ARGP_KEY_ARGS:
		a->cmd = state->argv + state->next;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (!a->pid == !a->cmd) {
			ai_errorf(
			    "give either -p PID or -- CMD ARGS (see 'async-inspect top --help')");
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp argp = { options, parse_arg, "[-- CMD [ARGS...]]", doc, NULL, NULL, NULL };

/* ---- one refresh ------------------------------------------------------------------ */

struct row {
	const struct ai_snap_task *t;
	struct trace_task bt; /* zero without BPF or when not seen yet */
	bool have_bt;
	uint64_t in_state;
	double pps;
	char warn[64];
};

struct prev {
	uint64_t id, polls;
};

struct top {
	struct top_args a;
	pid_t pid;
	uint64_t reg;
	bool have_reg;
	struct ai_proc_descs *descs;
	struct trace_bpf *skel;
	struct bpf_link *links[4];
	bool bpf;
	char bpf_note[160];
	struct prev *prev;
	size_t nprev;
	uint64_t prev_ns;
	bool reverse;
	bool tty;
	struct termios saved;
	bool raw;
	char comm[32];
};

static int cmp_prev(const void *a, const void *b)
{
	const struct prev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static enum sort_key g_sort;
static bool g_reverse;

static uint64_t sort_value(const struct row *r)
{
	switch (g_sort) {
	case SORT_BUSY:
		return r->bt.busy_ns;
	case SORT_POLLS:
		return r->t->abi.polls;
	case SORT_SCHED:
		return r->bt.sched_ns;
	case SORT_IDLE:
		return r->bt.idle_ns;
	case SORT_TIME:
		return r->in_state;
	case SORT_ID:
		return UINT64_MAX - r->t->abi.id; /* ascending ids */
	}
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint64_t vx = sort_value(x), vy = sort_value(y);
	int c = vx > vy ? -1 : vx < vy ? 1 : 0;

	if (!c)
		c = x->t->abi.id < y->t->abi.id ? -1 : 1;
	return g_reverse ? -c : c;
}

static void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 120;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Prints one line cut to the terminal's width. */
static void line(const struct top *tp, int cols, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(const struct top *tp, int cols, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (tp->tty && cols > 0 && (int)strlen(buf) > cols)
		buf[cols] = '\0';
	fputs(buf, stdout);
	if (tp->tty)
		fputs("\033[K", stdout);
	fputc('\n', stdout);
}

static const char *dur(uint64_t ns, char *buf, size_t len, bool have)
{
	if (!have)
		return "-";
	return ai_fmt_duration(ns, buf, len);
}

static void render(struct top *tp, const struct ai_snapshot *s, struct row *rows, size_t n,
		   size_t ncycles, uint64_t elapsed_ns)
{
	static const char *const sort_names[] = { "busy", "polls", "sched", "idle", "time", "id" };
	struct ai_taskfmt tf = { s, tp->descs };
	int trows, cols, shown = 0;
	char d1[32], d2[32], d3[32], d4[32];
	size_t running = 0, idle = 0, sched = 0;

	term_size(&trows, &cols);
	for (size_t i = 0; i < n; i++) {
		running += rows[i].t->abi.state == ASYNC_TASK_RUNNING;
		sched += rows[i].t->abi.state == ASYNC_TASK_SCHEDULED;
		idle += rows[i].t->abi.state == ASYNC_TASK_IDLE;
	}
	if (tp->tty)
		fputs("\033[H", stdout);
	line(tp, cols, "async-inspect top - PID %d (%s) - %s%s", (int)tp->pid, ai_tx(tp->comm),
	     ai_fmt_duration(elapsed_ns, d1, sizeof(d1)),
	     ncycles ? "   DEADLOCK: circular wait" : "");
	line(tp, cols,
	     "Tasks: %zu live (%zu running, %zu scheduled, %zu idle), %" PRIu64
	     " spawned   Threads: %zu   Sort: %s%s",
	     n, running, sched, idle, (uint64_t)s->reg.spawned_tasks, s->nthreads,
	     ai_tx(sort_names[g_sort]), g_reverse ? " (reversed)" : "");
	line(tp, cols, "%s",
	     ai_tx(tp->bpf ? "busy/sched/idle: since top attached (BPF)" : tp->bpf_note));
	line(tp, cols, "%s",
	     tp->tty ? "keys: b busy  p polls  s sched  i idle  t time  n id  r reverse  q quit"
		     : "");
	if (tp->tty)
		fputs("\033[7m", stdout);
	line(tp, cols, "%7s %-16s %-28s %8s %8s %8s %8s %8s %7s  %-28s %s", "ID", "TASK", "STATE",
	     "IN STATE", "BUSY", "SCHED", "IDLE", "POLLS", "POLLS/s", "LOCATION", "WARNINGS");
	if (tp->tty)
		fputs("\033[0m", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char fn[128], st[160], loc[256];
		const char *l;

		if (tp->tty && shown >= trows - 6) {
			line(tp, cols, "  ... %zu more", n - i);
			break;
		}
		ai_tf_function(&tf, r->t, fn, sizeof(fn));
		ai_tf_state(&tf, r->t, st, sizeof(st));
		l = ai_tf_leaf_location(&tf, r->t, loc, sizeof(loc));
		line(tp, cols,
		     "%7" PRIu64 " %-16.16s %-28.28s %8s %8s %8s %8s %8" PRIu64
		     " %7.1f  %-28.28s %s",
		     (uint64_t)r->t->abi.id, ai_tx(fn), ai_tx(st),
		     ai_fmt_duration(r->in_state, d1, sizeof(d1)),
		     ai_tx(dur(r->bt.busy_ns, d2, sizeof(d2), r->have_bt)),
		     ai_tx(dur(r->bt.sched_ns, d3, sizeof(d3), r->have_bt)),
		     ai_tx(dur(r->bt.idle_ns, d4, sizeof(d4), r->have_bt)),
		     (uint64_t)r->t->abi.polls, r->pps, ai_tx(l ? l : "-"), ai_tx(r->warn));
		shown++;
	}
	if (tp->tty)
		fputs("\033[J", stdout);
	else
		fputc('\n', stdout);
	fflush(stdout);
}

static bool task_in_cycle(const struct ai_waitgraph *g, size_t idx)
{
	for (size_t k = 0; k < g->ncycles; k++)
		for (size_t i = 0; i < g->cycles[k].len; i++)
			if (g->cycles[k].nodes[i] == idx)
				return true;
	return false;
}

/* Takes a snapshot and draws it. -ESRCH once the process is gone. */
static int refresh(struct top *tp, uint64_t start_ns)
{
	struct ai_snapshot *s = NULL;
	struct ai_waitgraph *g = NULL;
	struct row *rows = NULL;
	struct prev *np = NULL;
	uint64_t now;
	double dt;
	int err;

	err = ai_snapshot_take(tp->pid, tp->reg, NULL, &s);
	if (err)
		return err;
	now = s->taken_ns;
	dt = tp->prev_ns ? (now - tp->prev_ns) / 1e9 : 0;
	rows = calloc(s->ntasks + 1, sizeof(*rows));
	np = calloc(s->ntasks + 1, sizeof(*np));
	if (!rows || !np) {
		err = -ENOMEM;
		goto out;
	}
	if (!ai_wg_from_snapshot(s, &g))
		ai_wg_find_cycles(g, 0);
	for (size_t i = 0; i < s->ntasks; i++) {
		struct row *r = &rows[i];
		const struct ai_snap_task *t = &s->tasks[i];
		struct prev key = { t->abi.id, 0 }, *p;
		size_t off = 0;

		r->t = t;
		r->in_state = ai_snap_task_in_state(s, t);
		if (tp->bpf) {
			struct trace_key k = { .pid = (__u32)tp->pid, .id = t->abi.id };

			r->have_bt =
			    !bpf_map_lookup_elem(bpf_map__fd(tp->skel->maps.tasks), &k, &r->bt);
			if (!r->have_bt)
				memset(&r->bt, 0, sizeof(r->bt));
			r->have_bt = true; /* not seen since attach: it did nothing since */
		}
		p = tp->nprev ? bsearch(&key, tp->prev, tp->nprev, sizeof(*tp->prev), cmp_prev)
			      : NULL;
		if (p && dt > 0 && t->abi.polls >= p->polls)
			r->pps = (t->abi.polls - p->polls) / dt;
		np[i] = (struct prev){ t->abi.id, t->abi.polls };
		if (g && task_in_cycle(g, i))
			off += snprintf(r->warn + off, sizeof(r->warn) - off, "DEADLOCK ");
		if (r->bt.max_poll_ns > LONG_POLL_NS) {
			char d[32];

			off += snprintf(r->warn + off, sizeof(r->warn) - off, "long-poll:%s ",
					ai_fmt_duration(r->bt.max_poll_ns, d, sizeof(d)));
		}
		if (off < sizeof(r->warn) && r->bt.wakes_self + r->bt.wakes_other >= 10 &&
		    r->bt.wakes_self * 100 > SELF_WAKE_PCT * (r->bt.wakes_self + r->bt.wakes_other))
			snprintf(r->warn + off, sizeof(r->warn) - off, "self-wakes:%" PRIu64 "%% ",
				 (uint64_t)(r->bt.wakes_self * 100 /
					    (r->bt.wakes_self + r->bt.wakes_other)));
	}
	g_sort = tp->a.sort;
	g_reverse = tp->reverse;
	if (s->ntasks > 1)
		qsort(rows, s->ntasks, sizeof(*rows), cmp_row);
	render(tp, s, rows, s->ntasks, g ? g->ncycles : 0, now - start_ns);
	free(tp->prev);
	tp->prev = np; /* already sorted by id: the snapshot is */
	tp->nprev = s->ntasks;
	tp->prev_ns = now;
	np = NULL;
out:
	free(np);
	free(rows);
	ai_wg_free(g);
	ai_snapshot_free(s);
	return err;
}

/* ---- terminal --------------------------------------------------------------------- */

static void term_raw(struct top *tp)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &tp->saved))
		return;
	t = tp->saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		tp->raw = true;
}

static void term_restore(struct top *tp)
{
	if (tp->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &tp->saved);
	tp->raw = false;
	if (tp->tty) {
		fputs("\033[?25h\033[?1049l", stdout); /* cursor back, main screen */
		fflush(stdout);
		tp->tty = false; /* once */
	}
}

/* Waits up to ns for a key; handles it. Returns true to refresh now. */
static bool wait_key(struct top *tp, uint64_t ns, bool *quit)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int ms = (int)(ns / 1000000ull);
	char c;

	if (!tp->raw) {
		struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

		nanosleep(&ts, NULL);
		return false;
	}
	if (poll(&pfd, 1, ms) <= 0 || read(STDIN_FILENO, &c, 1) != 1)
		return false;
	switch (c) {
	case 'q':
	case 'Q':
		*quit = true;
		return false;
	case 'b':
		tp->a.sort = SORT_BUSY;
		return true;
	case 'p':
		tp->a.sort = SORT_POLLS;
		return true;
	case 's':
		tp->a.sort = SORT_SCHED;
		return true;
	case 'i':
		tp->a.sort = SORT_IDLE;
		return true;
	case 't':
		tp->a.sort = SORT_TIME;
		return true;
	case 'n':
		tp->a.sort = SORT_ID;
		return true;
	case 'r':
		tp->reverse = !tp->reverse;
		return true;
	}
	return false;
}

/* ---- BPF -------------------------------------------------------------------------- */

static int bpf_start(struct top *tp, const char *path)
{
	static const char *const names[] = { "poll", "task_spawn", "task_done", "wait" };
	struct bpf_program *progs[4];
	int err;

	tp->skel = trace_bpf__open();
	if (!tp->skel)
		return ai_err("open", "trace BPF programs", -errno);
	tp->skel->rodata->long_poll_ns = LONG_POLL_NS;
	err = trace_bpf__load(tp->skel);
	if (err)
		return ai_err("load", "trace BPF programs", err);
	progs[0] = tp->skel->progs.trace_poll;
	progs[1] = tp->skel->progs.trace_spawn;
	progs[2] = tp->skel->progs.trace_done;
	progs[3] = tp->skel->progs.trace_wait;
	err = ai_tf_attach_usdt(progs, names, 4, tp->pid, path, tp->links);
	if (err)
		return err;
	tp->bpf = true;
	return 0;
}

static void bpf_stop(struct top *tp)
{
	for (size_t i = 0; i < 4; i++) {
		bpf_link__destroy(tp->links[i]);
		tp->links[i] = NULL;
	}
	trace_bpf__destroy(tp->skel);
	tp->skel = NULL;
	tp->bpf = false;
}

/* ---- main flow -------------------------------------------------------------------- */

/* The process has exited: no such PID, or a zombie its parent has not reaped yet. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool gone = true;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')'); /* the state follows the command name */
		gone = !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
	}
	fclose(f);
	return gone;
}

int cmd_top(int argc, char **argv)
{
	struct top tp = { .a = { .interval_ns = 1000000000ull } };
	struct ai_child child = { .pid = -1, .go_fd = -1 };
	char path[PATH_MAX], exe[PATH_MAX], what[PATH_MAX + 32];
	int err = 0, child_status = 0;
	bool help, quit = false, child_done = false;
	uint64_t start_ns, next_ns;
	long done_iters = 0;

	if (ai_tf_parse_args(&argp, argc, argv, &tp.a, &help))
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;
	ai_setup_libbpf_log();
	tp.tty = !tp.a.batch && isatty(STDOUT_FILENO);

	if (tp.a.pid) {
		err = ai_tf_open(tp.a.pid, &tp.reg, &tp.descs);
		if (err)
			return AI_EXIT_FAIL;
		tp.have_reg = true;
		tp.pid = tp.a.pid;
		if (!tp.a.no_bpf)
			err = ai_proc_find_libasync(tp.pid, path, sizeof(path));
	} else {
		err = ai_exec_resolve(tp.a.cmd[0], exe, sizeof(exe));
		if (err) {
			ai_err("find command", tp.a.cmd[0], err);
			return AI_EXIT_FAIL;
		}
		err = ai_exec_find_libasync(exe, path, sizeof(path));
		if (err == -ENOENT) {
			ai_errorf("'%s' has no libasync probes: link it with libasync (-lasync)",
				  exe);
			return AI_EXIT_FAIL;
		}
		if (err) {
			ai_err("read", exe, err);
			return AI_EXIT_FAIL;
		}
	}
	ai_handle_signals();
	if (tp.a.cmd) {
		err = ai_child_spawn(tp.a.cmd, &child);
		if (err) {
			ai_err("start", tp.a.cmd[0], err);
			return AI_EXIT_FAIL;
		}
		tp.pid = child.pid;
	}
	snprintf(tp.bpf_note, sizeof(tp.bpf_note), "busy/sched/idle: not measured (--no-bpf)");
	if (!tp.a.no_bpf && !err) {
		if (ai_check_bpf_privileges()) {
			snprintf(tp.bpf_note, sizeof(tp.bpf_note),
				 "busy/sched/idle: not measured (BPF needs root)");
		} else {
			err = bpf_start(&tp, path); /* prints its error */
			if (err)
				goto cleanup;
		}
	}
	err = 0;
	if (tp.a.cmd) {
		err = ai_child_start(&child);
		if (err) {
			ai_err("start", tp.a.cmd[0], err);
			goto cleanup;
		}
	}
	ai_proc_comm(tp.pid, tp.comm, sizeof(tp.comm));
	if (tp.tty) {
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alternate screen */
		term_raw(&tp);
	}

	start_ns = ai_now_ns();
	next_ns = start_ns;
	while (!ai_exiting && !quit) {
		uint64_t now = ai_now_ns();

		if (tp.a.cmd && ai_child_reap(&child, &child_status) == 1) {
			child_done = true;
			break;
		}
		if (!tp.have_reg) {
			/* -- CMD: the registry exists once the dynamic loader mapped libasync */
			if (!ai_snapshot_locate(tp.pid, &tp.reg)) {
				tp.have_reg = true;
				ai_proc_descs_load(tp.pid, &tp.descs);
				ai_proc_comm(tp.pid, tp.comm, sizeof(tp.comm));
			} else {
				wait_key(&tp, 10000000ull, &quit);
				continue;
			}
		}
		if (now >= next_ns) {
			err = refresh(&tp, start_ns);
			if (err) {
				if (tp.a.cmd) {
					/* exiting: reaped on the next turn, its status ours */
					err = 0;
					wait_key(&tp, 10000000ull, &quit);
					continue;
				}
				term_restore(&tp);
				snprintf(what, sizeof(what), "%d", (int)tp.pid);
				if (process_gone(tp.pid)) {
					/* the watched process ended: not an error of top's */
					fprintf(stderr, "async-inspect: process %d exited\n",
						(int)tp.pid);
					err = 0;
				} else {
					ai_err("read the registry of process", what, err);
				}
				goto cleanup;
			}
			next_ns = now + tp.a.interval_ns;
			if (tp.a.iterations && ++done_iters >= tp.a.iterations)
				break;
			continue;
		}
		if (wait_key(&tp, next_ns - now < 100000000ull ? next_ns - now : 100000000ull,
			     &quit))
			next_ns = 0; /* a sort key: redraw at once */
	}
cleanup:
	term_restore(&tp);
	bpf_stop(&tp);
	free(tp.prev);
	ai_proc_descs_free(tp.descs);
	if (tp.a.cmd && child.pid > 0 && !child_done) {
		/* q, Ctrl-C, -n or an error: the command top started ends with it */
		if (child.go_fd >= 0) {
			close(child.go_fd); /* never started: it exits on its own */
			child.go_fd = -1;
		}
		kill(child.pid, SIGTERM);
		for (int i = 0; i < 400; i++) {
			struct timespec ts = { 0, 10000000 };

			if (ai_child_reap(&child, &child_status))
				break; /* reaped, or it cannot be waited for */
			if (i == 200)
				kill(child.pid, SIGKILL);
			nanosleep(&ts, NULL);
		}
	} else if (tp.a.cmd && child_done && !err) {
		return child_status; /* it ended by itself: pass its status on */
	}
	return err ? AI_EXIT_FAIL : AI_EXIT_OK;
}
