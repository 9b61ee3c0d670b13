/* SPDX-License-Identifier: MIT */
/*
 * async-inspect list (BINARY | -p PID) [--json]
 *
 * Every USDT probe of the object(s) (provider, name, argument spec, semaphore address
 * and, for a process, whether a tracer enabled it right now) and every async function
 * with its await points and plain calls, from the descriptor section. See docs/analyze.md.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "json.h"
#include "proc.h"
#include "taskfmt.h"

struct list_opts {
	const char *binary;
	pid_t pid;
	bool json;
};

/* One object: a file, or one file mapped by the process. */
struct object {
	const char *path; /* as given or as in /proc/PID/maps */
	char *open_path;  /* what was opened (/proc/PID/root/...) */
	uint64_t bias;
	bool have_bias;
	struct ai_usdt_probe *probes;
	size_t nprobes;
	struct ai_desc_table *t; /* NULL when the object has none */
	const struct ai_desc **sorted;
};

/* Functions first grouped by name, each group: definition, then awaits/calls by line. */
static int cmp_group(const void *a, const void *b)
{
	const struct ai_desc *x = *(const struct ai_desc *const *)a;
	const struct ai_desc *y = *(const struct ai_desc *const *)b;
	int c = strcmp(x->function, y->function);
	bool xdef = x->kind != ASYNC_DESC_AWAIT && x->kind != ASYNC_DESC_CALL;
	bool ydef = y->kind != ASYNC_DESC_AWAIT && y->kind != ASYNC_DESC_CALL;

	if (c)
		return c;
	if (xdef != ydef)
		return xdef ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int object_sort(struct object *o)
{
	if (!o->t || !o->t->n)
		return 0;
	o->sorted = calloc(o->t->n, sizeof(*o->sorted));
	if (!o->sorted)
		return -ENOMEM;
	for (size_t i = 0; i < o->t->n; i++)
		o->sorted[i] = &o->t->descs[i];
	qsort(o->sorted, o->t->n, sizeof(*o->sorted), cmp_group);
	return 0;
}

static void object_free(struct object *o)
{
	free(o->open_path);
	ai_usdt_probes_free(o->probes, o->nprobes);
	ai_desc_table_free(o->t);
	free(o->sorted);
}

/* 1 enabled, 0 not, -1 unknown (no semaphore or unreadable). */
static int probe_enabled(const struct list_opts *lo, const struct object *o,
			 const struct ai_usdt_probe *p)
{
	uint16_t v;

	if (!lo->pid || !o->have_bias || !p->semaphore)
		return -1;
	if (ai_proc_read(lo->pid, p->semaphore + o->bias, &v, sizeof(v)))
		return -1;
	return v != 0;
}

static void print_text(const struct list_opts *lo, const struct object *objs, size_t n)
{
	char a[512], b[512], c[512];

	for (size_t k = 0; k < n; k++) {
		const struct object *o = &objs[k];
		size_t nd = o->t ? o->t->n : 0;

		printf("%s%s:", k ? "\n" : "", ai_printable(o->path, a, sizeof(a)));
		if (lo->pid && o->have_bias)
			printf(" (load bias 0x%" PRIx64 ")", o->bias);
		printf("\n");
		printf("  Probes (%zu):\n", o->nprobes);
		if (!o->nprobes)
			printf("    none%s\n",
			       lo->pid ? ""
				       : " in this file (a program linked with the shared "
					 "libasync has them in libasync.so: list that, or -p PID)");
		else
			printf("    %-24s %-18s %-8s %s\n", "PROBE", "SEMAPHORE",
			       lo->pid ? "ENABLED" : "", "ARGUMENTS");
		for (size_t i = 0; i < o->nprobes; i++) {
			const struct ai_usdt_probe *p = &o->probes[i];
			int en = probe_enabled(lo, o, p);
			char sema[32];

			snprintf(a, sizeof(a), "%s:%s", p->provider, p->name);
			if (p->semaphore)
				snprintf(sema, sizeof(sema), "0x%" PRIx64, p->semaphore);
			else
				snprintf(sema, sizeof(sema), "-");
			printf("    %-24s %-18s %-8s %s\n", ai_printable(a, b, sizeof(b)), sema,
			       !lo->pid ? ""
			       : en < 0 ? "?"
			       : en	? "yes"
					: "no",
			       ai_printable(p->args, c, sizeof(c)));
		}
		printf("  Async functions and await points (%zu descriptors):\n", nd);
		if (!nd)
			printf("    none\n");
		for (size_t i = 0; i < nd; i++) {
			const struct ai_desc *d = o->sorted[i];
			bool def = d->kind != ASYNC_DESC_AWAIT && d->kind != ASYNC_DESC_CALL;

			snprintf(a, sizeof(a), "%s:%u", d->file, d->line);
			if (def || i == 0 || strcmp(o->sorted[i - 1]->function, d->function)) {
				if (def)
					printf("    %s (%s)  %s\n",
					       ai_printable(d->function, b, sizeof(b)),
					       d->kind == ASYNC_DESC_FUNCTION
						   ? "async"
						   : ai_desc_kind_name(d->kind),
					       ai_printable(a, c, sizeof(c)));
				else
					printf("    %s\n", ai_printable(d->function, b, sizeof(b)));
				if (def)
					continue;
			}
			printf("      %-6s %-28s %s\n", ai_desc_kind_name(d->kind),
			       ai_printable(d->callee ? d->callee : "-", b, sizeof(b)),
			       ai_printable(a, c, sizeof(c)));
		}
	}
}

static void print_json(const struct list_opts *lo, const struct object *objs, size_t n)
{
	struct ai_json j;

	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	if (lo->pid)
		ai_json_kv_i64(&j, "pid", lo->pid);
	else
		ai_json_kv_str(&j, "pid", NULL);
	ai_json_key(&j, "objects");
	ai_json_array_begin(&j);
	for (size_t k = 0; k < n; k++) {
		const struct object *o = &objs[k];
		size_t nd = o->t ? o->t->n : 0;
		bool in_fn = false;

		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "path", o->path);
		if (lo->pid && o->have_bias)
			ai_json_kv_u64(&j, "load_bias", o->bias);
		ai_json_key(&j, "probes");
		ai_json_array_begin(&j);
		for (size_t i = 0; i < o->nprobes; i++) {
			const struct ai_usdt_probe *p = &o->probes[i];
			int en = probe_enabled(lo, o, p);

			ai_json_object_begin(&j);
			ai_json_kv_str(&j, "provider", p->provider);
			ai_json_kv_str(&j, "name", p->name);
			ai_json_kv_str(&j, "args", p->args);
			ai_json_kv_u64(&j, "address", p->pc);
			ai_json_kv_u64(&j, "semaphore", p->semaphore);
			ai_json_key(&j, "enabled");
			if (en < 0)
				ai_json_null(&j);
			else
				ai_json_bool(&j, en);
			ai_json_object_end(&j);
		}
		ai_json_array_end(&j);
		ai_json_key(&j, "functions");
		ai_json_array_begin(&j);
		for (size_t i = 0; i < nd; i++) {
			const struct ai_desc *d = o->sorted[i];
			bool def = d->kind != ASYNC_DESC_AWAIT && d->kind != ASYNC_DESC_CALL;
			bool new_fn = i == 0 || strcmp(o->sorted[i - 1]->function, d->function);

			if (def || new_fn) {
				if (in_fn) {
					ai_json_array_end(&j);
					ai_json_object_end(&j);
				}
				ai_json_object_begin(&j);
				ai_json_kv_str(&j, "name", d->function);
				ai_json_kv_str(&j, "kind", def ? ai_desc_kind_name(d->kind) : NULL);
				ai_json_kv_str(&j, "file", def ? d->file : NULL);
				if (def)
					ai_json_kv_u64(&j, "line", d->line);
				else
					ai_json_kv_str(&j, "line", NULL);
				ai_json_key(&j, "awaits");
				ai_json_array_begin(&j);
				in_fn = true;
				if (def)
					continue;
			}
			ai_json_object_begin(&j);
			ai_json_kv_str(&j, "kind", ai_desc_kind_name(d->kind));
			ai_json_kv_str(&j, "callee", d->callee);
			ai_json_kv_str(&j, "file", d->file);
			ai_json_kv_u64(&j, "line", d->line);
			ai_json_object_end(&j);
		}
		if (in_fn) {
			ai_json_array_end(&j);
			ai_json_object_end(&j);
		}
		ai_json_array_end(&j);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

/* Loads a file's probes and descriptors; -ENODATA when it has neither. */
static int object_load(struct object *o, const char *open_path)
{
	int err;

	o->open_path = strdup(open_path);
	if (!o->open_path)
		return -ENOMEM;
	err = ai_usdt_probes_load(open_path, &o->probes, &o->nprobes);
	if (err)
		return err;
	err = ai_desc_table_load(open_path, 1, &o->t);
	if (err == -ENODATA) {
		o->t = NULL;
		err = o->nprobes ? 0 : -ENODATA;
	}
	if (!err)
		err = object_sort(o);
	return err;
}

static int list_pid(const struct list_opts *lo, struct object **out, size_t *nout)
{
	struct ai_map *maps;
	struct object *objs = NULL;
	size_t nmaps, n = 0;
	int err;

	err = ai_proc_maps(lo->pid, &maps, &nmaps);
	if (err) {
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)lo->pid);
		return ai_err("read the mappings of process", pid, err);
	}
	for (size_t i = 0; i < nmaps; i++) {
		const char *mp = maps[i].path;
		char full[4096];
		struct object o = { 0 }, *no;

		if (!ai_proc_map_is_file(&maps[i]) || !ai_proc_map_first(maps, i))
			continue;
		snprintf(full, sizeof(full), "/proc/%d/root%s", (int)lo->pid, mp);
		err = object_load(&o, full);
		if (err) {
			object_free(&o);
			if (err == -ENOMEM)
				break;
			err = 0; /* libc and friends: neither probes nor descriptors */
			continue;
		}
		o.have_bias = !ai_proc_load_bias(lo->pid, mp, &o.bias);
		no = realloc(objs, (n + 1) * sizeof(*objs));
		if (!no) {
			object_free(&o);
			err = -ENOMEM;
			break;
		}
		objs = no;
		objs[n] = o;
		/* the path as the process maps it, stable for the lifetime of maps: copy */
		objs[n].path = strdup(mp);
		if (!objs[n].path) {
			object_free(&objs[n]);
			err = -ENOMEM;
			break;
		}
		n++;
	}
	ai_proc_maps_free(maps, nmaps);
	*out = objs;
	*nout = n;
	if (err)
		return ai_err("list", "probes", err);
	if (!n) {
		ai_errorf("process %d maps no object with libasync probes or async descriptors "
			  "(is it linked with libasync?)",
			  (int)lo->pid);
		return -ENOENT;
	}
	return 0;
}

enum { OPT_JSON = 0x100 };

static const char doc[] =
    "List the USDT probes and async functions of a binary or a running process.\v"
    "For each object: every USDT probe (provider, name, argument specification, "
    "semaphore address; with -p whether a tracer enabled it right now, read from the "
    "semaphore in the process' memory) and every async function with its await points "
    "and ASYNC_CALL calls (file:line), read from the async_desc section. No root is "
    "needed for a file; -p PID needs permission to read the process' memory.\n"
    "\n"
    "EXAMPLES:\n"
    "  async-inspect list ./http_server          # its async functions\n"
    "  async-inspect list .output/libasync.so    # the runtime's probes, futures\n"
    "  async-inspect list -p 1234                # everything PID 1234 maps\n"
    "  async-inspect list -p 1234 --json\n"
    "\n"
    "Exit status: 0 ok; 2 bad arguments, no such process, or a file that cannot be read, "
    "is not a 64-bit little-endian ELF file, or has neither probes nor descriptors (or a "
    "malformed descriptor section). See docs/analyze.md.";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "List what process PID maps", 0 },
	{ "json", 'j', NULL, 0, "JSON output", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct list_opts *o = state->input;

	switch (key) {
	case 'p':
		if (ai_tf_parse_pid(arg, &o->pid))
			return AI_TF_ARG_REPORTED;
		break;
	case 'j':
		o->json = true;
		break;
	case 'v':
		ai_verbose = true;
		break;
	case ARGP_KEY_ARG:
		return ai_tf_parse_binary("list", &o->binary, arg);
	case ARGP_KEY_END:
		if (!o->binary == !o->pid) {
			ai_errorf("give either BINARY or -p PID (see 'async-inspect list --help')");
			return AI_TF_ARG_REPORTED;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "BINARY | -p PID", doc, NULL,
					  NULL,	   NULL };
	struct list_opts lo = { 0 };
	struct object *objs = NULL;
	size_t n = 0;
	bool help;
	int err;

	if (ai_tf_parse_args(&argp, argc, argv, &lo, &help))
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;

	if (lo.pid) {
		if (ai_check_pid(lo.pid)) {
			err = AI_EXIT_USAGE;
			goto cleanup;
		}
		if (list_pid(&lo, &objs, &n)) {
			err = AI_EXIT_USAGE;
			goto cleanup;
		}
	} else {
		objs = calloc(1, sizeof(*objs));
		if (!objs) {
			err = AI_EXIT_FAIL;
			goto cleanup;
		}
		n = 1;
		objs[0].path = strdup(lo.binary);
		err = objs[0].path ? object_load(&objs[0], lo.binary) : -ENOMEM;
		if (err == -ENODATA) {
			ai_errorf("failed to read '%s': no libasync probes and no %s section (not "
				  "built with libasync?)",
				  lo.binary, ASYNC_DESC_SECTION);
			err = AI_EXIT_USAGE;
			goto cleanup;
		}
		if (err) {
			ai_errorf("failed to read '%s': %s", lo.binary, ai_desc_strerror(err));
			err = err == -ENOMEM ? AI_EXIT_FAIL : AI_EXIT_USAGE;
			goto cleanup;
		}
	}
	if (lo.json)
		print_json(&lo, objs, n);
	else
		print_text(&lo, objs, n);
	err = fflush(stdout) ? AI_EXIT_FAIL : AI_EXIT_OK;
cleanup:
	for (size_t i = 0; i < n; i++) {
		free((char *)objs[i].path);
		object_free(&objs[i]);
	}
	free(objs);
	return err;
}
