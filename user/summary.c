/* SPDX-License-Identifier: MIT */
/* The final summary of a traced run: building, linting, sorting and printing it. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "async/abi.h"
#include "common.h"
#include "desc.h"
#include "json.h"
#include "summary.h"

char *ai_summary_strdup(const char *str)
{
	return str ? strdup(str) : NULL;
}

int ai_summary_init(struct ai_summary *s, int32_t pid)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->system = pid < 0;
	return ai_summary_lost_add(s, "evicted_tasks", 0);
}

void ai_summary_task_free_strings(struct ai_sum_task *t)
{
	free(t->function);
	free(t->name);
	free(t->location);
	free(t->await);
	free(t->max_poll_from);
	free(t->max_poll_to);
}

void ai_summary_function_free_strings(struct ai_sum_function *f)
{
	free(f->name);
	free(f->location);
}

void ai_summary_free(struct ai_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nprocs; i++)
		free(s->procs[i].comm);
	for (size_t i = 0; i < s->ntasks; i++)
		ai_summary_task_free_strings(&s->tasks[i]);
	for (size_t i = 0; i < s->nfuncs; i++)
		ai_summary_function_free_strings(&s->funcs[i]);
	for (size_t i = 0; i < s->nawaits; i++) {
		free(s->awaits[i].function);
		free(s->awaits[i].callee);
		free(s->awaits[i].location);
	}
	for (size_t i = 0; i < s->nwarnings; i++) {
		free(s->warnings[i].kind);
		free(s->warnings[i].function);
		free(s->warnings[i].detail);
	}
	for (size_t i = 0; i < s->nlost; i++)
		free(s->lost[i].name);
	free(s->procs);
	free(s->tasks);
	free(s->funcs);
	free(s->awaits);
	free(s->warnings);
	free(s->lost);
	free(s->source);
	memset(s, 0, sizeof(*s));
}

struct ai_sum_process *ai_summary_add_process(struct ai_summary *s)
{
	return ai_add_row((void **)&s->procs, &s->nprocs, &s->cap_procs, sizeof(*s->procs));
}

struct ai_sum_task *ai_summary_add_task(struct ai_summary *s)
{
	return ai_add_row((void **)&s->tasks, &s->ntasks, &s->cap_tasks, sizeof(*s->tasks));
}

struct ai_sum_function *ai_summary_add_function(struct ai_summary *s)
{
	return ai_add_row((void **)&s->funcs, &s->nfuncs, &s->cap_funcs, sizeof(*s->funcs));
}

struct ai_sum_await *ai_summary_add_await(struct ai_summary *s)
{
	return ai_add_row((void **)&s->awaits, &s->nawaits, &s->cap_awaits, sizeof(*s->awaits));
}

int ai_summary_add_warning(struct ai_summary *s, int32_t pid, const char *kind, uint64_t task,
			   const char *function, const char *fmt, ...)
{
	struct ai_sum_warning *w;
	va_list ap;
	char *detail = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	w = ai_add_row((void **)&s->warnings, &s->nwarnings, &s->cap_warnings, sizeof(*w));
	if (!w) {
		free(detail);
		return -ENOMEM;
	}
	w->pid = pid;
	w->kind = ai_summary_strdup(kind);
	w->task = task;
	w->function = ai_summary_strdup(function);
	w->detail = detail;
	return 0;
}

int ai_summary_lost_add(struct ai_summary *s, const char *name, uint64_t value)
{
	struct ai_sum_lost *l;

	for (size_t i = 0; i < s->nlost; i++) {
		if (!strcmp(s->lost[i].name, name)) {
			s->lost[i].value += value;
			return 0;
		}
	}
	l = ai_add_row((void **)&s->lost, &s->nlost, &s->cap_lost, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->name = strdup(name);
	if (!l->name) {
		s->nlost--;
		return -ENOMEM;
	}
	l->value = value;
	return 0;
}

uint64_t ai_summary_lost_get(const struct ai_summary *s, const char *name)
{
	for (size_t i = 0; i < s->nlost; i++)
		if (!strcmp(s->lost[i].name, name))
			return s->lost[i].value;
	return 0;
}

static char *fmt_addr(uint64_t addr)
{
	char buf[32];

	if (!addr)
		return NULL;
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return strdup(buf);
}

char *ai_summary_desc_name(const struct ai_desc *d, uint64_t addr)
{
	return d && d->function ? strdup(d->function) : fmt_addr(addr);
}

char *ai_summary_desc_location(const struct ai_desc *d)
{
	char buf[512];

	return d ? strdup(ai_desc_location(d, buf, sizeof(buf))) : NULL;
}

char *ai_summary_desc_await(const struct ai_desc *d, uint64_t addr, bool with_location)
{
	char *s = NULL, loc[512];
	int n;

	if (!d)
		return fmt_addr(addr);
	if (with_location)
		n = asprintf(&s, "%s@%s (%s)", d->function ? d->function : "?",
			     d->callee ? d->callee : "?", ai_desc_location(d, loc, sizeof(loc)));
	else
		n = asprintf(&s, "%s@%s", d->function ? d->function : "?",
			     d->callee ? d->callee : "?");
	return n < 0 ? NULL : s;
}

const char *ai_summary_state_name(unsigned state)
{
	switch (state) {
	case ASYNC_TASK_IDLE:
		return "idle";
	case ASYNC_TASK_SCHEDULED:
		return "scheduled";
	case ASYNC_TASK_RUNNING:
		return "running";
	case ASYNC_TASK_DONE:
		return "done";
	}
	return "?";
}

const char *ai_summary_wait_kind_name(unsigned kind)
{
	static const char *const names[] = { "none",	  "join",  "mutex", "chan-recv",
					     "chan-send", "timer", "io",    "blocking" };

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* ---- lints --------------------------------------------------------------------------- */

void ai_summary_lint_defaults(struct ai_lint_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->long_poll_ns = 10 * 1000000ull;
	o->lost_waker_ns = 1000000000ull;
	o->self_wake_ratio = 0.5;
	o->self_wake_min_polls = 10;
	o->now_ns = ai_now_ns();
}

static int cmp_warning(const void *a, const void *b)
{
	const struct ai_sum_warning *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	return strcmp(x->kind ? x->kind : "", y->kind ? y->kind : "");
}

int ai_summary_lint(struct ai_summary *s, const struct ai_lint_opts *o)
{
	size_t ntasks = s->ntasks;
	int added = 0, err;

	for (size_t i = 0; i < ntasks; i++) {
		/* copy: adding warnings does not move tasks, but keep the row stable anyway */
		const struct ai_sum_task *t = &s->tasks[i];
		char b1[32], b2[32];

		if (t->max_poll_ns > o->long_poll_ns) {
			err = ai_summary_add_warning(
			    s, t->pid, AI_WARN_LONG_POLL, t->id, t->function,
			    "task %" PRIu64 " (%s) blocked the executor for %s in one poll "
			    "(threshold %s), resumed at %s, stopped at %s",
			    t->id, t->function ? t->function : "?",
			    ai_fmt_duration(t->max_poll_ns, b1, sizeof(b1)),
			    ai_fmt_duration(o->long_poll_ns, b2, sizeof(b2)),
			    t->max_poll_from ? t->max_poll_from : "its start",
			    t->max_poll_to ? t->max_poll_to : "completion");
			if (err)
				return err;
			added++;
		}
		if (!t->done && !t->gone_later && !strcmp(t->state ? t->state : "", "idle") &&
		    t->wait_kind == ASYNC_WAIT_NONE && t->state_since_ns &&
		    o->now_ns > t->state_since_ns &&
		    o->now_ns - t->state_since_ns >= o->lost_waker_ns) {
			err = ai_summary_add_warning(
			    s, t->pid, AI_WARN_LOST_WAKER, t->id, t->function,
			    "task %" PRIu64 " (%s) pending for %s at %s and waits on nothing "
			    "the runtime can wake (lost waker?)",
			    t->id, t->function ? t->function : "?",
			    ai_fmt_duration(o->now_ns - t->state_since_ns, b1, sizeof(b1)),
			    t->location ? t->location : "?");
			if (err)
				return err;
			added++;
		}
		if (t->polls >= o->self_wake_min_polls &&
		    (double)t->wakes_self > o->self_wake_ratio * (double)t->polls) {
			err = ai_summary_add_warning(
			    s, t->pid, AI_WARN_SELF_WAKE, t->id, t->function,
			    "task %" PRIu64 " (%s) woke itself on %" PRIu64 " of %" PRIu64
			    " polls (%.0f%%)",
			    t->id, t->function ? t->function : "?", t->wakes_self, t->polls,
			    100.0 * (double)t->wakes_self / (double)t->polls);
			if (err)
				return err;
			added++;
		}
	}
	/* deterministic order: by process, task, kind */
	if (s->nwarnings > 1)
		qsort(s->warnings, s->nwarnings, sizeof(*s->warnings), cmp_warning);
	return added;
}

/* ---- sorting ------------------------------------------------------------------------- */

int ai_summary_parse_sort(const char *str, enum ai_sum_sort *out)
{
	static const char *const names[] = { "busy", "polls", "sched", "idle", "wait" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(str, names[i])) {
			*out = (enum ai_sum_sort)i;
			return 0;
		}
	}
	return -EINVAL;
}

static enum ai_sum_sort sort_key;

static uint64_t task_key(const struct ai_sum_task *t)
{
	switch (sort_key) {
	case AI_SORT_POLLS:
		return t->polls;
	case AI_SORT_SCHED:
		return t->sched_delay_ns;
	case AI_SORT_IDLE:
		return t->idle_ns;
	case AI_SORT_WAIT:
		return t->idle_ns + t->sched_delay_ns;
	case AI_SORT_BUSY:
		break;
	}
	return t->busy_ns;
}

static uint64_t func_key(const struct ai_sum_function *f)
{
	switch (sort_key) {
	case AI_SORT_POLLS:
		return f->polls;
	case AI_SORT_SCHED:
		return f->sched_delay_ns;
	case AI_SORT_IDLE:
		return f->idle_ns;
	case AI_SORT_WAIT:
		return f->idle_ns + f->sched_delay_ns;
	case AI_SORT_BUSY:
		break;
	}
	return f->busy_ns;
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

static int cmp_task(const void *a, const void *b)
{
	const struct ai_sum_task *x = a, *y = b;
	int c = cmp_u64_desc(task_key(x), task_key(y));

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_func(const void *a, const void *b)
{
	const struct ai_sum_function *x = a, *y = b;
	int c = cmp_u64_desc(func_key(x), func_key(y));

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int cmp_await(const void *a, const void *b)
{
	const struct ai_sum_await *x = a, *y = b;
	int c = cmp_u64_desc(x->wait_ns, y->wait_ns);

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->location ? x->location : "", y->location ? y->location : "");
}

void ai_summary_sort(struct ai_summary *s, enum ai_sum_sort key)
{
	sort_key = key;
	if (s->ntasks)
		qsort(s->tasks, s->ntasks, sizeof(*s->tasks), cmp_task);
	if (s->nfuncs)
		qsort(s->funcs, s->nfuncs, sizeof(*s->funcs), cmp_func);
	if (s->nawaits)
		qsort(s->awaits, s->nawaits, sizeof(*s->awaits), cmp_await);
}

/* ---- text ---------------------------------------------------------------------------- */

#define DUR(ns) ai_fmt_duration((ns), (char[32]){ 0 }, 32)

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static void print_funcs_table(FILE *f, const struct ai_summary *s, size_t top)
{
	size_t n = top && top < s->nfuncs ? top : s->nfuncs;

	if (s->system)
		fprintf(f, "%-8s ", "PID");
	fprintf(f, "%-24s %7s %9s %10s %10s %10s %10s  %s\n", "FUNCTION", "TASKS", "POLLS", "BUSY",
		"SCHED", "IDLE", "MAX POLL", "LOCATION");
	for (size_t i = 0; i < n; i++) {
		const struct ai_sum_function *fn = &s->funcs[i];

		if (s->system)
			fprintf(f, "%-8d ", fn->pid);
		fprintf(f, "%-24s %7" PRIu64 " %9" PRIu64 " %10s %10s %10s %10s  %s\n",
			ai_tx(str_or(fn->name, "?")), fn->tasks, fn->polls, DUR(fn->busy_ns),
			DUR(fn->sched_delay_ns), DUR(fn->idle_ns), DUR(fn->max_poll_ns),
			ai_tx(str_or(fn->location, "-")));
	}
}

static void print_tasks_table(FILE *f, const struct ai_summary *s, size_t top)
{
	size_t n = top && top < s->ntasks ? top : s->ntasks;

	if (s->system)
		fprintf(f, "%-8s ", "PID");
	fprintf(f, "%8s %8s %-20s %-9s %7s %10s %10s %10s %10s  %s\n", "TASK", "PARENT", "FUNCTION",
		"STATE", "POLLS", "BUSY", "SCHED", "IDLE", "MAX POLL", "LOCATION");
	for (size_t i = 0; i < n; i++) {
		const struct ai_sum_task *t = &s->tasks[i];

		if (s->system)
			fprintf(f, "%-8d ", t->pid);
		fprintf(
		    f,
		    "%8" PRIu64 " %8" PRIu64 " %-20s %-9s %7" PRIu64 " %10s %10s %10s %10s  %s\n",
		    t->id, t->parent, ai_tx(str_or(t->function, "?")), ai_tx(str_or(t->state, "?")),
		    t->polls, DUR(t->busy_ns), DUR(t->sched_delay_ns), DUR(t->idle_ns),
		    DUR(t->max_poll_ns), ai_tx(str_or(t->location, "-")));
	}
	if (n < s->ntasks)
		fprintf(f, "... and %zu more tasks\n", s->ntasks - n);
}

static void print_header(FILE *f, const struct ai_summary *s)
{
	uint64_t polls = 0;

	for (size_t i = 0; i < s->nfuncs; i++)
		polls += s->funcs[i].polls;
	if (s->system)
		fprintf(f, "System-wide, %zu processes", s->nprocs);
	else
		fprintf(f, "PID %d (%s)", s->pid,
			ai_tx(s->nprocs && s->procs[0].comm ? s->procs[0].comm : "?"));
	fprintf(f, ", %s: %zu tasks, %zu functions, %" PRIu64 " polls\n", DUR(s->duration_ns),
		s->ntasks, s->nfuncs, polls);
}

void ai_summary_print_table(FILE *f, const struct ai_summary *s, size_t top)
{
	print_header(f, s);
	print_funcs_table(f, s, top);
	fputc('\n', f);
	print_tasks_table(f, s, top);
	fputc('\n', f);
	fflush(f);
}

void ai_summary_print_text(FILE *f, const struct ai_summary *s, size_t top)
{
	print_header(f, s);
	fputc('\n', f);
	print_funcs_table(f, s, 0);
	for (size_t i = 0; i < s->nfuncs; i++) {
		const struct ai_sum_function *fn = &s->funcs[i];

		fprintf(f, "\n");
		if (s->system)
			fprintf(f, "[pid %d] ", fn->pid);
		fprintf(f, "%s: poll duration\n", ai_tx(str_or(fn->name, "?")));
		ai_hist_print(f, fn->poll_ns_log2, AI_HIST_SLOTS, "nsecs");
		if (s->system)
			fprintf(f, "[pid %d] ", fn->pid);
		fprintf(f, "%s: scheduling delay (woken -> polled)\n",
			ai_tx(str_or(fn->name, "?")));
		ai_hist_print(f, fn->sched_delay_ns_log2, AI_HIST_SLOTS, "nsecs");
	}
	if (s->nawaits) {
		fprintf(f, "\nAwait points:\n");
		if (s->system)
			fprintf(f, "%-8s ", "PID");
		fprintf(f, "%-40s %9s %10s %10s  %s\n", "AWAIT", "WAITS", "WAIT", "MAX WAIT",
			"LOCATION");
		for (size_t i = 0; i < s->nawaits; i++) {
			const struct ai_sum_await *a = &s->awaits[i];
			char name[256];

			snprintf(name, sizeof(name), "%s@%s", str_or(a->function, "?"),
				 str_or(a->callee, "?"));
			if (s->system)
				fprintf(f, "%-8d ", a->pid);
			fprintf(f, "%-40s %9" PRIu64 " %10s %10s  %s\n", ai_tx(name), a->waits,
				DUR(a->wait_ns), DUR(a->max_wait_ns),
				ai_tx(str_or(a->location, "-")));
		}
		for (size_t i = 0; i < s->nawaits; i++) {
			const struct ai_sum_await *a = &s->awaits[i];

			fprintf(f, "\n%s@%s (%s): time waited\n", ai_tx(str_or(a->function, "?")),
				ai_tx(str_or(a->callee, "?")), ai_tx(str_or(a->location, "-")));
			ai_hist_print(f, a->wait_ns_log2, AI_HIST_SLOTS, "nsecs");
		}
	}
	fprintf(f, "\nTasks:\n");
	print_tasks_table(f, s, top);
	if (s->nwarnings) {
		fprintf(f, "\nWarnings:\n");
		for (size_t i = 0; i < s->nwarnings; i++) {
			const struct ai_sum_warning *w = &s->warnings[i];

			fprintf(f, "  %s: ", ai_tx(w->kind));
			if (s->system)
				fprintf(f, "[pid %d] ", w->pid);
			fprintf(f, "%s\n", ai_tx(str_or(w->detail, "")));
		}
	}
	fprintf(f, "\nLost:");
	for (size_t i = 0; i < s->nlost; i++)
		fprintf(f, " %s=%" PRIu64, ai_tx(s->lost[i].name), s->lost[i].value);
	fprintf(f, "\n");
	fflush(f);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void json_hist(struct ai_json *j, const char *key, const uint64_t *slots)
{
	unsigned last = 0;

	/* trailing empty slots are dropped; index i is still slot i */
	for (unsigned i = 0; i < AI_HIST_SLOTS; i++)
		if (slots[i])
			last = i + 1;
	ai_json_key(j, key);
	ai_json_array_begin(j);
	for (unsigned i = 0; i < last; i++)
		ai_json_u64(j, slots[i]);
	ai_json_array_end(j);
}

void ai_summary_print_json(FILE *f, const struct ai_summary *s, bool pretty)
{
	struct ai_json j;

	ai_json_init(&j, f, pretty);
	ai_json_object_begin(&j);
	ai_json_kv_str(&j, "source", s->source ? s->source : "trace");
	ai_json_kv_i64(&j, "pid", s->pid);
	ai_json_kv_bool(&j, "system", s->system);
	ai_json_kv_u64(&j, "duration_ns", s->duration_ns);

	ai_json_key(&j, "processes");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct ai_sum_process *p = &s->procs[i];

		ai_json_object_begin(&j);
		ai_json_kv_i64(&j, "pid", p->pid);
		ai_json_kv_str(&j, "comm", p->comm);
		ai_json_kv_bool(&j, "exited", p->exited);
		ai_json_kv_i64(&j, "exit_status", p->exit_status);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);

	ai_json_key(&j, "tasks");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_sum_task *t = &s->tasks[i];

		ai_json_object_begin(&j);
		ai_json_kv_i64(&j, "pid", t->pid);
		ai_json_kv_u64(&j, "id", t->id);
		ai_json_kv_str(&j, "function", t->function);
		ai_json_kv_str(&j, "name", t->name);
		ai_json_kv_u64(&j, "parent", t->parent);
		ai_json_kv_str(&j, "state", t->state);
		ai_json_kv_u64(&j, "state_since_ns", t->state_since_ns);
		ai_json_kv_str(&j, "location", t->location);
		ai_json_kv_str(&j, "await", t->await);
		ai_json_kv_str(&j, "wait_kind", ai_summary_wait_kind_name(t->wait_kind));
		ai_json_kv_u64(&j, "spawn_ns", t->spawn_ns);
		ai_json_kv_u64(&j, "polls", t->polls);
		ai_json_kv_u64(&j, "busy_ns", t->busy_ns);
		ai_json_kv_u64(&j, "idle_ns", t->idle_ns);
		ai_json_kv_u64(&j, "sched_delay_ns", t->sched_delay_ns);
		ai_json_kv_u64(&j, "max_poll_ns", t->max_poll_ns);
		ai_json_kv_str(&j, "max_poll_from", t->max_poll_from);
		ai_json_kv_str(&j, "max_poll_to", t->max_poll_to);
		ai_json_kv_u64(&j, "wakes_self", t->wakes_self);
		ai_json_kv_u64(&j, "wakes_other", t->wakes_other);
		ai_json_kv_bool(&j, "done", t->done);
		if (t->done)
			ai_json_kv_i64(&j, "result", t->result);
		else {
			ai_json_key(&j, "result");
			ai_json_null(&j);
		}
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);

	ai_json_key(&j, "functions");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->nfuncs; i++) {
		const struct ai_sum_function *fn = &s->funcs[i];

		ai_json_object_begin(&j);
		ai_json_kv_i64(&j, "pid", fn->pid);
		ai_json_kv_str(&j, "name", fn->name);
		ai_json_kv_str(&j, "location", fn->location);
		ai_json_kv_u64(&j, "tasks", fn->tasks);
		ai_json_kv_u64(&j, "nested_waits", fn->calls);
		ai_json_kv_bool(&j, "root", fn->tasks > 0);
		ai_json_kv_u64(&j, "polls", fn->polls);
		ai_json_kv_u64(&j, "busy_ns", fn->busy_ns);
		ai_json_kv_u64(&j, "idle_ns", fn->idle_ns);
		ai_json_kv_u64(&j, "sched_delay_ns", fn->sched_delay_ns);
		ai_json_kv_u64(&j, "max_poll_ns", fn->max_poll_ns);
		ai_json_kv_u64(&j, "long_polls", fn->long_polls);
		json_hist(&j, "poll_ns_log2", fn->poll_ns_log2);
		json_hist(&j, "sched_delay_ns_log2", fn->sched_delay_ns_log2);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);

	ai_json_key(&j, "await_points");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->nawaits; i++) {
		const struct ai_sum_await *a = &s->awaits[i];

		ai_json_object_begin(&j);
		ai_json_kv_i64(&j, "pid", a->pid);
		ai_json_kv_str(&j, "function", a->function);
		ai_json_kv_str(&j, "callee", a->callee);
		ai_json_kv_str(&j, "location", a->location);
		ai_json_kv_u64(&j, "waits", a->waits);
		ai_json_kv_u64(&j, "wait_ns", a->wait_ns);
		ai_json_kv_u64(&j, "max_wait_ns", a->max_wait_ns);
		json_hist(&j, "wait_ns_log2", a->wait_ns_log2);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);

	ai_json_key(&j, "warnings");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->nwarnings; i++) {
		const struct ai_sum_warning *w = &s->warnings[i];

		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "kind", w->kind);
		ai_json_kv_i64(&j, "pid", w->pid);
		ai_json_kv_u64(&j, "task", w->task);
		ai_json_kv_str(&j, "function", w->function);
		ai_json_kv_str(&j, "detail", w->detail);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);

	ai_json_key(&j, "lost");
	ai_json_object_begin(&j);
	for (size_t i = 0; i < s->nlost; i++)
		ai_json_kv_u64(&j, s->lost[i].name, s->lost[i].value);
	ai_json_object_end(&j);

	ai_json_object_end(&j);
	ai_json_finish(&j);
	fflush(f);
}
