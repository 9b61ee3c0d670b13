// SPDX-License-Identifier: MIT
/*
 * A small libasync program whose call graph test_analyze.sh knows exactly: self
 * recursion (walk), mutual recursion (ping <-> pong), a callee awaited twice (walk, so
 * the second shows "(see above)"), a plain function (ASYNC_CALL) and a yield. It also
 * runs: walk(3) and ping(3) on a single-threaded executor, printing "ok".
 */
#include <stdio.h>
#include <stdlib.h>

#include <async/async.h>

/* async fn walk(depth): awaits walk(depth - 1) on a heap-allocated child */
struct walk {
	struct async_frame frame;
	int depth;
	struct walk *child;
};

static void walk_init(struct walk *w, int depth)
{
	*w = (struct walk){ .depth = depth };
}

static enum async_poll walk_poll(struct walk *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	if (w->depth > 0) {
		w->child = malloc(sizeof(*w->child));
		if (!w->child)
			ASYNC_DONE(w);
		walk_init(w->child, w->depth - 1);
		ASYNC_AWAIT(w, cx, walk, w->child);
		free(w->child);
		w->child = NULL;
	}
	ASYNC_RETURN(w);
}

/* async fn ping(n) awaits pong(n - 1), which awaits ping(n - 2) ... */
struct pong;
struct ping {
	struct async_frame frame;
	int n;
	struct pong *other;
};
struct pong {
	struct async_frame frame;
	int n;
	struct ping *other;
};

static enum async_poll pong_poll(struct pong *p, struct async_cx *cx);

static enum async_poll ping_poll(struct ping *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	if (p->n > 0) {
		p->other = calloc(1, sizeof(*p->other));
		if (!p->other)
			ASYNC_DONE(p);
		p->other->n = p->n - 1;
		ASYNC_AWAIT(p, cx, pong, p->other);
		free(p->other);
	}
	ASYNC_RETURN(p);
}

static enum async_poll pong_poll(struct pong *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	if (p->n > 0) {
		p->other = calloc(1, sizeof(*p->other));
		if (!p->other)
			ASYNC_DONE(p);
		p->other->n = p->n - 1;
		ASYNC_AWAIT(p, cx, ping, p->other);
		free(p->other);
	}
	ASYNC_RETURN(p);
}

static int log_line(const char *what)
{
	return printf("%s\n", what);
}

/* async fn fixture_main(): the root */
struct fixture_main {
	struct async_frame frame;
	struct walk w;
	struct ping p;
};

static enum async_poll fixture_main_poll(struct fixture_main *m, struct async_cx *cx)
{
	ASYNC_BEGIN(m);
	walk_init(&m->w, 3);
	ASYNC_AWAIT(m, cx, walk, &m->w);
	m->p = (struct ping){ .n = 3 };
	ASYNC_AWAIT(m, cx, ping, &m->p);
	ASYNC_YIELD(m, cx);
	walk_init(&m->w, 1);
	ASYNC_AWAIT(m, cx, walk, &m->w);
	ASYNC_CALL(log_line, "ok");
	ASYNC_RETURN(m);
}

int main(void)
{
	struct async_exec_opts opts = { .single_threaded = true };
	struct fixture_main m = { 0 };
	struct async_exec *exec;
	int err;

	err = async_exec_new(&opts, &exec);
	if (err < 0)
		return 1;
	err = async_block_on(exec, "fixture_main", ASYNC_POLL_FN(fixture_main_poll), &m);
	async_exec_free(exec);
	return err < 0 ? 1 : 0;
}
