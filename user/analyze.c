/* SPDX-License-Identifier: MIT */
/*
 * async-inspect analyze BINARY --show-call-graph [--dot | --json] [--profile FILE]
 *
 * The static async call graph of an executable or shared library, read from its
 * descriptor section (no process runs): every async function, what it awaits (with
 * the await's file:line), the plain functions it calls through ASYNC_CALL, roots
 * (functions nothing in the object awaits) first. Recursion is marked, not followed.
 * With --profile, a recording adds measured polls, busy and waited time per function
 * and marks the functions that dominate as bottlenecks. See docs/analyze.md.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "json.h"
#include "recfile.h"
#include "taskfmt.h"

enum node_kind {
	NK_EXTERNAL = 0, /* awaited here, defined in another object (e.g. libasync.so) */
	NK_SYNC = 1,	 /* a plain function (ASYNC_CALL) */
	NK_LEAF = 2,	 /* a runtime-provided leaf future */
	NK_TRACED = 3,	 /* ASYNC_TRACE: a hand-written future */
	NK_ASYNC = 4,	 /* an async function (ASYNC_BEGIN) */
};

static const char *kind_label(int k)
{
	static const char *const labels[] = { "async", "sync", "leaf", "traced", "async" };

	return labels[k];
}

static const char *kind_json(int k)
{
	static const char *const names[] = { "external", "sync", "leaf", "traced", "async" };

	return names[k];
}

struct edge {
	int to;
	const struct ai_desc *d; /* the AWAIT or CALL descriptor */
	bool call;
	bool recursive; /* closes a cycle (found by the tree walk) */
	uint64_t waits, wait_ns;
};

struct node {
	const char *name;
	int kind;
	const struct ai_desc *def; /* FUNCTION/LEAF/TRACED descriptor, NULL if none */
	struct edge *edges;
	size_t nedges, cap;
	bool awaited;  /* some other function awaits or calls it */
	bool expanded; /* its subtree was printed */
	bool on_stack;
	bool bottleneck;
	bool has_profile;
	uint64_t polls, busy_ns, wait_ns;
};

#define TREE_MAX_DEPTH 200

enum { IT_RECURSIVE = 1, IT_SEE_ABOVE = 2, IT_TOO_DEEP = 4 };

/* One line of the printed tree. */
struct item {
	int node;
	int edge_from; /* node the edge leaves from, -1 for a root */
	int edge;      /* index in that node's edges */
	int depth;
	int flags;
	char *prefix; /* "│  ├─ " */
};

struct graph {
	const char *path;
	struct node *nodes;
	size_t n;
	struct item *items;
	size_t nitems, cap_items;
	bool profiled;
	bool color;
};

struct analyze_opts {
	const char *binary;
	const char *profile;
	bool call_graph;
	bool dot;
	bool json;
	int color; /* -1 auto, 0 never, 1 always */
};

/* ---- building the graph --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int find_node(const struct graph *g, const char *name)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->nodes[mid].name, name);

		if (!c)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int cmp_edge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	int c = strcmp(x->d->file, y->d->file);

	if (c)
		return c;
	return x->d->line < y->d->line ? -1 : x->d->line > y->d->line;
}

/* Definition order: file, then line, then name. */
static int cmp_def(const struct node *x, const struct node *y)
{
	int c;

	if (x->def && !y->def)
		return -1;
	if (!x->def && y->def)
		return 1;
	if (x->def) {
		c = strcmp(x->def->file, y->def->file);
		if (c)
			return c;
		if (x->def->line != y->def->line)
			return x->def->line < y->def->line ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

static int graph_build(struct graph *g, const struct ai_desc_table *t)
{
	const char **names;
	size_t nn = 0;

	names = calloc(t->n * 2 + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		const struct ai_desc *d = &t->descs[i];

		if (d->kind == ASYNC_DESC_OBJECT)
			continue;
		names[nn++] = d->function;
		if ((d->kind == ASYNC_DESC_AWAIT || d->kind == ASYNC_DESC_CALL) && d->callee)
			names[nn++] = d->callee;
	}
	qsort(names, nn, sizeof(*names), cmp_str);
	g->nodes = calloc(nn ? nn : 1, sizeof(*g->nodes));
	if (!g->nodes) {
		free(names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nn; i++) {
		if (g->n && !strcmp(g->nodes[g->n - 1].name, names[i]))
			continue;
		g->nodes[g->n].name = names[i];
		g->nodes[g->n].kind = NK_EXTERNAL;
		g->n++;
	}
	free(names);

	/* kinds: the strongest evidence wins */
	for (size_t i = 0; i < t->n; i++) {
		const struct ai_desc *d = &t->descs[i];
		struct node *fn;
		int k = -1;

		if (d->kind == ASYNC_DESC_OBJECT)
			continue;
		fn = &g->nodes[find_node(g, d->function)];
		switch (d->kind) {
		case ASYNC_DESC_FUNCTION:
			k = NK_ASYNC;
			break;
		case ASYNC_DESC_TRACED:
			k = NK_TRACED;
			break;
		case ASYNC_DESC_LEAF:
			k = NK_LEAF;
			break;
		case ASYNC_DESC_CALL:
			k = NK_SYNC; /* the caller of a plain call: sync unless known async */
			if (d->callee && g->nodes[find_node(g, d->callee)].kind < NK_SYNC)
				g->nodes[find_node(g, d->callee)].kind = NK_SYNC;
			break;
		}
		if (k > fn->kind) {
			fn->kind = k;
			if (k >= NK_LEAF)
				fn->def = d;
		}
	}
	/* edges */
	for (size_t i = 0; i < t->n; i++) {
		const struct ai_desc *d = &t->descs[i];
		struct node *fn;
		int to;

		if ((d->kind != ASYNC_DESC_AWAIT && d->kind != ASYNC_DESC_CALL) || !d->callee)
			continue;
		fn = &g->nodes[find_node(g, d->function)];
		to = find_node(g, d->callee);
		if (fn->nedges == fn->cap) {
			size_t ncap = fn->cap ? fn->cap * 2 : 4;
			struct edge *ne = realloc(fn->edges, ncap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			fn->edges = ne;
			fn->cap = ncap;
		}
		fn->edges[fn->nedges++] = (struct edge){
			.to = to,
			.d = d,
			.call = d->kind == ASYNC_DESC_CALL,
		};
		if (&g->nodes[to] != fn)
			g->nodes[to].awaited = true;
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->nodes[i].nedges > 1)
			qsort(g->nodes[i].edges, g->nodes[i].nedges, sizeof(struct edge), cmp_edge);
	return 0;
}

static void graph_free(struct graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->nodes[i].edges);
	free(g->nodes);
	for (size_t i = 0; i < g->nitems; i++)
		free(g->items[i].prefix);
	free(g->items);
}

/* ---- the tree walk ---------------------------------------------------------------------- */

static int add_item(struct graph *g, int node, int from, int edge, int depth, int flags,
		    const char *prefix)
{
	struct item *it;

	if (g->nitems == g->cap_items) {
		size_t ncap = g->cap_items ? g->cap_items * 2 : 64;
		struct item *ni = realloc(g->items, ncap * sizeof(*ni));

		if (!ni)
			return -ENOMEM;
		g->items = ni;
		g->cap_items = ncap;
	}
	it = &g->items[g->nitems];
	*it = (struct item){ node, from, edge, depth, flags, strdup(prefix) };
	if (!it->prefix)
		return -ENOMEM;
	g->nitems++;
	return 0;
}

/*
 * Walks the subtree of `node`. `indent` is the prefix of its children's lines so far
 * ("│  " per ancestor with siblings after it, "   " otherwise).
 */
static int walk(struct graph *g, int node, int depth, char *indent, size_t indent_len)
{
	struct node *n = &g->nodes[node];
	int err = 0;

	n->expanded = true;
	n->on_stack = true;
	for (size_t i = 0; i < n->nedges && !err; i++) {
		struct edge *e = &n->edges[i];
		struct node *c = &g->nodes[e->to];
		bool last = i + 1 == n->nedges;
		int flags = 0;
		size_t len = indent_len;

		memcpy(indent + len, last ? "└─ " : "├─ ", strlen("├─ ") + 1);
		if (c->on_stack) {
			flags = IT_RECURSIVE;
			e->recursive = true;
		} else if (c->expanded && c->nedges) {
			flags = IT_SEE_ABOVE;
		} else if (c->nedges && depth + 1 >= TREE_MAX_DEPTH) {
			flags = IT_TOO_DEEP;
		}
		err = add_item(g, e->to, node, (int)i, depth + 1, flags, indent);
		if (err || flags || !c->nedges)
			continue;
		memcpy(indent + len, last ? "   " : "│  ", strlen(last ? "   " : "│  ") + 1);
		err = walk(g, e->to, depth + 1, indent, len + strlen(last ? "   " : "│  "));
		indent[len] = '\0';
	}
	indent[indent_len] = '\0';
	n->on_stack = false;
	return err;
}

static int graph_walk(struct graph *g)
{
	/* "│  " is 5 bytes; one per level plus the branch */
	char *indent = malloc(5 * (TREE_MAX_DEPTH + 2) + 8);
	int *order;
	int err = 0;

	order = calloc(g->n ? g->n : 1, sizeof(*order));
	if (!indent || !order) {
		free(indent);
		free(order);
		return -ENOMEM;
	}
	/* defined functions by definition order, then the rest by name */
	for (size_t i = 0; i < g->n; i++)
		order[i] = (int)i;
	for (size_t i = 1; i < g->n; i++) {
		int v = order[i];
		size_t j = i;

		while (j > 0 && cmp_def(&g->nodes[order[j - 1]], &g->nodes[v]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	/* roots: async functions nothing awaits; then whatever a cycle hid from them */
	for (int pass = 0; pass < 2 && !err; pass++) {
		for (size_t i = 0; i < g->n && !err; i++) {
			struct node *n = &g->nodes[order[i]];

			/* a function without edges shows under its callers only */
			if (n->expanded || (!n->nedges && (n->awaited || n->kind < NK_LEAF)))
				continue;
			if (pass == 0 && n->awaited)
				continue;
			indent[0] = '\0';
			err = add_item(g, order[i], -1, -1, 0, 0, "");
			if (!err)
				err = walk(g, order[i], 0, indent, 0);
		}
	}
	free(indent);
	free(order);
	return err;
}

/* ---- --profile ------------------------------------------------------------------------- */

struct pending {
	uint64_t key; /* pid << 40 ^ task id; 0 = empty slot */
	uint32_t pid;
	uint64_t end_ns;
	uint64_t leaf;
};

struct stat_row {
	uint32_t pid;
	uint64_t addr;
	uint64_t count, ns;
};

struct prof {
	struct pending *slots;
	size_t nslots, used;
	struct stat_row *fns, *waits; /* per (pid, fn descriptor), per (pid, leaf await) */
	size_t nfns, nwaits, cap_fns, cap_waits;
	uint64_t polls;
};

static struct pending *prof_slot(struct prof *p, uint32_t pid, uint64_t task, bool create)
{
	uint64_t key = ((uint64_t)pid << 40 ^ task) | 1ull << 63;
	size_t i;

	if (create && (p->used + 1) * 2 > p->nslots) {
		size_t nn = p->nslots ? p->nslots * 2 : 1024;
		struct pending *ns = calloc(nn, sizeof(*ns));

		if (!ns)
			return NULL;
		for (size_t k = 0; k < p->nslots; k++) {
			if (!p->slots[k].key)
				continue;
			for (i = p->slots[k].key * 0x9e3779b97f4a7c15ull % nn; ns[i].key;
			     i = (i + 1) % nn)
				;
			ns[i] = p->slots[k];
		}
		free(p->slots);
		p->slots = ns;
		p->nslots = nn;
	}
	if (!p->nslots)
		return NULL;
	for (i = key * 0x9e3779b97f4a7c15ull % p->nslots; p->slots[i].key; i = (i + 1) % p->nslots)
		if (p->slots[i].key == key)
			return &p->slots[i];
	if (!create)
		return NULL;
	p->slots[i].key = key;
	p->slots[i].pid = pid;
	p->used++;
	return &p->slots[i];
}

static int stat_add(struct stat_row **rows, size_t *n, size_t *cap, uint32_t pid, uint64_t addr,
		    uint64_t ns)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*rows)[i].pid == pid && (*rows)[i].addr == addr) {
			(*rows)[i].count++;
			(*rows)[i].ns += ns;
			return 0;
		}
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct stat_row *nr;

		if (ncap > 1u << 20)
			return 0; /* a pathological recording: stop adding rows */
		nr = realloc(*rows, ncap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		*rows = nr;
		*cap = ncap;
	}
	(*rows)[(*n)++] = (struct stat_row){ pid, addr, 1, ns };
	return 0;
}

/* A poll from a poll ring: self-contained (its previous end, the chain it resumed from). */
static int prof_ring(struct prof *p, uint32_t pid, const struct async_ring_rec *r)
{
	uint64_t leaf = 0;
	int err;

	p->polls++;
	err = stat_add(&p->fns, &p->nfns, &p->cap_fns, pid, r->fn[0],
		       r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0);
	if (err)
		return err;
	for (unsigned i = 0; i < r->depth && i < ASYNC_RING_DEPTH; i++)
		if (r->at[i])
			leaf = r->at[i];
	if (r->prev_end_ns && leaf && r->start_ns >= r->prev_end_ns)
		err = stat_add(&p->waits, &p->nwaits, &p->cap_waits, pid, leaf,
			       r->start_ns - r->prev_end_ns);
	return err;
}

static int prof_event(void *ctx, const struct ai_rec_hdr *ev)
{
	const struct ai_rec_poll *pe = (const struct ai_rec_poll *)ev;
	const struct async_poll_rec *r;
	struct prof *p = ctx;
	struct pending *s;
	int err;

	if (ev->type == AI_REC_RING && ev->size >= sizeof(struct ai_rec_ring))
		return prof_ring(p, ev->pid, &((const struct ai_rec_ring *)ev)->rec);
	if (ev->type != AI_REC_POLL || ev->size < sizeof(*pe))
		return 0;
	r = &pe->rec;
	p->polls++;
	err = stat_add(&p->fns, &p->nfns, &p->cap_fns, ev->pid, r->fn,
		       r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0);
	if (err)
		return err;
	s = prof_slot(p, ev->pid, r->task_id, true);
	if (!s)
		return -ENOMEM;
	if (s->end_ns && s->leaf && r->start_ns >= s->end_ns) {
		err = stat_add(&p->waits, &p->nwaits, &p->cap_waits, ev->pid, s->leaf,
			       r->start_ns - s->end_ns);
		if (err)
			return err;
	}
	if (r->result == ASYNC_RESULT_PENDING) {
		s->end_ns = r->end_ns;
		s->leaf = r->leaf ? r->leaf : r->state;
	} else {
		s->end_ns = 0;
		s->leaf = 0;
	}
	return 0;
}

static void prof_free(struct prof *p)
{
	free(p->slots);
	free(p->fns);
	free(p->waits);
}

static int graph_profile(struct graph *g, const char *path)
{
	struct prof p = { 0 };
	struct ai_recfile *rf = NULL;
	char msg[256] = "";
	uint64_t total = 0, max = 0;
	int err;

	err = ai_recfile_read(path, prof_event, &p, &rf, msg, sizeof(msg));
	if (err) {
		ai_errorf("failed to read recording '%s': %s", path, msg[0] ? msg : strerror(-err));
		prof_free(&p);
		return err;
	}
	if (rf->warning[0])
		ai_warnf("%s: %s", path, rf->warning);
	for (size_t i = 0; i < p.nfns; i++) {
		const struct ai_desc *d = ai_recfile_desc(rf, p.fns[i].pid, p.fns[i].addr);
		int k = d ? find_node(g, d->function) : -1;

		if (k < 0)
			continue;
		g->nodes[k].has_profile = true;
		g->nodes[k].polls += p.fns[i].count;
		g->nodes[k].busy_ns += p.fns[i].ns;
	}
	for (size_t i = 0; i < p.nwaits; i++) {
		const struct ai_desc *d = ai_recfile_desc(rf, p.waits[i].pid, p.waits[i].addr);
		int k = d ? find_node(g, d->function) : -1;
		struct node *n;

		if (k < 0)
			continue;
		n = &g->nodes[k];
		n->has_profile = true;
		n->wait_ns += p.waits[i].ns;
		for (size_t e = 0; e < n->nedges; e++) {
			const struct ai_desc *ed = n->edges[e].d;

			if (ed->line == d->line && d->callee && !strcmp(ed->callee, d->callee) &&
			    !strcmp(ed->file, d->file)) {
				n->edges[e].waits += p.waits[i].count;
				n->edges[e].wait_ns += p.waits[i].ns;
			}
		}
	}
	/* bottlenecks: the functions holding at least 20% of all busy + waited time */
	for (size_t i = 0; i < g->n; i++) {
		uint64_t s = g->nodes[i].busy_ns + g->nodes[i].wait_ns;

		total += s;
		if (s > max)
			max = s;
	}
	for (size_t i = 0; i < g->n && total; i++) {
		uint64_t s = g->nodes[i].busy_ns + g->nodes[i].wait_ns;

		g->nodes[i].bottleneck = s * 5 >= total;
	}
	g->profiled = true;
	ai_recfile_free(rf);
	prof_free(&p);
	return 0;
}

/* ---- output ----------------------------------------------------------------------------- */

/* Display width of a UTF-8 string (box-drawing characters are one column). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static const struct ai_desc *item_site(const struct graph *g, const struct item *it)
{
	if (it->edge_from < 0)
		return g->nodes[it->node].def;
	return g->nodes[it->edge_from].edges[it->edge].d;
}

static void item_text(const struct graph *g, const struct item *it, char *left, size_t llen,
		      char *right, size_t rlen)
{
	const struct node *n = &g->nodes[it->node];
	const struct ai_desc *site = item_site(g, it);
	char name[256], file[512], a[32], b[32];
	size_t off = 0;

	snprintf(left, llen, "%s%s (%s)", it->prefix, ai_printable(n->name, name, sizeof(name)),
		 kind_label(n->kind));
	right[0] = '\0';
	if (site)
		off += snprintf(right + off, rlen - off, "%s:%u",
				ai_printable(site->file, file, sizeof(file)), site->line);
	if (off < rlen && (it->flags & IT_RECURSIVE))
		off += snprintf(right + off, rlen - off, "  (recursive)");
	if (off < rlen && (it->flags & IT_SEE_ABOVE))
		off += snprintf(right + off, rlen - off, "  (see above)");
	if (off < rlen && (it->flags & IT_TOO_DEEP))
		off += snprintf(right + off, rlen - off, "  (deeper levels not shown)");
	if (off < rlen && g->profiled && n->has_profile && !(it->flags & IT_SEE_ABOVE) &&
	    !(it->flags & IT_RECURSIVE))
		off += snprintf(
		    right + off, rlen - off, "  [%" PRIu64 " polls, busy %s, waited %s]%s",
		    n->polls, ai_fmt_duration(n->busy_ns, a, sizeof(a)),
		    ai_fmt_duration(n->wait_ns, b, sizeof(b)), n->bottleneck ? " BOTTLENECK" : "");
}

static const char *node_color(const struct graph *g, const struct node *n)
{
	if (!g->color)
		return NULL;
	if (n->bottleneck)
		return "\033[1;33m"; /* yellow: a bottleneck */
	if (n->kind == NK_SYNC)
		return "\033[32m"; /* green: can be sync */
	for (size_t i = 0; i < n->nedges; i++)
		if (!n->edges[i].call)
			return "\033[31m"; /* red: awaits, must be async */
	return NULL;
}

static void print_text(const struct graph *g, FILE *f)
{
	size_t lw = 0, rw = 0, inner;
	char left[1024], right[1024], name[256];

	fprintf(f, "Call graph (async functions) of %s:\n",
		ai_printable(g->path, name, sizeof(name)));
	if (!g->nitems) {
		fprintf(f, "(no async functions)\n");
		return;
	}
	for (size_t i = 0; i < g->nitems; i++) {
		item_text(g, &g->items[i], left, sizeof(left), right, sizeof(right));
		if (width(left) > lw)
			lw = width(left);
		if (width(right) > rw)
			rw = width(right);
	}
	inner = lw + 2 + rw;
	fputs("┌", f);
	for (size_t i = 0; i < inner + 2; i++)
		fputs("─", f);
	fputs("┐\n", f);
	for (size_t i = 0; i < g->nitems; i++) {
		const struct item *it = &g->items[i];
		const struct node *n = &g->nodes[it->node];
		const char *col = node_color(g, n);
		size_t pad;

		item_text(g, it, left, sizeof(left), right, sizeof(right));
		pad = lw - width(left) + 2;
		fputs("│ ", f);
		if (col) {
			/* colour the name only; the widths were computed without the escapes */
			size_t nlen = strlen(ai_printable(n->name, name, sizeof(name)));

			fputs(it->prefix, f);
			fprintf(f, "%s%s\033[0m%s", col, name, left + strlen(it->prefix) + nlen);
		} else {
			fputs(left, f);
		}
		fprintf(f, "%*s%s%*s │\n", (int)pad, "", right, (int)(rw - width(right)), "");
	}
	fputs("└", f);
	for (size_t i = 0; i < inner + 2; i++)
		fputs("─", f);
	fputs("┘\n", f);
	if (g->profiled)
		fprintf(f, "BOTTLENECK: a function holding at least 20%% of all busy + waited time "
			   "in the recording.\n");
}

/* DOT string: quotes and backslashes escaped, newlines as \n, other control bytes dropped. */
static void dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void print_dot(const struct graph *g, FILE *f)
{
	char label[1024], a[32], b[32];

	fprintf(f, "digraph async_call_graph {\n"
		   "\trankdir=LR;\n"
		   "\tnode [shape=box, style=\"rounded,filled\", fontname=\"monospace\"];\n"
		   "\tedge [fontname=\"monospace\", fontsize=10];\n");
	for (size_t i = 0; i < g->n; i++) {
		const struct node *n = &g->nodes[i];
		const char *fill = n->bottleneck	    ? "#ffe599"
				   : n->kind == NK_SYNC	    ? "#d9ead3"
				   : n->kind == NK_EXTERNAL ? "#eeeeee"
							    : "#f4cccc";
		int off;

		if (n->kind == NK_EXTERNAL && !n->nedges && !n->awaited)
			continue;
		off = snprintf(label, sizeof(label), "%s\n(%s)", n->name, kind_label(n->kind));
		if (n->def && off < (int)sizeof(label))
			off += snprintf(label + off, sizeof(label) - off, "\n%s:%u", n->def->file,
					n->def->line);
		if (g->profiled && n->has_profile && off < (int)sizeof(label))
			snprintf(label + off, sizeof(label) - off,
				 "\n%" PRIu64 " polls, busy %s, waited %s%s", n->polls,
				 ai_fmt_duration(n->busy_ns, a, sizeof(a)),
				 ai_fmt_duration(n->wait_ns, b, sizeof(b)),
				 n->bottleneck ? "\nBOTTLENECK" : "");
		fputc('\t', f);
		dot_str(f, n->name);
		fputs(" [label=", f);
		dot_str(f, label);
		fprintf(f, ", fillcolor=\"%s\"%s];\n", fill, n->bottleneck ? ", penwidth=3" : "");
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct node *n = &g->nodes[i];

		for (size_t k = 0; k < n->nedges; k++) {
			const struct edge *e = &n->edges[k];

			fputc('\t', f);
			dot_str(f, n->name);
			fputs(" -> ", f);
			dot_str(f, g->nodes[e->to].name);
			snprintf(label, sizeof(label), "%s :%u%s", e->call ? "call" : "await",
				 e->d->line, e->recursive ? " (recursive)" : "");
			fputs(" [label=", f);
			dot_str(f, label);
			if (e->call)
				fputs(", style=dashed", f);
			if (e->recursive)
				fputs(", color=\"#cc0000\"", f);
			fputs("];\n", f);
		}
	}
	fputs("}\n", f);
}

static void json_profile(struct ai_json *j, const struct graph *g, const struct node *n)
{
	if (!g->profiled)
		return;
	ai_json_kv_u64(j, "polls", n->polls);
	ai_json_kv_u64(j, "busy_ns", n->busy_ns);
	ai_json_kv_u64(j, "wait_ns", n->wait_ns);
	ai_json_kv_bool(j, "bottleneck", n->bottleneck);
}

static size_t json_tree(struct ai_json *j, const struct graph *g, size_t i)
{
	const struct item *it = &g->items[i];
	const struct node *n = &g->nodes[it->node];
	const struct ai_desc *site = item_site(g, it);
	size_t k;

	ai_json_object_begin(j);
	ai_json_kv_str(j, "name", n->name);
	ai_json_kv_str(j, "kind", kind_json(n->kind));
	if (it->edge_from >= 0)
		ai_json_kv_str(j, "via",
			       g->nodes[it->edge_from].edges[it->edge].call ? "call" : "await");
	ai_json_kv_str(j, "file", site ? site->file : NULL);
	if (site)
		ai_json_kv_u64(j, "line", site->line);
	else
		ai_json_kv_str(j, "line", NULL);
	ai_json_kv_bool(j, "recursive", it->flags & IT_RECURSIVE);
	ai_json_kv_bool(j, "see_above", it->flags & IT_SEE_ABOVE);
	ai_json_key(j, "children");
	ai_json_array_begin(j);
	for (k = i + 1; k < g->nitems && g->items[k].depth > it->depth;)
		k = json_tree(j, g, k);
	ai_json_array_end(j);
	ai_json_object_end(j);
	return k;
}

static void print_json(const struct graph *g, FILE *f)
{
	struct ai_json j;

	ai_json_init(&j, f, true);
	ai_json_object_begin(&j);
	ai_json_kv_str(&j, "binary", g->path);
	ai_json_kv_bool(&j, "profiled", g->profiled);
	ai_json_key(&j, "functions");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < g->n; i++) {
		const struct node *n = &g->nodes[i];
		bool awaits = false;

		for (size_t k = 0; k < n->nedges; k++)
			awaits |= !n->edges[k].call;
		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "name", n->name);
		ai_json_kv_str(&j, "kind", kind_json(n->kind));
		ai_json_kv_str(&j, "file", n->def ? n->def->file : NULL);
		if (n->def)
			ai_json_kv_u64(&j, "line", n->def->line);
		else
			ai_json_kv_str(&j, "line", NULL);
		ai_json_kv_bool(&j, "root",
				!n->awaited && n->kind != NK_EXTERNAL &&
				    !(n->kind == NK_SYNC && !n->nedges));
		ai_json_kv_bool(&j, "must_be_async", awaits);
		json_profile(&j, g, n);
		ai_json_key(&j, "edges");
		ai_json_array_begin(&j);
		for (size_t k = 0; k < n->nedges; k++) {
			const struct edge *e = &n->edges[k];

			ai_json_object_begin(&j);
			ai_json_kv_str(&j, "kind", e->call ? "call" : "await");
			ai_json_kv_str(&j, "callee", g->nodes[e->to].name);
			ai_json_kv_str(&j, "file", e->d->file);
			ai_json_kv_u64(&j, "line", e->d->line);
			ai_json_kv_bool(&j, "recursive", e->recursive);
			if (g->profiled) {
				ai_json_kv_u64(&j, "waits", e->waits);
				ai_json_kv_u64(&j, "wait_ns", e->wait_ns);
			}
			ai_json_object_end(&j);
		}
		ai_json_array_end(&j);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "tree");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < g->nitems;)
		i = json_tree(&j, g, i);
	ai_json_array_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
}

/* ---- command line ---------------------------------------------------------------------- */

enum { OPT_DOT = 0x100, OPT_JSON, OPT_PROFILE, OPT_COLOR };

static const char doc[] =
    "Show the async call graph of a binary, statically, from its descriptor section.\v"
    "Reads the async_desc section that libasync's macros put in every executable and "
    "shared library: no process runs, no root is needed. Each async function is listed "
    "with what it awaits and the file:line of each await; plain functions called through "
    "ASYNC_CALL are marked (sync); recursion is marked (recursive) and not followed; a "
    "function whose subtree was printed already is marked (see above). Roots are the "
    "functions nothing in the binary awaits. On a terminal: red = awaits something (must "
    "be async), green = plain function, yellow = bottleneck (with --profile).\n"
    "\n"
    "EXAMPLES:\n"
    "  async-inspect analyze ./http_server --show-call-graph\n"
    "  async-inspect analyze ./server --show-call-graph --dot | dot -Tsvg >g.svg\n"
    "  async-inspect analyze ./http_server --show-call-graph --json\n"
    "  async-inspect analyze libasync.so --show-call-graph   # runtime futures\n"
    "  sudo async-inspect record -o run.air -d 5 -- ./http_server\n"
    "  async-inspect analyze ./http_server --show-call-graph --profile run.air\n"
    "\n"
    "Exit status: 0 ok; 1 internal failure; 2 bad arguments, or a binary that cannot be "
    "read, is not a 64-bit little-endian ELF file, has no async_desc section or a "
    "malformed one. See docs/analyze.md.";

static const struct argp_option options[] = {
	{ "show-call-graph", 'g', NULL, 0, "Print the async call graph (the default)", 0 },
	{ "dot", OPT_DOT, NULL, 0, "Graphviz DOT output instead of the tree", 0 },
	{ "json", 'j', NULL, 0, "JSON output instead of the tree", 0 },
	{ "profile", OPT_PROFILE, "FILE", 0,
	  "Add measured polls/busy/waited time from a recording (async-inspect record)", 0 },
	{ "color", OPT_COLOR, "WHEN", 0, "Colour the tree: auto (default), always, never", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct analyze_opts *o = state->input;

	switch (key) {
	case 'g':
		o->call_graph = true;
		break;
	case OPT_DOT:
		o->dot = true;
		break;
	case 'j':
		o->json = true;
		break;
	case OPT_PROFILE:
		o->profile = arg;
		break;
	case OPT_COLOR:
		if (!strcmp(arg, "auto"))
			o->color = -1;
		else if (!strcmp(arg, "always"))
			o->color = 1;
		else if (!strcmp(arg, "never"))
			o->color = 0;
		else {
			ai_errorf("failed to parse --color '%s': use auto, always or never", arg);
			return AI_TF_ARG_REPORTED;
		}
		break;
	case 'v':
		ai_verbose = true;
		break;
	case ARGP_KEY_ARG:
		return ai_tf_parse_binary("analyze", &o->binary, arg);
	case ARGP_KEY_END:
		if (!o->binary) {
			ai_errorf("BINARY is missing (see 'async-inspect analyze --help')");
			return AI_TF_ARG_REPORTED;
		}
		if (o->dot && o->json) {
			ai_errorf("--dot and --json exclude each other");
			return AI_TF_ARG_REPORTED;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_analyze(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "BINARY", doc, NULL, NULL, NULL };
	struct analyze_opts o = { .color = -1 };
	struct ai_desc_table *t = NULL;
	struct graph g = { 0 };
	int err;

	bool help;

	if (ai_tf_parse_args(&argp, argc, argv, &o, &help))
		return AI_EXIT_USAGE;
	if (help)
		return AI_EXIT_OK;

	err = ai_desc_table_load(o.binary, 0, &t);
	if (err) {
		ai_errorf("failed to read '%s': %s", o.binary, ai_desc_strerror(err));
		err = AI_EXIT_USAGE;
		goto cleanup;
	}
	g.path = o.binary;
	g.color = o.color == 1 || (o.color == -1 && !o.dot && !o.json && isatty(STDOUT_FILENO) &&
				   !getenv("NO_COLOR"));
	err = graph_build(&g, t);
	if (!err)
		err = graph_walk(&g);
	if (err) {
		ai_err("analyze", o.binary, err);
		err = AI_EXIT_FAIL;
		goto cleanup;
	}
	if (o.profile && graph_profile(&g, o.profile)) {
		err = AI_EXIT_USAGE;
		goto cleanup;
	}
	if (o.dot)
		print_dot(&g, stdout);
	else if (o.json)
		print_json(&g, stdout);
	else
		print_text(&g, stdout);
	err = fflush(stdout) ? AI_EXIT_FAIL : AI_EXIT_OK;
cleanup:
	graph_free(&g);
	ai_desc_table_free(t);
	return err;
}
