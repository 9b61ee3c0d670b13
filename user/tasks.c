/* SPDX-License-Identifier: MIT */
/*
 * async-inspect tasks -p PID: every live task of a libasync process, read from the
 * runtime's registry in process memory (no probe, no BPF): state, time in it, the
 * await it is stopped at, its logical async stack and what it waits on.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "json.h"
#include "names.h"
#include "snapshot.h"
#include "taskfmt.h"

struct tasks_args {
	pid_t pid;
	bool json;
	uint64_t id; /* 0: every task */
};

static const char doc[] =
    "Snapshot of every live task of a libasync process: id, function, state and time in "
    "it, the await point it is stopped at (file:line), its logical async stack (root "
    "future down to the innermost one) and what it waits on (a JoinHandle, a mutex and "
    "its holder, a channel). Tasks spawned long before async-inspect started are seen: "
    "the runtime's registry is read out of process memory (root, or ptrace permission "
    "on PID, is needed).\v"
    "EXAMPLES:\n"
    "  sudo async-inspect tasks -p 1234         # every task: where, since when\n"
    "  sudo async-inspect tasks -p 1234 -t 42   # only task #42\n"
    "  sudo async-inspect tasks -p 1234 --json  # JSON, schema in docs/tasks.md\n";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to inspect (required)", 0 },
	{ "task", 't', "ID", 0, "Show only the task with this id", 0 },
	{ "json", 'j', NULL, 0, "Print one JSON document", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose diagnostics", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct tasks_args *a = state->input;

	switch (key) {
	case 'p':
		return ai_tf_parse_pid(arg, &a->pid) ? AI_TF_ARG_REPORTED : 0;
	case 't':
		if (!ai_parse_u64(arg, &a->id) || !a->id) {
			ai_errorf("failed to parse task id '%s': not a task id", arg);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	case 'j':
		a->json = true;
		return 0;
	}
	return ai_tf_parse_pid_cmd_key("tasks", key, arg, a->pid);
}

static const struct argp argp = { options, parse_arg, NULL, doc, NULL, NULL, NULL };

static void print_json(const struct ai_taskfmt *tf, pid_t pid, uint64_t only)
{
	const struct ai_snapshot *s = tf->snap;
	struct ai_json j;

	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	ai_json_kv_i64(&j, "pid", pid);
	ai_json_kv_u64(&j, "taken_ns", s->taken_ns);
	ai_json_kv_u64(&j, "live_tasks", s->reg.live_tasks);
	ai_json_kv_u64(&j, "spawned_tasks", s->reg.spawned_tasks);
	ai_json_kv_bool(&j, "consistent", s->consistent);
	ai_json_kv_bool(&j, "truncated", s->truncated);
	ai_json_key(&j, "threads");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct async_thread_abi *th = &s->threads[i].abi;

		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "tid", th->tid);
		ai_json_kv_str(&j, "kind",
			       th->kind == ASYNC_THREAD_WORKER	   ? "worker"
			       : th->kind == ASYNC_THREAD_BLOCKING ? "blocking"
			       : th->kind == ASYNC_THREAD_REACTOR  ? "reactor"
								   : "?");
		ai_json_kv_u64(&j, "index", th->index);
		ai_json_kv_u64(&j, "task", th->task_id);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "tasks");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->ntasks; i++)
		if (!only || s->tasks[i].abi.id == only)
			ai_tf_json_task(&j, tf, &s->tasks[i]);
	ai_json_array_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

static void print_text(const struct ai_taskfmt *tf, pid_t pid, uint64_t only)
{
	const struct ai_snapshot *s = tf->snap;
	size_t busy = 0;

	for (size_t i = 0; i < s->nthreads; i++)
		busy += s->threads[i].abi.task_id != 0;
	if (!only) {
		char shown[64] = "";

		if (s->truncated)
			snprintf(shown, sizeof(shown), " [showing %zu of %" PRIu64 "]", s->ntasks,
				 (uint64_t)s->reg.live_tasks);
		printf("PID %d: %zu live tasks (%" PRIu64 " spawned), %zu runtime threads "
		       "(%zu polling now)%s%s\n\n",
		       (int)pid, s->truncated ? (size_t)s->reg.live_tasks : s->ntasks,
		       (uint64_t)s->reg.spawned_tasks, s->nthreads, busy, shown,
		       s->consistent ? "" : " [registry changed while read: a mix of moments]");
	}
	for (size_t i = 0; i < s->ntasks; i++) {
		if (only && s->tasks[i].abi.id != only)
			continue;
		ai_tf_print_task(stdout, tf, &s->tasks[i], 0);
		putchar('\n');
	}
}

int cmd_tasks(int argc, char **argv)
{
	struct tasks_args a = { 0 };
	struct ai_proc_descs *descs = NULL;
	struct ai_snapshot *snap = NULL;
	struct ai_taskfmt tf;
	uint64_t reg;
	bool help;
	int err;

	if (ai_tf_parse_args(&argp, argc, argv, &a, &help))
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;

	err = ai_tf_open(a.pid, &reg, &descs);
	if (err)
		goto cleanup;
	err = ai_tf_snapshot(a.pid, reg, a.id, false, &snap);
	if (err)
		goto cleanup;
	if (a.id && !ai_snapshot_find(snap, a.id)) {
		char what[32];

		snprintf(what, sizeof(what), "#%" PRIu64, a.id);
		err = ai_err("find task", what, -ESRCH);
		goto cleanup;
	}
	tf = (struct ai_taskfmt){ snap, descs };
	if (a.json)
		print_json(&tf, a.pid, a.id);
	else
		print_text(&tf, a.pid, a.id);
cleanup:
	ai_snapshot_free(snap);
	ai_proc_descs_free(descs);
	return err ? AI_EXIT_FAIL : AI_EXIT_OK;
}
