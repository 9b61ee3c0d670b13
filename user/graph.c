/* SPDX-License-Identifier: MIT */
/*
 * async-inspect graph -p PID [-d SECS] [--dot | --json]: the relationships between the
 * tasks of a libasync process: the spawn tree, who waits for whom right now (JoinHandle,
 * mutex holder, channel), and, watched over -d SECS with BPF (bpf/graph.bpf.c), who
 * woke whom how often, who spawned whom, and every wait. -d 0 reads only the registry
 * in process memory (no BPF).
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "async/abi.h"
#include "commands.h"
#include "common.h"
#include "desc.h"
#include "bpf/graph.h"
#include "graph.skel.h"
#include "json.h"
#include "names.h"
#include "proc.h"
#include "snapshot.h"
#include "summary.h"
#include "taskfmt.h"
#include "waitgraph.h"

enum graph_format { FMT_TEXT, FMT_DOT, FMT_JSON };

struct graph_args {
	pid_t pid;
	uint64_t duration_ns;
	enum graph_format fmt;
};

static const char doc[] =
    "The relationships between the tasks of a libasync process: the spawn tree, who "
    "waits for whom right now (a JoinHandle, a mutex and its holder, a channel), and, "
    "watched with BPF for -d SECS, who wakes whom (with counts), who spawned whom and "
    "every wait. Circular waits are marked. --dot renders with Graphviz: "
    "dot -Tsvg.\v"
    "EXAMPLES:\n"
    "  sudo async-inspect graph -p 1234                  # watch 2 s, print text\n"
    "  sudo async-inspect graph -p 1234 -d 5 --dot | dot -Tsvg > g.svg\n"
    "  sudo async-inspect graph -p 1234 -d 0 --json      # registry only, no BPF\n";

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to inspect (required)", 0 },
	{ "duration", 'd', "SECS", 0,
	  "Watch wakes, spawns and waits this long (default 2; 0: registry only)", 0 },
	{ "dot", 'D', NULL, 0, "Print Graphviz DOT", 0 },
	{ "json", 'j', NULL, 0, "Print one JSON document", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose diagnostics (libbpf debug output)", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct graph_args *a = state->input;

	switch (key) {
	case 'p':
		return ai_tf_parse_pid(arg, &a->pid) ? AI_TF_ARG_REPORTED : 0;
	case 'd':
		return ai_tf_parse_secs("-d", arg, &a->duration_ns) ? AI_TF_ARG_REPORTED : 0;
	case 'D':
	case 'j':
		if (a->fmt != FMT_TEXT) {
			ai_errorf("--dot and --json exclude each other");
			return AI_TF_ARG_REPORTED;
		}
		a->fmt = key == 'D' ? FMT_DOT : FMT_JSON;
		return 0;
	}
	return ai_tf_parse_pid_cmd_key("graph", key, arg, a->pid);
}

static const struct argp argp = { options, parse_arg, NULL, doc, NULL, NULL, NULL };

/* ---- the merged model ------------------------------------------------------------- */

struct node {
	uint64_t id;
	uint64_t parent;
	const struct ai_snap_task *live; /* NULL: seen only by the probes */
	struct graph_task seen;		 /* what the window saw (zero without BPF) */
	bool in_window;
	char name[AI_SNAP_NAME_MAX];
	char function[128];
};

struct wake {
	uint64_t waker, woken, count;
};

struct wait_ev {
	struct graph_wait_key key;
	struct graph_wait val;
};

struct model {
	pid_t pid;
	uint64_t duration_ns;
	const struct ai_snapshot *snap;
	struct ai_taskfmt tf;
	struct ai_waitgraph *wg; /* over snap->tasks */
	struct node *nodes;	 /* sorted by id */
	size_t nnodes;
	struct wake *wakes;
	size_t nwakes;
	struct wait_ev *waits;
	size_t nwaits;
	uint64_t stats[GRAPH_STAT_MAX];
	bool bpf;
	bool exited; /* the target exited while watched: no live tasks */
	/* the spawn tree in linear time: node indexes sorted by (parent, id) */
	size_t *kids;
	uint8_t *mark;	      /* per node: enum tree_mark */
	bool *cycle_task;     /* per live task: its wait-for edge is in a cycle */
	size_t too_deep;      /* nodes left out of the tree: deeper than TREE_DEPTH_MAX */
	size_t parent_cycles; /* nodes left out: on or under a cycle of parent links */
	uint64_t cycle_example;
};

#define TREE_DEPTH_MAX 32

enum tree_mark { MARK_NONE, MARK_PRINTED, MARK_DEEP, MARK_CYCLE, MARK_ON_PATH };

static int cmp_node(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_wake(const void *a, const void *b)
{
	const struct wake *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->waker != y->waker)
		return x->waker < y->waker ? -1 : 1;
	return x->woken < y->woken ? -1 : x->woken > y->woken;
}

static struct node *find_node(const struct model *m, uint64_t id)
{
	size_t lo = 0, hi = m->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->nodes[mid].id == id)
			return &m->nodes[mid];
		if (m->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Reads the window's maps; tasks seen there but not live become nodes too. */
static int read_maps(struct model *m, struct graph_bpf *skel, struct node **extra, size_t *nextra)
{
	int tfd = bpf_map__fd(skel->maps.tasks), wfd = bpf_map__fd(skel->maps.wakes);
	int afd = bpf_map__fd(skel->maps.waits);
	size_t cap = 0;
	uint64_t id, *prev = NULL;
	struct graph_wake_key wk, *wprev = NULL;
	struct graph_wait_key ak, *aprev = NULL;

	*extra = NULL;
	*nextra = 0;
	memcpy(m->stats, skel->bss->stats, sizeof(m->stats));
	while (!bpf_map_get_next_key(tfd, prev, &id)) {
		struct node *n;

		prev = &id;
		if (*nextra == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(*extra, ncap * sizeof(**extra));

			if (!p)
				return -ENOMEM;
			*extra = p;
			cap = ncap;
		}
		n = &(*extra)[*nextra];
		memset(n, 0, sizeof(*n));
		n->id = id;
		if (bpf_map_lookup_elem(tfd, &id, &n->seen))
			continue;
		n->in_window = true;
		(*nextra)++;
	}
	cap = 0;
	while (!bpf_map_get_next_key(wfd, wprev, &wk)) {
		uint64_t cnt;

		wprev = &wk;
		if (bpf_map_lookup_elem(wfd, &wk, &cnt))
			continue;
		if (m->nwakes == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(m->wakes, ncap * sizeof(*m->wakes));

			if (!p)
				return -ENOMEM;
			m->wakes = p;
			cap = ncap;
		}
		m->wakes[m->nwakes++] = (struct wake){ wk.waker, wk.woken, cnt };
	}
	if (m->nwakes > 1)
		qsort(m->wakes, m->nwakes, sizeof(*m->wakes), cmp_wake);
	cap = 0;
	while (!bpf_map_get_next_key(afd, aprev, &ak)) {
		struct graph_wait v;

		aprev = &ak;
		if (bpf_map_lookup_elem(afd, &ak, &v))
			continue;
		if (m->nwaits == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(m->waits, ncap * sizeof(*m->waits));

			if (!p)
				return -ENOMEM;
			m->waits = p;
			cap = ncap;
		}
		m->waits[m->nwaits++] = (struct wait_ev){ ak, v };
	}
	return 0;
}

/* Live tasks from the snapshot, plus tasks only the window saw. */
static int build_nodes(struct model *m, struct node *extra, size_t nextra)
{
	const struct ai_snapshot *s = m->snap;
	size_t n = 0;

	m->nodes = calloc(s->ntasks + nextra + 1, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < s->ntasks; i++) {
		struct node *x = &m->nodes[n++];

		x->id = s->tasks[i].abi.id;
		x->parent = s->tasks[i].abi.parent_id;
		x->live = &s->tasks[i];
		snprintf(x->name, sizeof(x->name), "%s", s->tasks[i].name);
		ai_tf_function(&m->tf, &s->tasks[i], x->function, sizeof(x->function));
	}
	m->nnodes = n;
	if (n > 1)
		qsort(m->nodes, n, sizeof(*m->nodes), cmp_node);
	for (size_t i = 0; i < nextra; i++) {
		struct node *x = find_node(m, extra[i].id);
		const char *fn;

		if (x) {
			x->seen = extra[i].seen;
			x->in_window = true;
			continue;
		}
		x = &m->nodes[n++];
		*x = extra[i];
		x->parent = x->seen.spawned ? x->seen.parent : 0;
		if (x->seen.name)
			ai_proc_read_str(m->pid, x->seen.name, x->name, sizeof(x->name));
		fn = ai_tf_desc_function(&m->tf, x->seen.fn);
		snprintf(x->function, sizeof(x->function), "%s",
			 fn	      ? fn
			 : x->name[0] ? x->name
				      : "?");
	}
	m->nnodes = n;
	if (n > 1)
		qsort(m->nodes, n, sizeof(*m->nodes), cmp_node);
	return 0;
}

static const char *node_state(const struct model *m, const struct node *x, char *buf, size_t len)
{
	if (x->live)
		return ai_tf_state(&m->tf, x->live, buf, len);
	snprintf(buf, len, "%s%s", x->seen.done_ns ? "ended" : "not live",
		 x->seen.spawned ? "" : "; spawned before watching, parent unknown");
	return buf;
}

/* Is the wait-for edge of live task index i part of a circular wait? */
static bool in_cycle(const struct model *m, size_t task_index)
{
	return m->cycle_task && m->cycle_task[task_index];
}

static const struct model *kid_sort_model;

static int cmp_kid(const void *a, const void *b)
{
	const struct node *x = &kid_sort_model->nodes[*(const size_t *)a];
	const struct node *y = &kid_sort_model->nodes[*(const size_t *)b];

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The indexes: children by parent, cycle membership by task. Linear after one sort. */
static int build_index(struct model *m)
{
	size_t ntasks = m->snap->ntasks;

	m->kids = malloc((m->nnodes + 1) * sizeof(*m->kids));
	m->mark = calloc(m->nnodes + 1, 1);
	m->cycle_task = calloc(ntasks + 1, sizeof(bool));
	if (!m->kids || !m->mark || !m->cycle_task)
		return -ENOMEM;
	for (size_t i = 0; i < m->nnodes; i++)
		m->kids[i] = i;
	kid_sort_model = m;
	if (m->nnodes > 1)
		qsort(m->kids, m->nnodes, sizeof(*m->kids), cmp_kid);
	for (size_t k = 0; k < m->wg->ncycles; k++)
		for (size_t i = 0; i < m->wg->cycles[k].len; i++)
			if (m->wg->cycles[k].nodes[i] < ntasks)
				m->cycle_task[m->wg->cycles[k].nodes[i]] = true;
	return 0;
}

/* Position in m->kids of the first child of id (children follow while parent == id). */
static size_t first_kid(const struct model *m, uint64_t id)
{
	size_t lo = 0, hi = m->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->nodes[m->kids[mid]].parent < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * After the tree is printed: why each node left out was left out. Each walk up the
 * parent links stops at a node already judged, so this is linear in the nodes.
 */
static void judge_left_out(struct model *m)
{
	size_t *path = malloc((m->nnodes + 1) * sizeof(*path));

	if (!path)
		return;
	for (size_t i = 0; i < m->nnodes; i++) {
		size_t n = 0, j = i;
		uint8_t verdict = MARK_DEEP;

		while (m->mark[j] == MARK_NONE) {
			struct node *p;

			m->mark[j] = MARK_ON_PATH;
			path[n++] = j;
			p = find_node(m, m->nodes[j].parent);
			if (!p) /* a root is printed: not reached */
				break;
			j = (size_t)(p - m->nodes);
			/* met the path itself, or a cycle met before: parent links loop */
			if (m->mark[j] == MARK_ON_PATH || m->mark[j] == MARK_CYCLE)
				verdict = MARK_CYCLE;
		}
		if (verdict == MARK_CYCLE && !m->cycle_example)
			m->cycle_example = m->nodes[j].id;
		for (size_t k = 0; k < n; k++) {
			m->mark[path[k]] = verdict;
			if (verdict == MARK_CYCLE)
				m->parent_cycles++;
			else
				m->too_deep++;
		}
	}
	free(path);
}

/* ---- text ------------------------------------------------------------------------- */

static void print_tree(const struct model *m, const struct node *x, const char *prefix, bool last,
		       int depth)
{
	char st[160], np[512];

	if (depth > TREE_DEPTH_MAX)
		return;
	m->mark[x - m->nodes] = MARK_PRINTED;
	printf("%s%s#%" PRIu64 " %s", ai_tx(prefix), depth ? (last ? "`-- " : "|-- ") : "", x->id,
	       ai_tx(x->function));
	if (x->name[0] && strcmp(x->name, x->function))
		printf(" \"%s\"", ai_tx(x->name));
	printf("  [%s]\n", ai_tx(node_state(m, x, st, sizeof(st))));
	snprintf(np, sizeof(np), "%s%s", prefix, depth ? (last ? "    " : "|   ") : "");
	for (size_t k = first_kid(m, x->id); k < m->nnodes; k++) {
		const struct node *c = &m->nodes[m->kids[k]];
		bool more;

		if (c->parent != x->id)
			break;
		if (c->id == x->id)
			continue;
		more = k + 1 < m->nnodes && m->nodes[m->kids[k + 1]].parent == x->id &&
		       m->nodes[m->kids[k + 1]].id != x->id;
		print_tree(m, c, np, !more, depth + 1);
	}
}

static void label(const struct model *m, uint64_t id, char *buf, size_t len)
{
	const struct node *x = find_node(m, id);

	if (!id)
		snprintf(buf, len, "runtime (timer, i/o or a thread outside tasks)");
	else if (x)
		snprintf(buf, len, "#%" PRIu64 " %s", id, x->function);
	else
		snprintf(buf, len, "#%" PRIu64, id);
}

static void print_text(const struct model *m)
{
	const struct ai_snapshot *s = m->snap;
	char a[192], b[192], w[640], dur[32];
	size_t nwaits = 0;

	if (m->exited)
		printf("PID %d exited while watched: no live tasks", (int)m->pid);
	else if (s->truncated)
		printf("PID %d: %" PRIu64 " live tasks (showing %zu)", (int)m->pid,
		       (uint64_t)s->reg.live_tasks, s->ntasks);
	else
		printf("PID %d: %zu live tasks", (int)m->pid, s->ntasks);
	if (m->bpf)
		printf(", %zu more seen only while watching for %s", m->nnodes - s->ntasks,
		       ai_fmt_duration(m->duration_ns, dur, sizeof(dur)));
	printf("\n\nSpawn tree:\n");
	for (size_t i = 0; i < m->nnodes; i++) {
		const struct node *x = &m->nodes[i];

		if (x->parent && find_node(m, x->parent) && x->parent != x->id)
			continue;
		print_tree(m, x, "  ", true, 0);
	}
	judge_left_out((struct model *)m);
	if (m->too_deep)
		printf("  ... %zu task%s deeper than %d levels not shown\n", m->too_deep,
		       m->too_deep == 1 ? "" : "s", TREE_DEPTH_MAX);
	if (m->parent_cycles)
		printf("  ... %zu task%s not shown: on or under a cycle of parent links (at "
		       "#%" PRIu64 ")\n",
		       m->parent_cycles, m->parent_cycles == 1 ? "" : "s", m->cycle_example);

	printf("\nWaits for (now):\n");
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];

		if (t->abi.state != ASYNC_TASK_IDLE || !ai_tf_wait(&m->tf, t, w, sizeof(w)) ||
		    t->abi.wait_kind == ASYNC_WAIT_TIMER || t->abi.wait_kind == ASYNC_WAIT_IO)
			continue;
		label(m, t->abi.id, a, sizeof(a));
		printf("  %s -> %s%s\n", ai_tx(a), ai_tx(w),
		       ai_tx(in_cycle(m, i) ? "   <== CIRCULAR WAIT" : ""));
		nwaits++;
	}
	if (!nwaits)
		printf("  (no task waits for another task, a mutex or a channel)\n");

	if (!m->bpf)
		return;
	printf("\nWakes over %s (waker -> woken: count):\n",
	       ai_fmt_duration(m->duration_ns, dur, sizeof(dur)));
	for (size_t i = 0; i < m->nwakes; i++) {
		label(m, m->wakes[i].waker, a, sizeof(a));
		label(m, m->wakes[i].woken, b, sizeof(b));
		if (m->wakes[i].waker == m->wakes[i].woken)
			printf("  %s -> itself: %" PRIu64 "\n", ai_tx(a), m->wakes[i].count);
		else
			printf("  %s -> %s: %" PRIu64 "\n", ai_tx(a), ai_tx(b), m->wakes[i].count);
	}
	if (!m->nwakes)
		printf("  (none)\n");
	printf("\nWaits over %s (task: object x count):\n",
	       ai_fmt_duration(m->duration_ns, dur, sizeof(dur)));
	nwaits = 0;
	for (size_t i = 0; i < m->nwaits; i++) {
		const struct wait_ev *e = &m->waits[i];

		if (e->key.kind == ASYNC_WAIT_TIMER || e->key.kind == ASYNC_WAIT_IO)
			continue;
		label(m, e->key.task, a, sizeof(a));
		printf("  %s: %s 0x%" PRIx64 " x%" PRIu64, ai_tx(a),
		       ai_tx(ai_summary_wait_kind_name(e->key.kind)), (uint64_t)e->key.obj,
		       (uint64_t)e->val.count);
		if (e->val.holder) {
			label(m, e->val.holder, b, sizeof(b));
			printf(" (held by %s)", ai_tx(b));
		}
		putchar('\n');
		nwaits++;
	}
	if (!nwaits)
		printf("  (no join, mutex or channel waits)\n");
	if (m->stats[GRAPH_STAT_LOST_TASKS] || m->stats[GRAPH_STAT_LOST_WAKES] ||
	    m->stats[GRAPH_STAT_LOST_WAITS])
		printf("\nnote: maps full, events not counted: %" PRIu64 " tasks, %" PRIu64
		       " wakes, %" PRIu64 " waits\n",
		       (uint64_t)m->stats[GRAPH_STAT_LOST_TASKS],
		       (uint64_t)m->stats[GRAPH_STAT_LOST_WAKES],
		       (uint64_t)m->stats[GRAPH_STAT_LOST_WAITS]);
}

/* ---- DOT -------------------------------------------------------------------------- */

static void dot_str(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
}

static void print_dot(const struct model *m)
{
	const struct ai_snapshot *s = m->snap;
	char st[160], loc[256], obj[640];

	printf("digraph async_tasks {\n"
	       "  graph [rankdir=LR, fontname=\"Helvetica\", label=\"async-inspect graph: PID "
	       "%d\"];\n"
	       "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n"
	       "  edge [fontname=\"Helvetica\", fontsize=9];\n",
	       (int)m->pid);
	for (size_t i = 0; i < m->nnodes; i++) {
		const struct node *x = &m->nodes[i];

		printf("  t%" PRIu64 " [label=\"#%" PRIu64 " ", x->id, x->id);
		dot_str(x->function);
		printf("\\n");
		dot_str(node_state(m, x, st, sizeof(st)));
		if (x->live && ai_tf_location(&m->tf, x->live, loc, sizeof(loc))) {
			printf("\\n");
			dot_str(loc);
		}
		printf("\"%s];\n", x->live ? "" : ", style=\"rounded,dashed\", color=gray");
	}
	/* spawn edges */
	for (size_t i = 0; i < m->nnodes; i++) {
		const struct node *x = &m->nodes[i];

		if (x->parent && x->parent != x->id && find_node(m, x->parent))
			printf("  t%" PRIu64 " -> t%" PRIu64
			       " [style=dashed, color=gray50, label=\"spawned\"];\n",
			       x->parent, x->id);
	}
	/* wait-for edges, through object nodes for mutexes and channels */
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];
		const char *attr = in_cycle(m, i) ? ", penwidth=3" : "";

		if (t->abi.state != ASYNC_TASK_IDLE)
			continue;
		switch (t->abi.wait_kind) {
		case ASYNC_WAIT_JOIN:
			if (t->wait_for)
				printf("  t%" PRIu64 " -> t%" PRIu64
				       " [color=red, label=\"awaits JoinHandle\"%s];\n",
				       (uint64_t)t->abi.id, t->wait_for, ai_tx(attr));
			break;
		case ASYNC_WAIT_MUTEX:
		case ASYNC_WAIT_CHAN_RECV:
		case ASYNC_WAIT_CHAN_SEND:
			ai_tf_wait_object(&m->tf, t, obj, sizeof(obj));
			printf("  o%" PRIx64 " [shape=%s, style=\"\", label=\"",
			       (uint64_t)t->abi.wait_obj,
			       t->abi.wait_kind == ASYNC_WAIT_MUTEX ? "octagon" : "cds");
			dot_str(obj);
			printf("\"];\n  t%" PRIu64 " -> o%" PRIx64
			       " [color=red, label=\"%s\"%s];\n",
			       (uint64_t)t->abi.id, (uint64_t)t->abi.wait_obj,
			       t->abi.wait_kind == ASYNC_WAIT_MUTEX	  ? "waits for"
			       : t->abi.wait_kind == ASYNC_WAIT_CHAN_RECV ? "receives"
									  : "sends",
			       ai_tx(attr));
			if (t->abi.wait_kind == ASYNC_WAIT_MUTEX && t->wait_for &&
			    find_node(m, t->wait_for))
				printf("  o%" PRIx64 " -> t%" PRIu64
				       " [color=red, label=\"held by\"%s];\n",
				       (uint64_t)t->abi.wait_obj, t->wait_for, ai_tx(attr));
			break;
		}
	}
	/* wake edges */
	if (m->bpf) {
		bool runtime = false;

		for (size_t i = 0; i < m->nwakes; i++) {
			const struct wake *w = &m->wakes[i];

			if (!w->waker && !runtime) {
				printf("  runtime [shape=ellipse, label=\"runtime\\n(timers, "
				       "i/o)\"];\n");
				runtime = true;
			}
			if (w->waker && !find_node(m, w->waker))
				continue;
			if (w->waker)
				printf("  t%" PRIu64, w->waker);
			else
				printf("  runtime");
			printf(" -> t%" PRIu64 " [color=blue, label=\"wakes x%" PRIu64 "\"];\n",
			       w->woken, w->count);
		}
	}
	printf("}\n");
}

/* ---- JSON ------------------------------------------------------------------------- */

static void print_json(const struct model *m)
{
	const struct ai_snapshot *s = m->snap;
	char st[160], loc[256], obj[640];
	struct ai_json j;

	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	ai_json_kv_i64(&j, "pid", m->pid);
	ai_json_kv_u64(&j, "duration_ns", m->bpf ? m->duration_ns : 0);
	ai_json_kv_bool(&j, "exited", m->exited);
	ai_json_key(&j, "tasks");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < m->nnodes; i++) {
		const struct node *x = &m->nodes[i];

		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "id", x->id);
		ai_json_kv_str(&j, "name", x->name[0] ? x->name : NULL);
		ai_json_kv_str(&j, "function", x->function);
		ai_json_kv_u64(&j, "parent", x->parent);
		ai_json_kv_bool(&j, "live", x->live != NULL);
		ai_json_kv_str(&j, "state", node_state(m, x, st, sizeof(st)));
		ai_json_kv_str(&j, "location",
			       x->live ? ai_tf_location(&m->tf, x->live, loc, sizeof(loc)) : NULL);
		ai_json_kv_u64(&j, "polls_in_window", x->seen.polls);
		ai_json_kv_bool(&j, "spawned_in_window", x->seen.spawned);
		ai_json_kv_bool(&j, "ended_in_window", x->seen.done_ns != 0);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "spawn_edges");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < m->nnodes; i++) {
		if (!m->nodes[i].parent)
			continue;
		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "parent", m->nodes[i].parent);
		ai_json_kv_u64(&j, "child", m->nodes[i].id);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "wait_edges");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ai_snap_task *t = &s->tasks[i];

		if (t->abi.state != ASYNC_TASK_IDLE || t->abi.wait_kind == ASYNC_WAIT_NONE)
			continue;
		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "from", t->abi.id);
		ai_json_key(&j, "to");
		if (t->wait_for)
			ai_json_u64(&j, t->wait_for);
		else
			ai_json_null(&j);
		ai_json_kv_str(&j, "kind", ai_summary_wait_kind_name(t->abi.wait_kind));
		ai_json_kv_u64(&j, "object", t->abi.wait_obj);
		ai_json_kv_str(&j, "object_description",
			       ai_tf_wait_object(&m->tf, t, obj, sizeof(obj)));
		ai_json_kv_bool(&j, "in_cycle", in_cycle(m, i));
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "wake_edges");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < m->nwakes; i++) {
		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "waker", m->wakes[i].waker);
		ai_json_kv_u64(&j, "woken", m->wakes[i].woken);
		ai_json_kv_u64(&j, "count", m->wakes[i].count);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "wait_events");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < m->nwaits; i++) {
		const struct wait_ev *e = &m->waits[i];

		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "task", e->key.task);
		ai_json_kv_str(&j, "kind", ai_summary_wait_kind_name(e->key.kind));
		ai_json_kv_u64(&j, "object", e->key.obj);
		ai_json_kv_u64(&j, "holder", e->val.holder);
		ai_json_kv_u64(&j, "count", e->val.count);
		ai_json_kv_str(&j, "await_location",
			       e->val.desc ? ai_tf_desc_loc(&m->tf, e->val.desc, loc, sizeof(loc))
					   : NULL);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "cycles");
	ai_json_array_begin(&j);
	for (size_t k = 0; k < m->wg->ncycles; k++) {
		ai_json_array_begin(&j);
		for (size_t i = 0; i < m->wg->cycles[k].len; i++)
			ai_json_u64(&j, s->tasks[m->wg->cycles[k].nodes[i]].abi.id);
		ai_json_array_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "lost");
	ai_json_object_begin(&j);
	ai_json_kv_u64(&j, "tasks", m->stats[GRAPH_STAT_LOST_TASKS]);
	ai_json_kv_u64(&j, "wakes", m->stats[GRAPH_STAT_LOST_WAKES]);
	ai_json_kv_u64(&j, "waits", m->stats[GRAPH_STAT_LOST_WAITS]);
	ai_json_object_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

/* ---- main flow -------------------------------------------------------------------- */

static int attach(struct graph_bpf *skel, pid_t pid, const char *path)
{
	static const char *const names[] = { "poll", "task_spawn", "task_done", "wait" };
	struct bpf_program *progs[] = { skel->progs.graph_poll, skel->progs.graph_spawn,
					skel->progs.graph_done, skel->progs.graph_wait };
	struct bpf_link *links[4] = { 0 };
	int err = ai_tf_attach_usdt(progs, names, 4, pid, path, links);

	/* the skeleton destroys its links */
	skel->links.graph_poll = links[0];
	skel->links.graph_spawn = links[1];
	skel->links.graph_done = links[2];
	skel->links.graph_wait = links[3];
	return err;
}

/* Sleeps until end_ns, Ctrl-C or the target's exit; false if the target exited. */
static bool sleep_until(uint64_t end_ns, pid_t pid)
{
	while (!ai_exiting) {
		uint64_t now = ai_now_ns(), left;
		struct timespec ts;

		if (now >= end_ns)
			break;
		left = end_ns - now;
		if (left > 100000000ull)
			left = 100000000ull;
		ts = (struct timespec){ 0, (long)left };
		nanosleep(&ts, NULL);
		if (!ai_proc_alive(pid))
			return false;
	}
	return true;
}

int cmd_graph(int argc, char **argv)
{
	struct graph_args a = { .duration_ns = 2000000000ull };
	struct ai_proc_descs *descs = NULL;
	struct ai_snapshot *snap = NULL;
	struct graph_bpf *skel = NULL;
	struct node *extra = NULL;
	struct model m = { 0 };
	size_t nextra = 0;
	char path[PATH_MAX];
	uint64_t reg;
	bool help;
	int err;

	if (ai_tf_parse_args(&argp, argc, argv, &a, &help))
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;
	ai_setup_libbpf_log();
	ai_handle_signals();

	err = ai_tf_open(a.pid, &reg, &descs);
	if (err)
		goto cleanup;
	m.pid = a.pid;
	m.duration_ns = a.duration_ns;
	if (a.duration_ns) {
		char what[32];

		err = ai_check_bpf_privileges();
		if (err)
			goto cleanup;
		snprintf(what, sizeof(what), "%d", (int)a.pid);
		err = ai_proc_find_libasync(a.pid, path, sizeof(path));
		if (err) {
			ai_err("find libasync probes in process", what, err);
			goto cleanup;
		}
		skel = graph_bpf__open_and_load();
		if (!skel) {
			err = ai_err("load", "graph BPF programs", -errno);
			goto cleanup;
		}
		err = attach(skel, a.pid, path);
		if (err)
			goto cleanup;
		uint64_t t0 = ai_now_ns();

		m.bpf = true;
		if (!sleep_until(t0 + a.duration_ns, a.pid)) {
			/* what the window saw is all there is: no live task to read */
			m.exited = true;
			m.duration_ns = ai_now_ns() - t0;
		}
	}
	if (m.exited) {
		snap = calloc(1, sizeof(*snap));
		err = snap ? 0 : ai_err("allocate", "the snapshot", -ENOMEM);
	} else {
		err = ai_tf_snapshot(a.pid, reg, 0, false, &snap);
	}
	if (err)
		goto cleanup;
	m.snap = snap;
	m.tf = (struct ai_taskfmt){ snap, descs };
	if (skel) {
		err = read_maps(&m, skel, &extra, &nextra);
		if (err) {
			ai_err("read", "graph maps", err);
			goto cleanup;
		}
	}
	err = build_nodes(&m, extra, nextra);
	if (!err)
		err = ai_wg_from_snapshot(snap, &m.wg);
	if (!err && ai_wg_find_cycles(m.wg, 0) < 0)
		err = -ENOMEM;
	if (!err)
		err = build_index(&m);
	if (err) {
		ai_err("build", "the task graph", err);
		goto cleanup;
	}
	switch (a.fmt) {
	case FMT_TEXT:
		print_text(&m);
		break;
	case FMT_DOT:
		print_dot(&m);
		break;
	case FMT_JSON:
		print_json(&m);
		break;
	}
cleanup:
	graph_bpf__destroy(skel);
	ai_wg_free(m.wg);
	free(m.nodes);
	free(m.kids);
	free(m.mark);
	free(m.cycle_task);
	free(m.wakes);
	free(m.waits);
	free(extra);
	ai_snapshot_free(snap);
	ai_proc_descs_free(descs);
	return err ? AI_EXIT_FAIL : AI_EXIT_OK;
}
