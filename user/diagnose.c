/* SPDX-License-Identifier: MIT */
/*
 * async-inspect diagnose (-p PID | -- CMD ARGS) [-d SECS]: watches a libasync process
 * for a while and prints what is wrong with it, most severe first: each finding names
 * the tasks, the async function and the innermost await point with file:line, the
 * await chain above it, the evidence and what usually causes it.
 *
 * The evidence comes from registry snapshots taken every -i seconds over the window
 * (findings.c), so a bug that began before the tool attached is found too: nothing has
 * to be seen happening. Exit status: 0 nothing found, 1 findings, 2 error.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "commands.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "findings.h"
#include "json.h"
#include "names.h"
#include "pollwatch.h"
#include "proc.h"
#include "snapshot.h"
#include "taskfmt.h"

#define EXIT_FOUND    1
#define EXIT_ERROR    2
#define MAX_SNAPSHOTS 11
#define MAX_TORN      50 /* snapshots of a busy list taken again before giving up */

#define TICK_NS 2000000ull /* how often the worker threads' records are read */

struct diagnose_args {
	pid_t pid;
	char **cmd;
	bool json;
	uint64_t duration_ns;
	uint64_t interval_ns;
	uint64_t long_poll_ns;
};

enum { OPT_LONG_POLL = 0x100 };

static const char doc[] =
    "Watch a libasync process for -d seconds and print what is wrong with it, most severe "
    "first: deadlocks (circular waits through mutexes, JoinHandles and channels), lost "
    "wake-ups (a pending task that nothing can ever wake: no live waker, or a mutex held "
    "by a task that has ended), stall chains "
    "(tasks held up by a task that is itself waiting: named after the one at the root) and "
    "task leaks (tasks piling up at one await point, none completing), polls that block the "
    "executor (split into time on the CPU, blocked in the kernel, with the system call "
    "and kernel function, and preempted; polls made long only by preemption or a CPU "
    "quota are reported as such, not as blocking). Each finding names "
    "the tasks, the async function, the innermost await point (file:line) with the await "
    "chain above it, the evidence, and what usually causes it. Bugs that began before "
    "async-inspect attached are found too. Exit status: 0 nothing found, 1 findings, 2 "
    "error.\v"
    "EXAMPLES:\n"
    "  sudo async-inspect diagnose -p 1234           # 5 s of watching, then the findings\n"
    "  sudo async-inspect diagnose -p 1234 -d 30     # a longer window\n"
    "  sudo async-inspect diagnose -- ./server       # start it, watch it, stop it\n"
    "  sudo async-inspect diagnose -p 1234 --json    # JSON (docs/diagnose.md)\n";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to diagnose", 0 },
	{ "duration", 'd', "SECS", 0, "How long to watch (default 5)", 0 },
	{ "interval", 'i', "SECS", 0, "Time between registry snapshots (default 1)", 0 },
	{ "long-poll", OPT_LONG_POLL, "MS", 0,
	  "A poll that keeps its worker this long blocks the executor (default 10)", 0 },
	{ "json", 'j', NULL, 0, "Print one JSON document", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose diagnostics", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct diagnose_args *a = state->input;

	switch (key) {
	case 'p':
		return ai_tf_parse_pid(arg, &a->pid) ? AI_TF_ARG_REPORTED : 0;
	case 'd':
		if (ai_tf_parse_secs("-d", arg, &a->duration_ns))
			return AI_TF_ARG_REPORTED;
		if (a->duration_ns < 100000000ull || a->duration_ns > 3600 * 1000000000ull) {
			ai_errorf("failed to parse -d '%s': must be 0.1 to 3600 seconds", arg);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	case 'i':
		if (ai_tf_parse_secs("-i", arg, &a->interval_ns))
			return AI_TF_ARG_REPORTED;
		if (a->interval_ns < 50000000ull) {
			ai_errorf("failed to parse -i '%s': must be at least 0.05 seconds", arg);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	case 'j':
		a->json = true;
		return 0;
	case OPT_LONG_POLL: {
		uint64_t ms;

		if (!ai_parse_u64(arg, &ms) || !ms || ms > 60000) {
			ai_errorf("failed to parse --long-poll '%s': must be 1 to 60000 ms", arg);
			return AI_TF_ARG_REPORTED;
		}
		a->long_poll_ns = ms * 1000000ull;
		return 0;
	}
	case ARGP_KEY_ARG:
		a->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (!a->pid == !a->cmd) {
			ai_errorf("%s (see 'async-inspect diagnose --help')",
				  a->pid ? "give only one of -p PID and -- CMD ARGS"
					 : "nothing to diagnose: give -p PID or -- CMD ARGS");
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	}
	return ai_tf_parse_pid_cmd_key("diagnose", key, arg, a->pid);
}

static const struct argp argp = { options, parse_arg, NULL, doc, NULL, NULL, NULL };

/* ---- the target ------------------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL); /* EINTR on Ctrl-C: the caller checks ai_exiting */
}

/* Starts `-- CMD` and waits until its registry exists (libasync initialised). */
static int start_command(char **cmd, struct ai_child *child, uint64_t *reg)
{
	char exe[4096];
	int err = ai_exec_resolve(cmd[0], exe, sizeof(exe)), status;

	if (err)
		return ai_err("find command", cmd[0], err);
	err = ai_child_spawn(cmd, child);
	if (err)
		return ai_err("start", cmd[0], err);
	err = ai_child_start(child);
	if (err)
		return ai_err("start", cmd[0], err);
	for (int i = 0; i < 200 && !ai_exiting; i++) {
		if (ai_child_reap(child, &status) == 1) {
			child->pid = -1;
			ai_errorf("failed to diagnose '%s': it exited (status %d) before its "
				  "runtime started",
				  cmd[0], status);
			return -ECHILD;
		}
		if (!ai_snapshot_locate(child->pid, reg))
			return 0;
		sleep_ns(25000000ull);
	}
	ai_errorf("failed to find 'the libasync registry of %s': %s", cmd[0],
		  ai_snapshot_strerror(-ENOENT));
	return -ENOENT;
}

/* The one way a started command ends: SIGINT, a grace period, then SIGTERM, SIGKILL. */
static void finish_command(struct ai_child *child)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGKILL };
	int status;

	if (child->pid <= 0)
		return;
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++) {
		if (ai_child_reap(child, &status) == 1)
			return;
		kill(child->pid, sigs[k]);
		for (int i = 0; i < 40; i++) {
			if (ai_child_reap(child, &status) == 1)
				return;
			sleep_ns(50000000ull);
		}
	}
	waitpid(child->pid, &status, 0);
}

/* ---- text ------------------------------------------------------------------------------- */

static const char *cause(enum ai_finding_kind kind)
{
	switch (kind) {
	case AI_FINDING_DEADLOCK:
		return "the tasks take the same locks (or wait for each other's results) in "
		       "different orders; take them in one order everywhere, or do not hold "
		       "one across the await of the other";
	case AI_FINDING_LOST_WAKE:
		return "a hand-written future returned ASYNC_PENDING without keeping a waker "
		       "(async_waker_clone) anywhere, or dropped it without waking";
	case AI_FINDING_ORPHAN_LOCK:
		return "a task returned (or was aborted) between async_lock and "
		       "async_mutex_unlock: an early return or error path that skips the unlock";
	case AI_FINDING_STALL:
		return "the task at the root holds what the others need (a lock, the other end "
		       "of a channel) while it waits itself; release it before awaiting, or "
		       "make the wait bounded";
	case AI_FINDING_BLOCKING:
		return "a blocking call (sleep, blocking file or socket I/O, a plain mutex) or a "
		       "long computation inside a poll holds the worker and every task queued on "
		       "it; move it to async_spawn_blocking, or split the work with ASYNC_YIELD";
	case AI_FINDING_LEAK:
		return "tasks are spawned faster than they finish and wait for something that "
		       "never comes (a reply, a close, a timeout that is not set)";
	case AI_FINDING_PREEMPTION:
		return "the workers were runnable but did not run: other processes on their "
		       "CPUs, or a CPU quota (cgroup cpu.max) too small for the load";
	}
	return "";
}

/* "fetch_user at fetch_posts (examples/fetch_user.c:121)" */
static const char *site(const struct ai_taskfmt *tf, uint64_t fn, uint64_t at, char *buf,
			size_t len)
{
	const char *f = ai_tf_desc_function(tf, fn), *callee = ai_tf_desc_callee(tf, at);
	char loc[256], pf[128], pc[128];

	if (!at) {
		snprintf(buf, len, "%s", f ? ai_printable(f, pf, sizeof(pf)) : "?");
		return buf;
	}
	snprintf(buf, len, "%s at %s().await (%s)", f ? ai_printable(f, pf, sizeof(pf)) : "?",
		 callee ? ai_printable(callee, pc, sizeof(pc)) : "?",
		 ai_tf_desc_loc(tf, at, loc, sizeof(loc)));
	return buf;
}

/* The file of a descriptor ("examples/x.c"), into buf; "?" when unknown. */
static const char *desc_file(const struct ai_taskfmt *tf, uint64_t desc, char *buf, size_t len)
{
	char *colon;

	ai_tf_desc_loc(tf, desc, buf, len);
	colon = strrchr(buf, ':');
	if (colon && buf[0] != '0')
		*colon = '\0';
	else
		snprintf(buf, len, "?");
	return buf;
}

/*
 * Where a blocking poll was: "handler at fetch_data().await (x.c:12)" (inside the awaited
 * future), "handler, after the await at x.c:12", or "handler, before its first await".
 */
static const char *blocking_site(const struct ai_taskfmt *tf, const struct ai_finding *x, char *buf,
				 size_t len)
{
	const char *f = ai_tf_desc_function(tf, x->fn);
	char loc[256], pf[128], file[256];

	ai_printable(f ? f : "?", pf, sizeof(pf));
	if (x->at)
		return site(tf, x->fn, x->at, buf, len);
	if (x->after_line)
		snprintf(buf, len, "%s, after the await at %s:%u", pf,
			 ai_printable(desc_file(tf, x->fn, file, sizeof(file)), loc, sizeof(loc)),
			 x->after_line);
	else
		snprintf(buf, len, "%s, before its first await", pf);
	return buf;
}

static void print_task_line(const struct ai_taskfmt *tf, uint64_t id, const char *lead)
{
	const struct ai_snap_task *t = ai_snapshot_find(tf->snap, id);
	char fn[128], wait[640], chain[512], pr[640];

	if (!t) {
		printf("   %-9s #%" PRIu64 " (no longer live)\n", ai_tx(lead), id);
		return;
	}
	ai_tf_function(tf, t, fn, sizeof(fn));
	printf("   %-9s #%" PRIu64 " %s", ai_tx(lead), id, ai_printable(fn, pr, sizeof(pr)));
	if (ai_tf_wait(tf, t, wait, sizeof(wait)))
		printf(": waits on %s", ai_printable(wait, pr, sizeof(pr)));
	putchar('\n');
	if (ai_tf_stuck_at(tf, t, chain, sizeof(chain)))
		printf("   %-9s %s\n", "", ai_printable(chain, pr, sizeof(pr)));
}

static void print_finding(const struct ai_taskfmt *tf, const struct ai_finding *x, size_t n)
{
	char where[512], dur[32], dur2[32];

	ai_fmt_duration(x->stuck_ns, dur, sizeof(dur));
	site(tf, x->fn, x->at, where, sizeof(where));
	printf("%zu. %s: ", n, ai_tx(ai_finding_kind_name(x->kind)));
	switch (x->kind) {
	case AI_FINDING_DEADLOCK:
		printf("%zu tasks wait for each other in a cycle, unchanged for %s\n", x->count,
		       ai_tx(dur));
		break;
	case AI_FINDING_LOST_WAKE:
		printf("%zu task%s pending with no live waker: nothing can wake %s (idle for "
		       "%s)\n",
		       x->count, x->count == 1 ? "" : "s", x->count == 1 ? "it" : "them",
		       ai_tx(dur));
		break;
	case AI_FINDING_ORPHAN_LOCK:
		printf("%zu task%s wait%s for a mutex held by task #%" PRIu64 ", which has "
		       "ended (waiting for %s)\n",
		       x->count, x->count == 1 ? "" : "s", x->count == 1 ? "s" : "", x->root_id,
		       ai_tx(dur));
		break;
	case AI_FINDING_STALL:
		printf("%zu task%s held up by task #%" PRIu64 ", itself waiting for %s\n", x->count,
		       x->count == 1 ? "" : "s", x->root_id, ai_tx(dur));
		break;
	case AI_FINDING_BLOCKING: {
		const char *sc = ai_syscall_name(x->syscall);
		const char *kf = ai_kernel_sleep_site(x->kstack, SCHED_KSTACK);
		char on[32], bl[32], pr[32];

		ai_fmt_duration(x->on_cpu_ns, on, sizeof(on));
		ai_fmt_duration(x->blocked_ns, bl, sizeof(bl));
		ai_fmt_duration(x->preempted_ns, pr, sizeof(pr));
		printf("%zu poll%s blocked the executor, the longest for %s: %s on the CPU, %s "
		       "blocked",
		       x->count, x->count == 1 ? "" : "s", dur, on, bl);
		if (x->blocked_ns && x->syscall >= 0) {
			if (sc)
				printf(" in %s()", sc);
			else
				printf(" in system call %d", x->syscall);
		}
		if (x->blocked_ns && kf)
			printf(" [kernel: %s]", kf);
		printf(", %s preempted\n", pr);
		break;
	}
	case AI_FINDING_PREEMPTION:
		ai_fmt_duration(x->preempted_ns, dur2, sizeof(dur2));
		printf("%zu polls were long only because their worker was preempted or throttled: "
		       "%s off the CPU while runnable",
		       x->count, dur2);
		if (x->quota_us) {
			ai_fmt_duration(x->throttled_ns, dur, sizeof(dur));
			printf("; CPU quota %.2f CPUs (cpu.max %" PRIu64 " %" PRIu64 "), throttled "
			       "for %s",
			       (double)x->quota_us / (double)x->period_us, x->quota_us,
			       x->period_us, dur);
		}
		putchar('\n');
		break;
	case AI_FINDING_LEAK:
		ai_fmt_duration(x->window_ns, dur2, sizeof(dur2));
		printf("%zu tasks wait at one await point, up from %" PRIu64 " in %s (%.1f/s), "
		       "none completed; the oldest for %s\n",
		       x->count, x->first_count, ai_tx(dur2),
		       x->window_ns
			   ? (double)(x->count - x->first_count) * 1e9 / (double)x->window_ns
			   : 0.0,
		       ai_tx(dur));
		break;
	}
	if (x->kind == AI_FINDING_BLOCKING)
		blocking_site(tf, x, where, sizeof(where));
	if (x->kind != AI_FINDING_PREEMPTION)
		printf("   %-9s %s\n", "where:", ai_tx(where));
	for (size_t i = 0; i < x->ntask_ids; i++) {
		const char *lead = i ? "" : "tasks:";

		if (x->kind == AI_FINDING_STALL)
			lead = i + 1 == x->ntask_ids ? "root:" : i ? "" : "chain:";
		print_task_line(tf, x->task_ids[i], lead);
	}
	if (x->count > x->ntask_ids && x->kind != AI_FINDING_STALL &&
	    x->kind != AI_FINDING_BLOCKING)
		printf("   %-9s (and %zu more)\n", "", x->count - x->ntask_ids);
	printf("   %-9s %s\n\n", "cause:", ai_tx(cause(x->kind)));
}

static void print_text(const struct ai_taskfmt *tf, pid_t pid, const struct ai_findings *f,
		       size_t nsnaps, uint64_t window_ns)
{
	char dur[32], comm[64] = "", pc[80];

	ai_proc_comm(pid, comm, sizeof(comm));
	ai_fmt_duration(window_ns, dur, sizeof(dur));
	printf("PID %d (%s): watched for %s, %zu snapshots, %zu live task%s at the end: ", (int)pid,
	       ai_printable(comm, pc, sizeof(pc)), ai_tx(dur), nsnaps, tf->snap->ntasks,
	       tf->snap->ntasks == 1 ? "" : "s");
	if (!f->n) {
		printf("no findings\n");
		return;
	}
	printf("%zu finding%s\n\n", f->n, f->n == 1 ? "" : "s");
	for (size_t i = 0; i < f->n; i++)
		print_finding(tf, &f->v[i], i + 1);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void json_desc(struct ai_json *j, const struct ai_taskfmt *tf, const char *key,
		      uint64_t desc)
{
	const char *fn = ai_tf_desc_function(tf, desc), *callee = ai_tf_desc_callee(tf, desc);
	char loc[256];

	ai_json_key(j, key);
	if (!desc) {
		ai_json_null(j);
		return;
	}
	ai_json_object_begin(j);
	ai_json_kv_str(j, "function", fn ? fn : "");
	if (callee)
		ai_json_kv_str(j, "callee", callee);
	ai_json_kv_str(j, "location", ai_tf_desc_loc(tf, desc, loc, sizeof(loc)));
	ai_json_object_end(j);
}

static void print_json(const struct ai_taskfmt *tf, pid_t pid, const struct ai_findings *f,
		       size_t nsnaps, uint64_t window_ns)
{
	struct ai_json j;

	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	ai_json_kv_i64(&j, "pid", pid);
	ai_json_kv_u64(&j, "window_ns", window_ns);
	ai_json_kv_u64(&j, "snapshots", nsnaps);
	ai_json_kv_u64(&j, "live_tasks", tf->snap->ntasks);
	ai_json_key(&j, "findings");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < f->n; i++) {
		const struct ai_finding *x = &f->v[i];

		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "kind", ai_finding_kind_name(x->kind));
		ai_json_kv_u64(&j, "rank", i + 1);
		ai_json_kv_u64(&j, "tasks", x->count);
		json_desc(&j, tf, "function", x->fn);
		json_desc(&j, tf, "await", x->at);
		ai_json_kv_u64(&j, "stuck_ns", x->stuck_ns);
		if (x->kind == AI_FINDING_BLOCKING && !x->at && x->after_line) {
			char file[256];

			ai_json_key(&j, "after_await");
			ai_json_object_begin(&j);
			ai_json_kv_str(&j, "file", desc_file(tf, x->fn, file, sizeof(file)));
			ai_json_kv_u64(&j, "line", x->after_line);
			ai_json_object_end(&j);
		}
		if (x->kind == AI_FINDING_STALL)
			ai_json_kv_u64(&j, "root_task", x->root_id);
		if (x->kind == AI_FINDING_ORPHAN_LOCK)
			ai_json_kv_u64(&j, "gone_holder", x->root_id);
		if (x->kind == AI_FINDING_BLOCKING || x->kind == AI_FINDING_PREEMPTION) {
			const char *sc = ai_syscall_name(x->syscall);
			const char *kf = ai_kernel_sleep_site(x->kstack, SCHED_KSTACK);

			ai_json_kv_u64(&j, "on_cpu_ns", x->on_cpu_ns);
			ai_json_kv_u64(&j, "blocked_ns", x->blocked_ns);
			ai_json_kv_u64(&j, "preempted_ns", x->preempted_ns);
			ai_json_key(&j, "syscall");
			if (x->syscall >= 0 && x->blocked_ns)
				ai_json_str(&j, sc ? sc : "?");
			else
				ai_json_null(&j);
			ai_json_key(&j, "kernel_function");
			ai_json_str(&j, x->blocked_ns ? kf : NULL);
			if (x->kind == AI_FINDING_PREEMPTION) {
				ai_json_kv_u64(&j, "cpu_quota_us", x->quota_us);
				ai_json_kv_u64(&j, "cpu_period_us", x->period_us);
				ai_json_kv_u64(&j, "throttled_ns", x->throttled_ns);
			}
		}
		if (x->kind == AI_FINDING_LEAK) {
			ai_json_kv_u64(&j, "first_count", x->first_count);
			ai_json_kv_u64(&j, "growth_window_ns", x->window_ns);
		}
		ai_json_key(&j, "task_ids");
		ai_json_array_begin(&j);
		for (size_t k = 0; k < x->ntask_ids; k++)
			ai_json_u64(&j, x->task_ids[k]);
		ai_json_array_end(&j);
		ai_json_key(&j, "examples");
		ai_json_array_begin(&j);
		for (size_t k = 0; k < x->ntask_ids; k++) {
			const struct ai_snap_task *t = ai_snapshot_find(tf->snap, x->task_ids[k]);

			if (t)
				ai_tf_json_task(&j, tf, t);
		}
		ai_json_array_end(&j);
		ai_json_kv_str(&j, "cause", cause(x->kind));
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

/* ---- main ------------------------------------------------------------------------------- */

int cmd_diagnose(int argc, char **argv)
{
	struct diagnose_args a = { .duration_ns = 5000000000ull,
				   .interval_ns = 1000000000ull,
				   .long_poll_ns = 10000000ull };
	struct ai_snapshot *snaps[MAX_SNAPSHOTS] = { 0 };
	struct ai_child child = { .pid = -1, .go_fd = -1 };
	struct ai_proc_descs *descs = NULL;
	struct ai_findings findings = { 0 };
	struct ai_pollwatch *pw = NULL;
	struct ai_cpu_quota quota = { 0 };
	struct ai_cgroup_cpu cg = { 0 };
	struct ai_taskfmt tf;
	size_t nsnaps = 0;
	unsigned torn = 0;
	uint64_t reg, start, window = 0;
	bool help, found = false;
	int err;

	if (ai_tf_parse_args(&argp, argc, argv, &a, &help))
		return EXIT_ERROR;
	if (help)
		return AI_EXIT_OK;
	/* at most MAX_SNAPSHOTS, evenly spread over the window */
	if (a.interval_ns > a.duration_ns)
		a.interval_ns = a.duration_ns;
	if (a.duration_ns / a.interval_ns > MAX_SNAPSHOTS - 1)
		a.interval_ns = a.duration_ns / (MAX_SNAPSHOTS - 1);
	ai_handle_signals();

	if (a.cmd) {
		err = start_command(a.cmd, &child, &reg);
		if (err)
			goto cleanup;
		a.pid = child.pid;
		err = ai_proc_descs_load(a.pid, &descs);
		if (err) {
			err = ai_err("read descriptors of", a.cmd[0], err);
			goto cleanup;
		}
	} else {
		err = ai_tf_open(a.pid, &reg, &descs);
		if (err)
			goto cleanup;
	}

	/* the scheduler's side of long polls needs BPF; the rest does not */
	err = ai_pollwatch_open(a.pid, a.long_poll_ns, &pw);
	if (err) {
		ai_warnf("blocking analysis off: failed to load 'offcpu' BPF program: %s%s",
			 strerror(-err),
			 err == -EPERM ? " (needs root, or CAP_BPF and CAP_PERFMON)" : "");
		pw = NULL;
		err = 0;
	}
	if (ai_cgroup_cpu(a.pid, &cg))
		memset(&cg, 0, sizeof(cg));

	start = ai_now_ns();
	for (uint64_t next_snap = start;;) {
		struct ai_snapshot *s = NULL;
		uint64_t now = ai_now_ns();

		if (now >= next_snap) {
			if (!ai_proc_alive(a.pid)) {
				if (nsnaps >= 2)
					break; /* it exited: what the window saw so far */
				err = ai_err("read", "the registry of the target", -ESRCH);
				goto cleanup;
			}
			/*
			 * Findings are about every task: a list not read to its end is no
			 * snapshot. Torn by a busy target (it changed under every retry of
			 * the read), it is taken again at the next tick; damaged while it
			 * stood still, it is an error.
			 */
			err = ai_snapshot_take(a.pid, reg, NULL, &s);
			if (err) {
				if (nsnaps >= 2 && !ai_proc_alive(a.pid)) {
					err = 0;
					break;
				}
				ai_errorf("failed to read 'libasync registry of process %d': %s",
					  (int)a.pid, ai_snapshot_strerror(err));
				goto cleanup;
			}
			if (s->truncated && s->tasks_end != AI_SNAP_END_CAP) {
				char why[256];

				if (!s->consistent && ++torn <= MAX_TORN) {
					ai_snapshot_free(s);
					next_snap = ai_now_ns() + TICK_NS;
					goto tick;
				}
				err = s->tasks_end == AI_SNAP_END_LOOP ? -ELOOP : -EFAULT;
				ai_errorf("failed to read 'libasync registry of process %d': %s",
					  (int)a.pid, ai_snapshot_incomplete(s, why, sizeof(why)));
				ai_snapshot_free(s);
				goto cleanup;
			}
			snaps[nsnaps++] = s;
			if (pw)
				ai_pollwatch_threads(pw, s);
			window = ai_now_ns() - start;
			if (nsnaps == MAX_SNAPSHOTS || window >= a.duration_ns)
				break;
			next_snap = start + (uint64_t)nsnaps * a.interval_ns;
			if (next_snap > start + a.duration_ns)
				next_snap = start + a.duration_ns;
		}
	tick:
		if (ai_exiting && nsnaps >= 2)
			break;
		if (pw)
			ai_pollwatch_tick(pw);
		now = ai_now_ns();
		sleep_ns(pw ? TICK_NS : next_snap > now ? next_snap - now : 0);
	}
	if (nsnaps < 2) { /* Ctrl-C at once: one more look makes a window */
		err = ai_snapshot_take(a.pid, reg, NULL, &snaps[nsnaps]);
		if (err) {
			err = ai_err("read", "the registry of the target", err);
			goto cleanup;
		}
		nsnaps++;
	}
	window = snaps[nsnaps - 1]->taken_ns - snaps[0]->taken_ns;
	err =
	    ai_findings_from_snapshots((const struct ai_snapshot *const *)snaps, nsnaps, &findings);
	if (!err && pw) {
		const struct ai_long_poll *polls;
		size_t npolls, workers = 0;
		struct ai_cgroup_cpu end = { 0 };

		for (size_t i = 0; i < snaps[nsnaps - 1]->nthreads; i++)
			workers += snaps[nsnaps - 1]->threads[i].abi.kind == ASYNC_THREAD_WORKER;
		if (!ai_cgroup_cpu(a.pid, &end)) {
			quota.quota_us = end.quota_us;
			quota.period_us = end.period_us;
			quota.throttled_ns = end.throttled_ns > cg.throttled_ns
						 ? end.throttled_ns - cg.throttled_ns
						 : 0;
		}
		polls = ai_pollwatch_polls(pw, &npolls);
		if (ai_verbose) {
			uint64_t runs, sw, ns;

			ai_pollwatch_stats(pw, &runs, &sw, &ns);
			fprintf(stderr,
				"offcpu: %" PRIu64 " context switches of the target, %" PRIu64
				" inside a poll, %zu long polls; BPF %.1f ns per switch\n",
				runs, sw, npolls, runs ? (double)ns / (double)runs : 0.0);
		}
		err = ai_findings_from_polls(polls, npolls, a.long_poll_ns, window,
					     (unsigned)workers, &quota, &findings);
		ai_findings_rank(&findings);
	}
	if (err) {
		err = ai_err("analyze", "the snapshots", err);
		goto cleanup;
	}
	found = findings.n > 0;
	tf = (struct ai_taskfmt){ snaps[nsnaps - 1], descs };
	if (a.json)
		print_json(&tf, a.pid, &findings, nsnaps, window);
	else
		print_text(&tf, a.pid, &findings, nsnaps, window);
cleanup:
	finish_command(&child);
	ai_pollwatch_free(pw);
	ai_findings_free(&findings);
	for (size_t i = 0; i < nsnaps; i++)
		ai_snapshot_free(snaps[i]);
	ai_proc_descs_free(descs);
	if (err)
		return EXIT_ERROR;
	return found ? EXIT_FOUND : AI_EXIT_OK;
}
