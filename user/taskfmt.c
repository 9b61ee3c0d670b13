/* SPDX-License-Identifier: MIT */
/* Naming snapshot contents for tasks, graph, deadlock and top: see taskfmt.h. */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "names.h"
#include "proc.h"
#include "summary.h"
#include "taskfmt.h"

static const struct ai_desc *find_desc(const struct ai_taskfmt *tf, uint64_t addr)
{
	if (!tf->descs || !addr)
		return NULL;
	return ai_proc_descs_find(tf->descs, addr);
}

const char *ai_tf_desc_function(const struct ai_taskfmt *tf, uint64_t desc)
{
	const struct ai_desc *d = find_desc(tf, desc);

	return d && d->function && *d->function ? d->function : NULL;
}

const char *ai_tf_desc_callee(const struct ai_taskfmt *tf, uint64_t desc)
{
	const struct ai_desc *d = find_desc(tf, desc);

	return d && d->callee && *d->callee ? d->callee : NULL;
}

const char *ai_tf_desc_loc(const struct ai_taskfmt *tf, uint64_t desc, char *buf, size_t len)
{
	const struct ai_desc *d = find_desc(tf, desc);

	if (d && d->file)
		snprintf(buf, len, "%s:%u", d->file, d->line);
	else
		snprintf(buf, len, "0x%" PRIx64, desc);
	return buf;
}

const char *ai_tf_function(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len)
{
	const char *fn = ai_tf_desc_function(tf, t->abi.fn);

	if (!fn && t->chain_len)
		fn = ai_tf_desc_function(tf, t->chain[0].fn);
	if (fn)
		snprintf(buf, len, "%s", fn);
	else if (t->name[0])
		snprintf(buf, len, "%s", t->name);
	else
		snprintf(buf, len, "0x%" PRIx64, (uint64_t)t->abi.fn);
	return buf;
}

/* The callee's name as the await point names it, or the child frame's function. */
static const char *frame_callee(const struct ai_taskfmt *tf, const struct ai_snap_task *t,
				unsigned i)
{
	const char *c = ai_tf_desc_callee(tf, t->chain[i].at);

	if (!c && i + 1 < t->chain_len)
		c = ai_tf_desc_function(tf, t->chain[i + 1].fn);
	return c;
}

const char *ai_tf_state(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			size_t len)
{
	const char *callee;

	switch (t->abi.state) {
	case ASYNC_TASK_IDLE:
		if (!t->chain_len || !t->chain[0].at) {
			snprintf(buf, len, "%s", t->abi.polls ? "idle" : "not started");
			return buf;
		}
		callee = frame_callee(tf, t, 0);
		if (callee)
			snprintf(buf, len, "waiting for %s", callee);
		else
			snprintf(buf, len, "waiting at 0x%" PRIx64, t->chain[0].at);
		return buf;
	default:
		snprintf(buf, len, "%s", ai_summary_state_name(t->abi.state));
		return buf;
	}
}

const char *ai_tf_location(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len)
{
	if (!t->chain_len || !t->chain[0].at)
		return NULL;
	return ai_tf_desc_loc(tf, t->chain[0].at, buf, len);
}

const char *ai_tf_leaf_location(const struct ai_taskfmt *tf, const struct ai_snap_task *t,
				char *buf, size_t len)
{
	for (unsigned i = t->chain_len; i-- > 0;)
		if (t->chain[i].at)
			return ai_tf_desc_loc(tf, t->chain[i].at, buf, len);
	return NULL;
}

const char *ai_tf_stuck_at(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			   size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < t->chain_len && t->chain[i].at; i++) {
		const char *c = frame_callee(tf, t, i);
		int n;

		if (c)
			n = snprintf(buf + off, len - off, "%s%s().await", off ? " > " : "", c);
		else
			n = snprintf(buf + off, len - off, "%s0x%" PRIx64, off ? " > " : "",
				     t->chain[i].at);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return off ? buf : NULL;
}

static void task_label(const struct ai_taskfmt *tf, uint64_t id, char *buf, size_t len)
{
	const struct ai_snap_task *h = ai_snapshot_find(tf->snap, id);
	char fn[96];

	if (h)
		snprintf(buf, len, "task #%" PRIu64 " %s", id,
			 ai_tf_function(tf, h, fn, sizeof(fn)));
	else
		snprintf(buf, len, "task #%" PRIu64 " (no longer live)", id);
}

static const char *mutex_name(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			      size_t len)
{
	const char *expr = t->obj_valid ? ai_tf_desc_callee(tf, t->obj_desc) : NULL;
	char loc[256];

	if (expr)
		snprintf(buf, len, "mutex %s (%s)", expr,
			 ai_tf_desc_loc(tf, t->obj_desc, loc, sizeof(loc)));
	else
		snprintf(buf, len, "mutex 0x%" PRIx64, (uint64_t)t->abi.wait_obj);
	return buf;
}

static const char *chan_name(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			     size_t len)
{
	const char *expr = t->obj_valid ? ai_tf_desc_callee(tf, t->obj_desc) : NULL;
	bool recv = t->abi.wait_kind == ASYNC_WAIT_CHAN_RECV;
	char name[320], loc[256];

	if (expr)
		snprintf(name, sizeof(name), "channel %s (%s)", expr,
			 ai_tf_desc_loc(tf, t->obj_desc, loc, sizeof(loc)));
	else
		snprintf(name, sizeof(name), "channel 0x%" PRIx64, (uint64_t)t->abi.wait_obj);
	if (t->obj_valid)
		snprintf(buf, len, "%s (%s; %u sender%s, %u queued%s)", name,
			 recv ? "receive: waits for a sender"
			      : "send: full, waits for the receiver",
			 t->chan_senders, t->chan_senders == 1 ? "" : "s", t->chan_len,
			 t->chan_receiver ? "" : ", receiver gone");
	else
		snprintf(buf, len, "%s (%s)", name,
			 recv ? "receive: waits for a sender"
			      : "send: full, waits for the receiver");
	return buf;
}

const char *ai_tf_wait_object(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
			      size_t len)
{
	char who[160];

	switch (t->abi.wait_kind) {
	case ASYNC_WAIT_MUTEX:
		return mutex_name(tf, t, buf, len);
	case ASYNC_WAIT_JOIN:
		task_label(tf, t->wait_for, who, sizeof(who));
		snprintf(buf, len, "JoinHandle of %s", who);
		return buf;
	case ASYNC_WAIT_CHAN_RECV:
	case ASYNC_WAIT_CHAN_SEND:
		return chan_name(tf, t, buf, len);
	case ASYNC_WAIT_TIMER:
		snprintf(buf, len, "timer");
		return buf;
	case ASYNC_WAIT_IO:
		snprintf(buf, len, "i/o on fd %" PRIu64, (uint64_t)t->abi.wait_obj);
		return buf;
	case ASYNC_WAIT_BLOCKING:
		snprintf(buf, len, "spawn_blocking job on the blocking pool");
		return buf;
	}
	return NULL;
}

const char *ai_tf_wait(const struct ai_taskfmt *tf, const struct ai_snap_task *t, char *buf,
		       size_t len)
{
	char obj[320], who[160];

	if (!ai_tf_wait_object(tf, t, obj, sizeof(obj)))
		return NULL;
	if (t->abi.wait_kind == ASYNC_WAIT_MUTEX) {
		if (t->wait_for) {
			task_label(tf, t->wait_for, who, sizeof(who));
			snprintf(buf, len, "%s held by %s", obj, who);
		} else {
			snprintf(buf, len, "%s (free now)", obj);
		}
		return buf;
	}
	snprintf(buf, len, "%s", obj);
	return buf;
}

void ai_tf_print_task(FILE *f, const struct ai_taskfmt *tf, const struct ai_snap_task *t,
		      int indent)
{
	char fn[128], st[160], loc[256], stuck[512], wait[640], dur[32], leaf[256];
	const char *l, *sa, *w, *lf;

	ai_tf_function(tf, t, fn, sizeof(fn));
	fprintf(f, "%*sTask #%" PRIu64 ": %s", indent, "", (uint64_t)t->abi.id, ai_tx(fn));
	if (t->name[0] && strcmp(t->name, fn))
		fprintf(f, " \"%s\"", ai_tx(t->name));
	fputc('\n', f);
	fprintf(f, "%*s  State:    %s (%s)\n", indent, "",
		ai_tx(ai_tf_state(tf, t, st, sizeof(st))),
		ai_fmt_duration(ai_snap_task_in_state(tf->snap, t), dur, sizeof(dur)));
	l = ai_tf_location(tf, t, loc, sizeof(loc));
	if (l)
		fprintf(f, "%*s  Location: %s\n", indent, "", ai_tx(l));
	sa = ai_tf_stuck_at(tf, t, stuck, sizeof(stuck));
	if (sa) {
		lf = ai_tf_leaf_location(tf, t, leaf, sizeof(leaf));
		if (lf && l && strcmp(lf, l))
			fprintf(f, "%*s  Stuck at: %s (%s)\n", indent, "", ai_tx(sa), ai_tx(lf));
		else
			fprintf(f, "%*s  Stuck at: %s\n", indent, "", ai_tx(sa));
	}
	w = ai_tf_wait(tf, t, wait, sizeof(wait));
	if (w)
		fprintf(f, "%*s  Waits on: %s\n", indent, "", ai_tx(w));
	fprintf(f, "%*s  Polls:    %" PRIu64, indent, "", (uint64_t)t->abi.polls);
	if (t->abi.parent_id)
		fprintf(f, ", spawned by task #%" PRIu64, (uint64_t)t->abi.parent_id);
	fputc('\n', f);
	if (t->chain_len) {
		fprintf(f, "%*s  Async stack:\n", indent, "");
		for (unsigned i = 0; i < t->chain_len; i++) {
			const char *name = ai_tf_desc_function(tf, t->chain[i].fn);
			const char *c = t->chain[i].at ? frame_callee(tf, t, i) : NULL;

			fprintf(f, "%*s    %u: %s", indent, "", i, ai_tx(name ? name : "?"));
			if (t->chain[i].at)
				fprintf(f, "  at %s  %s().await",
					ai_tx(ai_tf_desc_loc(tf, t->chain[i].at, loc, sizeof(loc))),
					ai_tx(c ? c : "?"));
			fputc('\n', f);
		}
		if (t->chain_end == AI_CHAIN_TRUNCATED)
			fprintf(f, "%*s    ... deeper than %d frames\n", indent, "",
				ASYNC_CHAIN_MAX);
		else if (t->chain_end == AI_CHAIN_LOOP)
			fprintf(f, "%*s    ... (chain loops: changed while read)\n", indent, "");
		else if (t->chain_end == AI_CHAIN_FAULT)
			fprintf(f, "%*s    ... (frame unreadable: changed while read)\n", indent,
				"");
	}
}

void ai_tf_json_task(struct ai_json *j, const struct ai_taskfmt *tf, const struct ai_snap_task *t)
{
	char fn[128], st[160], loc[256], stuck[512], buf[640];
	const char *s;

	ai_json_object_begin(j);
	ai_json_kv_u64(j, "id", t->abi.id);
	ai_json_kv_str(j, "name", t->name);
	ai_json_kv_str(j, "function", ai_tf_function(tf, t, fn, sizeof(fn)));
	ai_json_kv_u64(j, "parent", t->abi.parent_id);
	ai_json_kv_str(j, "state", ai_summary_state_name(t->abi.state));
	ai_json_kv_str(j, "state_detail", ai_tf_state(tf, t, st, sizeof(st)));
	ai_json_kv_u64(j, "in_state_ns", ai_snap_task_in_state(tf->snap, t));
	ai_json_kv_u64(j, "polls", t->abi.polls);
	ai_json_kv_u64(j, "spawn_ns", t->abi.spawn_ns);
	ai_json_kv_str(j, "location", ai_tf_location(tf, t, loc, sizeof(loc)));
	ai_json_kv_str(j, "stuck_at", ai_tf_stuck_at(tf, t, stuck, sizeof(stuck)));
	ai_json_kv_str(j, "leaf_location", ai_tf_leaf_location(tf, t, loc, sizeof(loc)));
	ai_json_key(j, "stack");
	ai_json_array_begin(j);
	for (unsigned i = 0; i < t->chain_len; i++) {
		ai_json_object_begin(j);
		ai_json_kv_str(j, "function", ai_tf_desc_function(tf, t->chain[i].fn));
		ai_json_kv_str(j, "await", t->chain[i].at ? frame_callee(tf, t, i) : NULL);
		ai_json_kv_str(j, "location",
			       t->chain[i].at ? ai_tf_desc_loc(tf, t->chain[i].at, loc, sizeof(loc))
					      : NULL);
		ai_json_object_end(j);
	}
	ai_json_array_end(j);
	ai_json_kv_bool(j, "stack_complete", t->chain_end == AI_CHAIN_OK);
	ai_json_key(j, "wait");
	if (t->abi.wait_kind == ASYNC_WAIT_NONE) {
		ai_json_null(j);
	} else {
		ai_json_object_begin(j);
		ai_json_kv_str(j, "kind", ai_summary_wait_kind_name(t->abi.wait_kind));
		ai_json_kv_u64(j, "object", t->abi.wait_obj);
		s = ai_tf_wait_object(tf, t, buf, sizeof(buf));
		ai_json_kv_str(j, "description", s);
		if ((t->abi.wait_kind == ASYNC_WAIT_CHAN_RECV ||
		     t->abi.wait_kind == ASYNC_WAIT_CHAN_SEND) &&
		    t->obj_valid) {
			ai_json_kv_str(j, "object_name", ai_tf_desc_callee(tf, t->obj_desc));
			ai_json_kv_str(j, "object_location",
				       ai_tf_desc_loc(tf, t->obj_desc, loc, sizeof(loc)));
			ai_json_kv_u64(j, "senders", t->chan_senders);
			ai_json_kv_u64(j, "queued", t->chan_len);
			ai_json_kv_bool(j, "receiver", t->chan_receiver);
		}
		if (t->abi.wait_kind == ASYNC_WAIT_MUTEX && t->obj_valid) {
			ai_json_kv_str(j, "object_name", ai_tf_desc_callee(tf, t->obj_desc));
			ai_json_kv_str(j, "object_location",
				       ai_tf_desc_loc(tf, t->obj_desc, loc, sizeof(loc)));
		}
		ai_json_key(j, "holder");
		if (t->wait_for)
			ai_json_u64(j, t->wait_for);
		else
			ai_json_null(j);
		ai_json_kv_str(j, "await_location",
			       t->abi.wait_desc
				   ? ai_tf_desc_loc(tf, t->abi.wait_desc, loc, sizeof(loc))
				   : NULL);
		ai_json_object_end(j);
	}
	ai_json_object_end(j);
}

int ai_tf_open(pid_t pid, uint64_t *registry_addr, struct ai_proc_descs **descs)
{
	char what[32];
	int err;

	*descs = NULL;
	err = ai_check_pid(pid);
	if (err)
		return err;
	snprintf(what, sizeof(what), "%d", (int)pid);
	err = ai_snapshot_locate(pid, registry_addr);
	if (err == -ENOENT) {
		ai_errorf("failed to find '%s' in process %d: not a libasync program (link it "
			  "with libasync)",
			  ASYNC_REGISTRY_SYMBOL, (int)pid);
		return err;
	}
	if (err)
		return ai_err("find libasync registry in process", what, err);
	err = ai_proc_descs_load(pid, descs);
	if (err) {
		/* Names are a convenience: go on with addresses. */
		ai_warnf("cannot read async descriptors of process %d (%s): showing addresses",
			 (int)pid, strerror(-err));
		*descs = NULL;
	}
	return 0;
}

int ai_tf_snapshot(pid_t pid, uint64_t registry_addr, uint64_t only_id, bool whole,
		   struct ai_snapshot **out)
{
	static bool warned;
	struct ai_snap_opts opts = { .only_id = only_id };
	const struct ai_snapshot *s;
	char why[256];
	int err = ai_snapshot_take(pid, registry_addr, &opts, out);

	if (err) {
		ai_errorf("failed to read 'libasync registry of process %d': %s", (int)pid,
			  ai_snapshot_strerror(err));
		return err;
	}
	s = *out;
	if (!ai_snapshot_incomplete(s, why, sizeof(why))[0])
		return 0;
	if (s->tasks_end != AI_SNAP_END_CAP && ((!s->ntasks && !only_id) || whole)) {
		err = s->tasks_end == AI_SNAP_END_LOOP ? -ELOOP : -EFAULT;
		ai_errorf("failed to read 'libasync registry of process %d': %s", (int)pid, why);
		ai_snapshot_free(*out);
		*out = NULL;
		return err;
	}
	if (!warned)
		ai_warnf("%s", why);
	warned = true;
	return 0;
}

/* ---- argument parsing ------------------------------------------------------------- */

static const struct argp_option *find_long(const struct argp *argp, const char *name, size_t n)
{
	for (const struct argp_option *o = argp->options; o && (o->name || o->key); o++)
		if (o->name && strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

static const struct argp_option *find_short(const struct argp *argp, int key)
{
	for (const struct argp_option *o = argp->options; o && (o->name || o->key); o++)
		if (o->key == key)
			return o;
	return NULL;
}

/* Names the first argument argp could not take (argp itself would print two lines). */
static void explain_bad_args(const struct argp *argp, int argc, char **argv)
{
	const char *cmd = argv[0];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct argp_option *o;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1])
			continue;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			o = find_long(argp, a + 2, n);
			if (!o) {
				ai_errorf("unknown option '%s' (see 'async-inspect %s --help')", a,
					  cmd);
				return;
			}
			if (o->arg && !eq && !(o->flags & OPTION_ARG_OPTIONAL) && i + 1 >= argc) {
				ai_errorf(
				    "option '%s' needs a value (see 'async-inspect %s --help')", a,
				    cmd);
				return;
			}
			if (o->arg && !eq)
				i++;
			continue;
		}
		for (const char *c = a + 1; *c; c++) {
			o = find_short(argp, *c);
			if (!o) {
				ai_errorf("unknown option '-%c' (see 'async-inspect %s --help')",
					  *c, cmd);
				return;
			}
			if (o->arg) {
				if (!c[1] && i + 1 >= argc) {
					ai_errorf(
					    "option '-%c' needs a value (see 'async-inspect %s "
					    "--help')",
					    *c, cmd);
					return;
				}
				if (!c[1])
					i++;
				break;
			}
		}
	}
	ai_errorf("invalid arguments (see 'async-inspect %s --help')", cmd);
}

int ai_tf_parse_args(const struct argp *argp, int argc, char **argv, void *input, bool *help)
{
	int err;

	*help = false;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
		    !strcmp(argv[i], "-?") || !strcmp(argv[i], "--usage")) {
			char name[64];

			snprintf(name, sizeof(name), "async-inspect %s", argv[0]);
			argp_help(argp, stdout, ARGP_HELP_STD_HELP & ~ARGP_HELP_BUG_ADDR, name);
			*help = true;
			return 0;
		}
	}
	err =
	    argp_parse(argp, argc, argv, ARGP_NO_ERRS | ARGP_NO_EXIT | ARGP_IN_ORDER, NULL, input);
	if (err == AI_TF_ARG_REPORTED)
		return -EINVAL; /* the command's parser already said why */
	if (err) {
		explain_bad_args(argp, argc, argv);
		return -EINVAL;
	}
	return 0;
}

int ai_tf_parse_pid_cmd_key(const char *cmd, int key, const char *arg, pid_t pid)
{
	switch (key) {
	case 'v':
		ai_verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		ai_errorf("unexpected argument '%s' (see 'async-inspect %s --help')", arg, cmd);
		return AI_TF_ARG_REPORTED;
	case ARGP_KEY_END:
		if (!pid) {
			ai_errorf("missing -p PID (see 'async-inspect %s --help')", cmd);
			return AI_TF_ARG_REPORTED;
		}
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

int ai_tf_parse_binary(const char *cmd, const char **binary, const char *arg)
{
	if (*binary) {
		ai_errorf("one BINARY only: '%s' is extra (see 'async-inspect %s --help')", arg,
			  cmd);
		return AI_TF_ARG_REPORTED;
	}
	*binary = arg;
	return 0;
}

int ai_tf_parse_pid(const char *s, pid_t *pid)
{
	uint64_t v;

	if (!ai_parse_u64(s, &v) || !v || v > INT32_MAX || strspn(s, "0123456789") != strlen(s)) {
		ai_errorf("failed to parse PID '%s': not a process id", s);
		return -EINVAL;
	}
	*pid = (pid_t)v;
	return 0;
}

int ai_tf_parse_secs(const char *opt, const char *s, uint64_t *ns)
{
	if (!ai_parse_duration(s, AI_NS_PER_SEC, ns)) {
		ai_errorf("failed to parse %s '%s': not a number of seconds or a duration (500ms, "
			  "2s, 1m)",
			  opt, s);
		return -EINVAL;
	}
	return 0;
}

int ai_tf_attach_usdt(struct bpf_program *const *progs, const char *const *names, size_t n,
		      pid_t pid, const char *path, struct bpf_link **links)
{
	for (size_t i = 0; i < n; i++) {
		int err = ai_attach_usdt(progs[i], pid, path, names[i], false, &links[i]);

		if (err)
			return err;
	}
	return 0;
}
