/* SPDX-License-Identifier: MIT */
/*
 * async-inspect deadlock -p PID: every cycle in the wait-for graph of a libasync
 * process (tasks waiting for mutexes held by each other, for each other's JoinHandles,
 * or any mix), each with every task's state, location and the objects involved; and
 * tasks pending for longer than a threshold that nothing can wake any more.
 *
 * Read from the runtime's registry in process memory. A cycle is reported only when it
 * is seen in two snapshots taken --confirm apart with none of its tasks having moved
 * (same state, same time of entering it, same poll count): a snapshot of a busy process
 * mixes moments and could otherwise show a cycle that never existed.
 *
 * Exit status: 0 nothing found, 1 a deadlock or a stuck task found, 2 error.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "json.h"
#include "names.h"
#include "snapshot.h"
#include "summary.h"
#include "taskfmt.h"
#include "waitgraph.h"

#define EXIT_FOUND	 1
#define EXIT_ERROR	 2
#define CONFIRM_ATTEMPTS 4

struct deadlock_args {
	pid_t pid;
	bool json;
	uint64_t threshold_ns;
	uint64_t confirm_ns;
};

static const char doc[] =
    "Find circular waits in a libasync process: tasks waiting for mutexes held by each "
    "other, for each other's JoinHandles, or any chain of both. Each cycle is printed "
    "with every task's state, location and the objects involved. Also reports tasks "
    "pending for longer than --threshold that nothing can wake any more (a mutex "
    "held by a task that no longer exists, a wake-up that was lost). Exit status: 0 "
    "none found, 1 found, 2 error.\v"
    "EXAMPLES:\n"
    "  sudo async-inspect deadlock -p 1234         # exit 1 if any circular wait\n"
    "  sudo async-inspect deadlock -p 1234 --json  # JSON (docs/tasks.md)\n"
    "  sudo async-inspect deadlock -p 1234 -T 30   # stuck: pending >= 30 s\n";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to inspect (required)", 0 },
	{ "json", 'j', NULL, 0, "Print one JSON document", 0 },
	{ "threshold", 'T', "SECS", 0, "Pending this long counts as stuck (default 5)", 0 },
	{ "confirm", 'c', "SECS", 0,
	  "Time between the two snapshots that must both show a cycle (default 0.25)", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose diagnostics", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct deadlock_args *a = state->input;

	switch (key) {
	case 'p':
		return ai_tf_parse_pid(arg, &a->pid) ? AI_TF_ARG_REPORTED : 0;
	case 'j':
		a->json = true;
		return 0;
	case 'T':
		return ai_tf_parse_secs("--threshold", arg, &a->threshold_ns) ? AI_TF_ARG_REPORTED
									      : 0;
	case 'c':
		if (ai_tf_parse_secs("--confirm", arg, &a->confirm_ns))
			return AI_TF_ARG_REPORTED;
		if (!a->confirm_ns || a->confirm_ns > 10 * 1000000000ull) {
			ai_errorf("failed to parse --confirm '%s': must be > 0 and <= 10 s", arg);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	}
	return ai_tf_parse_pid_cmd_key("deadlock", key, arg, a->pid);
}

static const struct argp argp = { options, parse_arg, NULL, doc, NULL, NULL, NULL };

/* The same cycle (same task ids in the same order) in the earlier graph, all unmoved. */
static bool cycle_confirmed(const struct ai_snapshot *s0, const struct ai_waitgraph *g0,
			    const struct ai_snapshot *s1, const struct ai_wg_cycle *c)
{
	for (size_t k = 0; k < g0->ncycles; k++) {
		const struct ai_wg_cycle *o = &g0->cycles[k];
		bool same = o->len == c->len;

		for (size_t i = 0; same && i < c->len; i++)
			same = s0->tasks[o->nodes[i]].abi.id == s1->tasks[c->nodes[i]].abi.id;
		if (!same)
			continue;
		for (size_t i = 0; i < c->len; i++)
			if (!ai_snap_task_unmoved(&s0->tasks[o->nodes[i]], &s1->tasks[c->nodes[i]]))
				return false;
		return true;
	}
	return false;
}

/* Why nothing can wake this task any more, or NULL. */
static const char *stuck_reason(const struct ai_snapshot *s, const struct ai_snap_task *t,
				char *buf, size_t len)
{
	const struct ai_snap_task *h;

	if (t->abi.state != ASYNC_TASK_IDLE)
		return NULL;
	switch (t->abi.wait_kind) {
	case ASYNC_WAIT_MUTEX:
		if (!t->obj_valid)
			return NULL;
		if (!t->wait_for) {
			snprintf(buf, len,
				 "the mutex is free but the task was never woken (lost "
				 "wake-up)");
			return buf;
		}
		if (t->wait_for == t->abi.id) {
			snprintf(buf, len,
				 "the mutex was handed to this task but it was never "
				 "woken (lost wake-up)");
			return buf;
		}
		h = ai_snapshot_find(s, t->wait_for);
		if (!h && s->truncated) /* maybe a task not read */
			return NULL;
		if (!h) {
			snprintf(buf, len,
				 "the mutex is held by task #%" PRIu64
				 " which no longer exists: nothing will unlock it",
				 t->wait_for);
			return buf;
		}
		if (h->abi.state == ASYNC_TASK_DONE) {
			snprintf(buf, len,
				 "the mutex is held by task #%" PRIu64
				 " which completed without unlocking it",
				 t->wait_for);
			return buf;
		}
		return NULL;
	case ASYNC_WAIT_CHAN_RECV:
		if (t->obj_valid && !t->chan_senders && !t->chan_len) {
			snprintf(buf, len,
				 "its channel has no sender left and nothing queued: "
				 "nothing will wake it");
			return buf;
		}
		return NULL;
	case ASYNC_WAIT_CHAN_SEND:
		if (t->obj_valid && !t->chan_receiver) {
			snprintf(buf, len,
				 "its channel's receiver is gone: nothing will make "
				 "room");
			return buf;
		}
		return NULL;
	case ASYNC_WAIT_JOIN:
		if (!t->wait_for || s->truncated)
			return NULL;
		h = ai_snapshot_find(s, t->wait_for);
		if (!h || h->abi.state == ASYNC_TASK_DONE) {
			snprintf(buf, len,
				 "task #%" PRIu64 " completed but the task awaiting its JoinHandle "
				 "was never woken (lost wake-up)",
				 t->wait_for);
			return buf;
		}
		return NULL;
	}
	return NULL;
}

/* Waits that the runtime's records cannot judge: counted, and said. */
static bool uncheckable(const struct ai_snap_task *t)
{
	return t->abi.state == ASYNC_TASK_IDLE &&
	       (t->abi.wait_kind == ASYNC_WAIT_NONE || t->abi.wait_kind == ASYNC_WAIT_CHAN_RECV ||
		t->abi.wait_kind == ASYNC_WAIT_CHAN_SEND);
}

struct result {
	const struct ai_snapshot *snap;
	const struct ai_waitgraph *g;
	bool *confirmed; /* per cycle of g */
	size_t nconfirmed;
	uint64_t confirm_ns;
	uint64_t threshold_ns;
	size_t *stuck; /* task indexes */
	size_t nstuck;
	size_t unchecked;
};

static void print_edge(const struct ai_taskfmt *tf, const struct ai_wg_edge *e)
{
	const struct ai_snap_task *t = &tf->snap->tasks[e->from];
	char fn[128], w[640];

	printf("  task #%" PRIu64 " %s waits on %s\n", (uint64_t)t->abi.id,
	       ai_tx(ai_tf_function(tf, t, fn, sizeof(fn))),
	       ai_tx(ai_tf_wait(tf, t, w, sizeof(w))));
}

static void print_text(const struct ai_taskfmt *tf, const struct result *r, pid_t pid)
{
	char dur[32], why[256];
	size_t n = 0;

	for (size_t k = 0; k < r->g->ncycles; k++) {
		const struct ai_wg_cycle *c = &r->g->cycles[k];

		if (!r->confirmed[k])
			continue;
		printf("DEADLOCK %zu: %zu task%s wait for each other in a cycle (unchanged over "
		       "%s)\n",
		       ++n, c->len, c->len == 1 ? "" : "s",
		       ai_fmt_duration(r->confirm_ns, dur, sizeof(dur)));
		for (size_t i = 0; i < c->len; i++)
			print_edge(tf, &r->g->edges[c->edges[i]]);
		putchar('\n');
		for (size_t i = 0; i < c->len; i++) {
			ai_tf_print_task(stdout, tf, &tf->snap->tasks[c->nodes[i]], 4);
			putchar('\n');
		}
	}
	for (size_t i = 0; i < r->nstuck; i++) {
		const struct ai_snap_task *t = &tf->snap->tasks[r->stuck[i]];

		printf("STUCK: task #%" PRIu64 " pending for %s: %s\n", (uint64_t)t->abi.id,
		       ai_fmt_duration(ai_snap_task_in_state(tf->snap, t), dur, sizeof(dur)),
		       ai_tx(stuck_reason(tf->snap, t, why, sizeof(why))));
		ai_tf_print_task(stdout, tf, t, 4);
		putchar('\n');
	}
	if (!n && !r->nstuck && !tf->snap->truncated)
		printf("No deadlock in process %d: %zu live tasks, no circular wait%s.\n", (int)pid,
		       tf->snap->ntasks, r->g->ncycles ? " that held still" : "");
	else if (!n && !r->nstuck)
		printf(
		    "No deadlock among the first %zu of %" PRIu64
		    " live tasks of process %d: no circular wait%s (the others were not read).\n",
		    tf->snap->ntasks, (uint64_t)tf->snap->reg.live_tasks, (int)pid,
		    r->g->ncycles ? " that held still" : "");
	if (r->g->cycles_truncated)
		printf("note: more cycles than could be listed; showing the first %zu\n",
		       r->g->ncycles);
	if (r->unchecked)
		printf("note: %zu task%s pending for >= %s on a channel or a future's own waker: "
		       "whether anything can still wake %s is not in libasync's records (not "
		       "checked)\n",
		       r->unchecked, r->unchecked == 1 ? "" : "s",
		       ai_fmt_duration(r->threshold_ns, dur, sizeof(dur)),
		       r->unchecked == 1 ? "it" : "them");
}

static void print_json(const struct ai_taskfmt *tf, const struct result *r, pid_t pid)
{
	char buf[640], loc[256];
	struct ai_json j;

	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	ai_json_kv_i64(&j, "pid", pid);
	ai_json_kv_u64(&j, "live_tasks", tf->snap->ntasks);
	ai_json_kv_u64(&j, "confirm_ns", r->confirm_ns);
	ai_json_kv_u64(&j, "threshold_ns", r->threshold_ns);
	ai_json_key(&j, "deadlocks");
	ai_json_array_begin(&j);
	for (size_t k = 0; k < r->g->ncycles; k++) {
		const struct ai_wg_cycle *c = &r->g->cycles[k];

		if (!r->confirmed[k])
			continue;
		ai_json_object_begin(&j);
		ai_json_key(&j, "edges");
		ai_json_array_begin(&j);
		for (size_t i = 0; i < c->len; i++) {
			const struct ai_wg_edge *e = &r->g->edges[c->edges[i]];
			const struct ai_snap_task *t = &tf->snap->tasks[e->from];

			ai_json_object_begin(&j);
			ai_json_kv_u64(&j, "from", t->abi.id);
			ai_json_kv_u64(&j, "to", tf->snap->tasks[e->to].abi.id);
			ai_json_kv_str(&j, "kind", ai_summary_wait_kind_name(e->kind));
			ai_json_kv_u64(&j, "object", e->obj);
			ai_json_kv_str(&j, "object_description",
				       ai_tf_wait_object(tf, t, buf, sizeof(buf)));
			if (e->kind == ASYNC_WAIT_MUTEX && t->obj_valid) {
				ai_json_kv_str(&j, "object_name",
					       ai_tf_desc_callee(tf, t->obj_desc));
				ai_json_kv_str(&j, "object_location",
					       ai_tf_desc_loc(tf, t->obj_desc, loc, sizeof(loc)));
			}
			ai_json_object_end(&j);
		}
		ai_json_array_end(&j);
		ai_json_key(&j, "tasks");
		ai_json_array_begin(&j);
		for (size_t i = 0; i < c->len; i++)
			ai_tf_json_task(&j, tf, &tf->snap->tasks[c->nodes[i]]);
		ai_json_array_end(&j);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "stuck");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < r->nstuck; i++) {
		const struct ai_snap_task *t = &tf->snap->tasks[r->stuck[i]];

		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "reason", stuck_reason(tf->snap, t, buf, sizeof(buf)));
		ai_json_key(&j, "task");
		ai_tf_json_task(&j, tf, t);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_kv_u64(&j, "unchecked_pending", r->unchecked);
	ai_json_kv_bool(&j, "cycles_truncated", r->g->cycles_truncated);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/*
 * Tasks of s1 stuck for good (see stuck_reason), not in a confirmed cycle of g1, pending
 * >= threshold; confirmed only when s0 shows the same task, unmoved, stuck for the same
 * kind of reason. Fills r->stuck / r->nstuck / r->unchecked; returns the candidates
 * (confirmed or not).
 */
static size_t find_stuck(const struct ai_snapshot *s0, const struct ai_snapshot *s1,
			 const struct ai_waitgraph *g1, uint64_t threshold_ns, struct result *r)
{
	size_t candidates = 0;

	r->nstuck = 0;
	r->unchecked = 0;
	for (size_t i = 0; i < s1->ntasks; i++) {
		const struct ai_snap_task *t = &s1->tasks[i], *t0;
		char why[256];
		bool in_cycle = false;

		if (ai_snap_task_in_state(s1, t) < threshold_ns)
			continue;
		for (size_t k = 0; k < g1->ncycles && !in_cycle; k++)
			for (size_t n = 0; r->confirmed[k] && n < g1->cycles[k].len; n++)
				in_cycle |= g1->cycles[k].nodes[n] == i;
		if (in_cycle)
			continue;
		if (!stuck_reason(s1, t, why, sizeof(why))) {
			r->unchecked += uncheckable(t);
			continue;
		}
		candidates++;
		t0 = s0 ? ai_snapshot_find(s0, t->abi.id) : NULL;
		if (t0 && ai_snap_task_unmoved(t0, t) && stuck_reason(s0, t0, why, sizeof(why)))
			r->stuck[r->nstuck++] = i;
	}
	return candidates;
}

/* A snapshot, its wait-for graph and the graph's cycles; prints its errors. */
static int take(pid_t pid, uint64_t reg, struct ai_snapshot **s, struct ai_waitgraph **g)
{
	int err = ai_tf_snapshot(pid, reg, 0, true, s);

	if (err)
		return err;
	err = ai_wg_from_snapshot(*s, g);
	if (!err) {
		err = ai_wg_find_cycles(*g, 0);
		err = err < 0 ? err : 0;
	}
	if (err)
		ai_err("search", "wait-for graph", err);
	return err;
}

/* Per-snapshot result arrays sized for s and g. */
static int result_alloc(struct result *r, const struct ai_snapshot *s, const struct ai_waitgraph *g)
{
	free(r->confirmed);
	free(r->stuck);
	r->confirmed = calloc(g->ncycles + 1, sizeof(bool));
	r->stuck = calloc(s->ntasks + 1, sizeof(size_t));
	r->nconfirmed = 0;
	r->nstuck = 0;
	if (!r->confirmed || !r->stuck)
		return ai_err("allocate", "results", -ENOMEM);
	return 0;
}

int cmd_deadlock(int argc, char **argv)
{
	struct deadlock_args a = { .threshold_ns = 5000000000ull, .confirm_ns = 250000000ull };
	struct ai_snapshot *s0 = NULL, *s1 = NULL;
	struct ai_waitgraph *g0 = NULL, *g1 = NULL;
	struct ai_proc_descs *descs = NULL;
	struct result r = { 0 };
	struct ai_taskfmt tf;
	size_t candidates;
	uint64_t reg;
	bool help;
	int err;

	if (ai_tf_parse_args(&argp, argc, argv, &a, &help))
		return EXIT_ERROR;
	if (help)
		return AI_EXIT_OK;
	ai_handle_signals();

	err = ai_tf_open(a.pid, &reg, &descs);
	if (err)
		goto cleanup;
	err = take(a.pid, reg, &s1, &g1);
	if (err)
		goto cleanup;
	err = result_alloc(&r, s1, g1);
	if (err)
		goto cleanup;
	candidates = find_stuck(NULL, s1, g1, a.threshold_ns, &r);

	/*
	 * Confirm: the next snapshot must show the same cycles and stuck tasks with nobody
	 * moved. Repeated while something seen is not confirmed, a few times.
	 */
	for (int attempt = 0; (g1->ncycles > r.nconfirmed || candidates > r.nstuck) &&
			      attempt < CONFIRM_ATTEMPTS && !ai_exiting;
	     attempt++) {
		ai_snapshot_free(s0);
		ai_wg_free(g0);
		s0 = s1;
		g0 = g1;
		s1 = NULL;
		g1 = NULL;
		sleep_ns(a.confirm_ns);
		err = take(a.pid, reg, &s1, &g1);
		if (!err)
			err = result_alloc(&r, s1, g1);
		if (err)
			goto cleanup;
		for (size_t k = 0; k < g1->ncycles; k++) {
			r.confirmed[k] = cycle_confirmed(s0, g0, s1, &g1->cycles[k]);
			r.nconfirmed += r.confirmed[k];
		}
		candidates = find_stuck(s0, s1, g1, a.threshold_ns, &r);
	}

	r.snap = s1;
	r.g = g1;
	r.confirm_ns = a.confirm_ns;
	r.threshold_ns = a.threshold_ns;
	tf = (struct ai_taskfmt){ s1, descs };
	if (a.json)
		print_json(&tf, &r, a.pid);
	else
		print_text(&tf, &r, a.pid);
cleanup:
	free(r.confirmed);
	free(r.stuck);
	ai_wg_free(g0);
	ai_wg_free(g1);
	ai_snapshot_free(s0);
	ai_snapshot_free(s1);
	ai_proc_descs_free(descs);
	if (err)
		return EXIT_ERROR;
	return r.nconfirmed || r.nstuck ? EXIT_FOUND : AI_EXIT_OK;
}
