/* SPDX-License-Identifier: MIT */
/*
 * Naming what a snapshot holds, shared by tasks, graph, deadlock and top: a task's
 * function, its state ("waiting for fetch_posts"), the await it is stopped at, its
 * logical async stack and the object it waits on, as text and as JSON.
 */
#ifndef AI_TASKFMT_H
#define AI_TASKFMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "json.h"
#include "names.h"
#include "snapshot.h"

struct ai_proc_descs;

struct ai_taskfmt {
	const struct ai_snapshot *snap;
	struct ai_proc_descs *descs; /* NULL: descriptors are shown as addresses */
};

/* The async function of the task's root future ("fetch_user"), else its spawn name. */
const char *ai_tf_function(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len);
/* "file:line" of a descriptor (runtime address), or "0x..." when unknown. */
const char *ai_tf_desc_loc(const struct ai_taskfmt *tf, uint64_t desc, char *buf, size_t len);
/* The awaited callee of an AWAIT descriptor ("fetch_posts"), or NULL. */
const char *ai_tf_desc_callee(const struct ai_taskfmt *tf, uint64_t desc);
/* The function name of any descriptor, or NULL. */
const char *ai_tf_desc_function(const struct ai_taskfmt *tf, uint64_t desc);

/* "waiting for fetch_posts", "running", "scheduled", "done", "idle", "not started". */
const char *ai_tf_state(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			size_t len);
/* The root future's await point as "file:line", or NULL when it is at none. */
const char *ai_tf_location(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len);
/* "fetch_posts().await > async_sleep().await", or NULL when at no await. */
const char *ai_tf_stuck_at(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len);
/* The innermost await point's "file:line", or NULL. */
const char *ai_tf_leaf_location(const struct ai_taskfmt *tf, const struct ai_snap_task *t,
				char *buf, size_t len);
/*
 * What it waits on: "mutex &db->lock (examples/x.c:20) held by task #3 worker_b",
 * "JoinHandle of task #5 fetch_user", "channel 0x... (receive)", "timer", ...
 * NULL when it waits on nothing the runtime recorded.
 */
const char *ai_tf_wait(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
		       size_t len);
/* Object of a wait: "mutex &a (examples/deadlock.c:30)", "JoinHandle of task #5", ... */
const char *ai_tf_wait_object(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			      size_t len);

/* The brief's box for one task, then its async stack, indented by `indent` spaces. */
void ai_tf_print_task(FILE *f, const struct ai_taskfmt *tf, const struct ai_snap_task *t,
		      int indent);
/* One task as a JSON object (see docs/tasks.md). */
void ai_tf_json_task(struct ai_json *j, const struct ai_taskfmt *tf, const struct ai_snap_task *t);

/*
 * Attaching to a process: checks the PID, finds the registry and loads the
 * descriptor tables. Prints the one-line error itself and returns a negative errno.
 */
int ai_tf_open(pid_t pid, uint64_t *registry_addr, struct ai_proc_descs **descs);
/*
 * Takes a snapshot (only_id: see struct ai_snap_opts); prints the error itself. A task
 * list that could not be walked to its end (a loop, an unreadable record) is an error
 * when nothing was read, or when `whole` (a verdict about every task needs them all);
 * otherwise it, and a list longer than the cap, is one warning line (once per run).
 */
int ai_tf_snapshot(pid_t pid, uint64_t registry_addr, uint64_t only_id, bool whole,
		   struct ai_snapshot **out);

/*
 * argp for the four commands, with one-line errors: --help/--usage print and set
 * *help; a bad option or value prints "async-inspect: ..." once and returns -EINVAL.
 * Parsers report their own bad values with ai_errorf() and return EINVAL.
 */
struct argp;
/* What a command's argp parser returns after printing its own one-line error. */
#define AI_TF_ARG_REPORTED 1022
int ai_tf_parse_args(const struct argp *argp, int argc, char **argv, void *input, bool *help);
/*
 * The keys every -p PID command (tasks, graph, deadlock) handles alike, for the end of its
 * parser: -v, a stray argument and, at the end, a missing -p PID (the errors name `cmd`).
 * Returns what the parser returns (ARGP_ERR_UNKNOWN for any other key).
 */
int ai_tf_parse_pid_cmd_key(const char *cmd, int key, const char *arg, pid_t pid);
/* ARGP_KEY_ARG of a command taking one BINARY (analyze, list): stores it, refuses a second. */
int ai_tf_parse_binary(const char *cmd, const char **binary, const char *arg);
/* Parses -p's value; prints the error itself. */
int ai_tf_parse_pid(const char *s, pid_t *pid);
/* Parses seconds ("2", "0.5", "1500ms"); prints the error itself. */
int ai_tf_parse_secs(const char *opt, const char *s, uint64_t *ns);

/*
 * Attaches progs[i] to libasync's probe names[i] in the object at `path`, for `pid`,
 * storing the links (destroy them with bpf_link__destroy). Prints the error itself.
 */
struct bpf_program;
struct bpf_link;
int ai_tf_attach_usdt(struct bpf_program *const *progs, const char *const *names, size_t n,
		      pid_t pid, const char *path, struct bpf_link **links);

#endif /* AI_TASKFMT_H */
