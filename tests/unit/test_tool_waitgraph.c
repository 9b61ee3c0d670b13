/* SPDX-License-Identifier: MIT */
/*
 * The wait-for graph and its cycle search on synthetic graphs, and snapshots read from
 * a fake registry built in this process' own memory (the reader is a checked memcpy).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "snapshot.h"
#include "taskfmt.h"
#include "waitgraph.h"

/* ---- synthetic graphs ------------------------------------------------------------- */

static struct ai_waitgraph *graph(size_t n, const uint32_t (*edges)[2], size_t nedges)
{
	struct ai_waitgraph *g;

	assert_int_equal(ai_wg_new(n, &g), 0);
	for (size_t i = 0; i < nedges; i++)
		assert_int_equal(
		    ai_wg_add_edge(g, edges[i][0], edges[i][1], ASYNC_WAIT_MUTEX, 0x1000 + i), 0);
	return g;
}

static void assert_cycle(const struct ai_wg_cycle *c, const uint32_t *nodes, size_t len)
{
	assert_int_equal(c->len, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(c->nodes[i], nodes[i]);
}

static void test_two_cycle(void **state)
{
	static const uint32_t e[][2] = { { 0, 1 }, { 1, 0 } };
	struct ai_waitgraph *g = graph(2, e, 2);

	(void)state;
	assert_int_equal(ai_wg_find_cycles(g, 0), 1);
	assert_cycle(&g->cycles[0], (uint32_t[]){ 0, 1 }, 2);
	/* the edges follow the nodes: 0 -> 1 is edge 0, 1 -> 0 is edge 1 */
	assert_int_equal(g->cycles[0].edges[0], 0);
	assert_int_equal(g->cycles[0].edges[1], 1);
	ai_wg_free(g);
}

static void test_three_cycle_with_tail(void **state)
{
	/* 4 -> 3 -> 1 -> 2 -> 3: one cycle {1, 2, 3}; 4 and 0 are only tails. */
	static const uint32_t e[][2] = { { 4, 3 }, { 3, 1 }, { 1, 2 }, { 2, 3 }, { 0, 4 } };
	struct ai_waitgraph *g = graph(5, e, 5);

	(void)state;
	assert_int_equal(ai_wg_find_cycles(g, 0), 1);
	assert_cycle(&g->cycles[0], (uint32_t[]){ 1, 2, 3 }, 3);
	ai_wg_free(g);
}

static void test_chain_and_diamond_have_none(void **state)
{
	static const uint32_t chain[][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 4 } };
	static const uint32_t diamond[][2] = { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 } };
	struct ai_waitgraph *g = graph(5, chain, 4);

	(void)state;
	assert_int_equal(ai_wg_find_cycles(g, 0), 0);
	ai_wg_free(g);
	g = graph(4, diamond, 4);
	assert_int_equal(ai_wg_find_cycles(g, 0), 0);
	assert_int_equal(g->ncycles, 0);
	ai_wg_free(g);
}

static void test_all_elementary_cycles(void **state)
{
	/*
	 * Complete digraph on 3 nodes: 2 cycles of length 3 and 3 of length 2; plus a
	 * self-loop on 3. Each reported once, starting at its smallest node.
	 */
	static const uint32_t e[][2] = { { 0, 1 }, { 1, 0 }, { 0, 2 }, { 2, 0 },
					 { 1, 2 }, { 2, 1 }, { 3, 3 } };
	struct ai_waitgraph *g = graph(4, e, 7);

	(void)state;
	assert_int_equal(ai_wg_find_cycles(g, 0), 6);
	assert_cycle(&g->cycles[0], (uint32_t[]){ 0, 1 }, 2);
	assert_cycle(&g->cycles[1], (uint32_t[]){ 0, 1, 2 }, 3);
	assert_cycle(&g->cycles[2], (uint32_t[]){ 0, 2 }, 2);
	assert_cycle(&g->cycles[3], (uint32_t[]){ 0, 2, 1 }, 3);
	assert_cycle(&g->cycles[4], (uint32_t[]){ 1, 2 }, 2);
	assert_cycle(&g->cycles[5], (uint32_t[]){ 3 }, 1);
	/* the cap is honoured and says so */
	assert_int_equal(ai_wg_find_cycles(g, 2), 2);
	assert_true(g->cycles_truncated);
	ai_wg_free(g);
}

static void test_bad_edges(void **state)
{
	struct ai_waitgraph *g;

	(void)state;
	assert_int_equal(ai_wg_new(2, &g), 0);
	assert_int_equal(ai_wg_add_edge(g, 0, 2, ASYNC_WAIT_MUTEX, 1), -EINVAL);
	assert_int_equal(ai_wg_add_edge(g, 5, 0, ASYNC_WAIT_MUTEX, 1), -EINVAL);
	/* a duplicate edge is kept once */
	assert_int_equal(ai_wg_add_edge(g, 0, 1, ASYNC_WAIT_MUTEX, 1), 0);
	assert_int_equal(ai_wg_add_edge(g, 0, 1, ASYNC_WAIT_MUTEX, 1), 0);
	assert_int_equal(g->nedges, 1);
	assert_int_equal(ai_wg_find_cycles(g, 0), 0);
	ai_wg_free(g);
	ai_wg_free(NULL);
}

static void test_long_ring(void **state)
{
	enum { N = 2000 };
	struct ai_waitgraph *g;

	(void)state;
	assert_int_equal(ai_wg_new(N, &g), 0);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(ai_wg_add_edge(g, i, (i + 1) % N, ASYNC_WAIT_JOIN, i), 0);
	assert_int_equal(ai_wg_find_cycles(g, 0), 1);
	assert_int_equal(g->cycles[0].len, N);
	assert_int_equal(g->cycles[0].nodes[0], 0);
	assert_int_equal(g->cycles[0].nodes[N - 1], N - 1);
	ai_wg_free(g);
}

/* ---- snapshots of a fake registry in our own memory --------------------------------- */

struct fake_mem {
	const void *regions[32];
	size_t sizes[32];
	size_t n;
	unsigned reads;
	/* after this many reads, bump the registry's gen once per read (0: never) */
	unsigned bump_after;
	struct async_registry_abi *reg;
};

static void fake_add(struct fake_mem *m, const void *p, size_t len)
{
	assert_true(m->n < 32);
	m->regions[m->n] = p;
	m->sizes[m->n++] = len;
}

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake_mem *m = ctx;

	m->reads++;
	if (m->bump_after && m->reads > m->bump_after)
		m->reg->gen++;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t a = (uint64_t)(uintptr_t)m->regions[i];

		if (addr >= a && addr + len <= a + m->sizes[i]) {
			memcpy(buf, (const void *)(uintptr_t)addr, len);
			return 0;
		}
	}
	return -EFAULT;
}

#define U64(p) ((uint64_t)(uintptr_t)(p))

struct fake_task {
	struct async_task_abi abi;
	struct async_frame_abi root, mid, leaf;
	char name[AI_SNAP_NAME_MAX];
};

static void fake_task_init(struct fake_mem *m, struct fake_task *t, uint64_t id, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->abi.magic = ASYNC_TASK_MAGIC;
	t->abi.state = ASYNC_TASK_IDLE;
	t->abi.id = id;
	strncpy(t->name, name, sizeof(t->name));
	t->abi.name = U64(t->name);
	t->abi.root_frame = U64(&t->root);
	t->abi.state_since_ns = 1000;
	t->root =
	    (struct async_frame_abi){ .fn = 0x100 + id, .at = 0x200 + id, .child = U64(&t->leaf) };
	t->leaf = (struct async_frame_abi){ .fn = 0x300 };
	fake_add(m, t, sizeof(*t));
}

static void link_tasks(struct async_registry_abi *reg, struct fake_task **t, size_t n)
{
	reg->tasks = n ? U64(&t[0]->abi) : 0;
	for (size_t i = 0; i < n; i++)
		t[i]->abi.reg_next = i + 1 < n ? U64(&t[i + 1]->abi) : 0;
	reg->live_tasks = n;
}

static void registry_init(struct fake_mem *m, struct async_registry_abi *reg)
{
	memset(m, 0, sizeof(*m));
	memset(reg, 0, sizeof(*reg));
	reg->magic = ASYNC_REGISTRY_MAGIC;
	reg->version = ASYNC_ABI_VERSION;
	reg->size = sizeof(*reg);
	m->reg = reg;
	fake_add(m, reg, sizeof(*reg));
}

static const struct ai_snap_opts opts = { .now_ns = 5000 };

static void test_snapshot_mutex_deadlock(void **state)
{
	static const char na[] = "worker_a", nb[] = "worker_b", nc[] = "bystander";
	struct async_registry_abi reg;
	struct async_mutex_abi ma = { ASYNC_MUTEX_MAGIC, 1, 2, 0xa0 };
	struct async_mutex_abi mb = { ASYNC_MUTEX_MAGIC, 1, 1, 0xb0 };
	struct fake_task a, b, c;
	struct fake_task *list[] = { &c, &b, &a }; /* not in id order */
	struct fake_mem m;
	struct ai_snapshot *s;
	struct ai_waitgraph *g;

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &a, 1, na);
	fake_task_init(&m, &b, 2, nb);
	fake_task_init(&m, &c, 3, nc);
	fake_add(&m, &ma, sizeof(ma));
	fake_add(&m, &mb, sizeof(mb));
	/* a holds ma (holder 1 in mb? no: mb.holder = 1 means a holds mb) */
	a.abi.wait_kind = ASYNC_WAIT_MUTEX;
	a.abi.wait_obj = U64(&ma); /* held by 2 */
	a.abi.wait_holder = 2;
	b.abi.wait_kind = ASYNC_WAIT_MUTEX;
	b.abi.wait_obj = U64(&mb); /* held by 1 */
	b.abi.wait_holder = 7;	   /* stale: the mutex's own holder wins */
	c.abi.wait_kind = ASYNC_WAIT_TIMER;
	link_tasks(&reg, list, 3);

	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_true(s->consistent);
	assert_false(s->truncated);
	assert_int_equal(s->ntasks, 3);
	assert_int_equal(s->tasks[0].abi.id, 1);
	assert_string_equal(s->tasks[0].name, "worker_a");
	assert_int_equal(s->tasks[0].wait_for, 2);
	assert_int_equal(s->tasks[1].wait_for, 1);
	assert_true(s->tasks[1].obj_valid);
	assert_int_equal(s->tasks[1].obj_desc, 0xb0);
	assert_int_equal(s->tasks[0].chain_len, 2);
	assert_int_equal(s->tasks[0].chain[0].at, 0x201);
	assert_int_equal(s->tasks[0].chain[1].fn, 0x300);
	assert_int_equal(ai_snap_task_in_state(s, &s->tasks[0]), 4000);
	assert_non_null(ai_snapshot_find(s, 3));
	assert_null(ai_snapshot_find(s, 4));

	assert_int_equal(ai_wg_from_snapshot(s, &g), 0);
	assert_int_equal(g->nedges, 2);
	assert_int_equal(ai_wg_find_cycles(g, 0), 1);
	assert_cycle(&g->cycles[0], (uint32_t[]){ 0, 1 }, 2);
	ai_wg_free(g);
	ai_snapshot_free(s);
}

static void test_snapshot_join_cycle_of_three(void **state)
{
	/* 1 awaits 2's JoinHandle, 2 waits for mutex m held by 3, 3 awaits 1's handle. */
	static const char n1[] = "t1", n2[] = "t2", n3[] = "t3";
	struct async_registry_abi reg;
	struct async_mutex_abi mx = { ASYNC_MUTEX_MAGIC, 1, 3, 0xc0 };
	struct fake_task t1, t2, t3;
	struct fake_task *list[] = { &t1, &t2, &t3 };
	struct fake_mem m;
	struct ai_snapshot *s;
	struct ai_waitgraph *g;

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &t1, 1, n1);
	fake_task_init(&m, &t2, 2, n2);
	fake_task_init(&m, &t3, 3, n3);
	fake_add(&m, &mx, sizeof(mx));
	t1.abi.wait_kind = ASYNC_WAIT_JOIN;
	t1.abi.wait_obj = U64(&t2.abi);
	t1.abi.wait_holder = 2;
	t2.abi.wait_kind = ASYNC_WAIT_MUTEX;
	t2.abi.wait_obj = U64(&mx);
	t3.abi.wait_kind = ASYNC_WAIT_JOIN;
	t3.abi.wait_obj = U64(&t1.abi);
	t3.abi.wait_holder = 0; /* unknown: read from the joined task's record */
	link_tasks(&reg, list, 3);

	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(s->tasks[2].wait_for, 1);
	assert_int_equal(ai_wg_from_snapshot(s, &g), 0);
	assert_int_equal(ai_wg_find_cycles(g, 0), 1);
	assert_cycle(&g->cycles[0], (uint32_t[]){ 0, 1, 2 }, 3);
	assert_int_equal(g->edges[g->cycles[0].edges[0]].kind, ASYNC_WAIT_JOIN);
	assert_int_equal(g->edges[g->cycles[0].edges[1]].kind, ASYNC_WAIT_MUTEX);
	ai_wg_free(g);
	ai_snapshot_free(s);

	/* no cycle once a member is running (it may release), or the joined task is done */
	t3.abi.state = ASYNC_TASK_RUNNING;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(ai_wg_from_snapshot(s, &g), 0);
	assert_int_equal(ai_wg_find_cycles(g, 0), 0);
	ai_wg_free(g);
	ai_snapshot_free(s);
	t3.abi.state = ASYNC_TASK_IDLE;
	t2.abi.state = ASYNC_TASK_DONE;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(ai_wg_from_snapshot(s, &g), 0);
	assert_int_equal(ai_wg_find_cycles(g, 0), 0);
	ai_wg_free(g);
	ai_snapshot_free(s);
}

static void test_snapshot_chain_bounds(void **state)
{
	static const char n1[] = "looper";
	struct async_registry_abi reg;
	struct fake_task t;
	struct fake_task *list[] = { &t };
	struct fake_mem m;
	struct ai_snapshot *s;

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &t, 1, n1);
	/* root -> mid -> root: a loop */
	t.root.child = U64(&t.mid);
	t.mid = (struct async_frame_abi){ .fn = 0x400, .at = 0x500, .child = U64(&t.root) };
	link_tasks(&reg, list, 1);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(s->tasks[0].chain_len, 2);
	assert_int_equal(s->tasks[0].chain_end, AI_CHAIN_LOOP);
	ai_snapshot_free(s);

	/* a child pointing nowhere */
	t.mid.child = 0x10;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(s->tasks[0].chain_len, 2);
	assert_int_equal(s->tasks[0].chain_end, AI_CHAIN_FAULT);
	ai_snapshot_free(s);
}

static void test_snapshot_chain_too_deep(void **state)
{
	static const char n1[AI_SNAP_NAME_MAX] = "deep";
	struct async_registry_abi reg;
	struct async_task_abi task = { .magic = ASYNC_TASK_MAGIC, .id = 9, .name = U64(n1) };
	struct async_frame_abi frames[ASYNC_CHAIN_MAX + 4];
	struct fake_mem m;
	struct ai_snapshot *s;

	(void)state;
	registry_init(&m, &reg);
	fake_add(&m, &task, sizeof(task));
	fake_add(&m, n1, sizeof(n1));
	fake_add(&m, frames, sizeof(frames));
	for (size_t i = 0; i < ASYNC_CHAIN_MAX + 4; i++)
		frames[i] = (struct async_frame_abi){ .fn = 1,
						      .at = 2,
						      .child = i + 1 < ASYNC_CHAIN_MAX + 4
								   ? U64(&frames[i + 1])
								   : 0 };
	task.root_frame = U64(&frames[0]);
	reg.tasks = U64(&task);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(s->tasks[0].chain_len, ASYNC_CHAIN_MAX);
	assert_int_equal(s->tasks[0].chain_end, AI_CHAIN_TRUNCATED);
	ai_snapshot_free(s);
}

static void test_snapshot_list_damage(void **state)
{
	static const char n1[] = "a", n2[] = "b";
	struct async_registry_abi reg;
	struct fake_task t1, t2;
	struct fake_task *list[] = { &t1, &t2 };
	struct fake_mem m;
	struct ai_snapshot *s;

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &t1, 1, n1);
	fake_task_init(&m, &t2, 2, n2);
	link_tasks(&reg, list, 2);

	/*
	 * A list that loops back is found at once (within two laps, not at the cap) and
	 * said to loop, not to have changed while read (the duplicate ids dropped).
	 */
	t2.abi.reg_next = U64(&t1.abi);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg),
					  &(struct ai_snap_opts){ .max_tasks = 50, .now_ns = 1 },
					  &s),
			 0);
	assert_true(s->truncated);
	assert_int_equal(s->tasks_end, AI_SNAP_END_LOOP);
	assert_true(s->consistent);
	assert_true(s->walked <= 4);
	assert_int_equal(s->attempts, AI_SNAP_RETRIES);
	assert_int_equal(s->ntasks, 2);
	{
		char why[256];

		ai_snapshot_incomplete(s, why, sizeof(why));
		assert_non_null(strstr(why, "loops back"));
		assert_null(strstr(why, "changed"));
	}
	ai_snapshot_free(s);

	/* a freed record (bad magic) ends the walk with what was read */
	t2.abi.reg_next = 0;
	t2.abi.magic = 0xdead;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_true(s->truncated);
	assert_int_equal(s->tasks_end, AI_SNAP_END_FAULT);
	assert_int_equal(s->bad_addr, U64(&t2.abi));
	assert_int_equal(s->ntasks, 1);
	ai_snapshot_free(s);
	t2.abi.magic = ASYNC_TASK_MAGIC;

	/* longer than the cap: truncated, with the real count, read once, not "changed" */
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg),
					  &(struct ai_snap_opts){ .max_tasks = 1, .now_ns = 1 },
					  &s),
			 0);
	assert_true(s->truncated);
	assert_int_equal(s->tasks_end, AI_SNAP_END_CAP);
	assert_true(s->consistent);
	assert_int_equal(s->attempts, 1);
	assert_int_equal(s->ntasks, 1);
	{
		char why[256];

		ai_snapshot_incomplete(s, why, sizeof(why));
		assert_string_equal(why,
				    "task list truncated: read 1 of 2 live tasks (the cap is 1)");
	}
	ai_snapshot_free(s);

	/* -t: a task beyond the cap is found; only it is kept */
	assert_int_equal(
	    ai_snapshot_read(fake_read, &m, U64(&reg),
			     &(struct ai_snap_opts){ .max_tasks = 1, .now_ns = 1, .only_id = 2 },
			     &s),
	    0);
	assert_false(s->truncated);
	assert_int_equal(s->ntasks, 1);
	assert_int_equal(s->tasks[0].abi.id, 2);
	assert_string_equal(s->tasks[0].name, "b");
	ai_snapshot_free(s);

	/* gen changing during every read: retried, then kept as inconsistent */
	m.bump_after = 1;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_false(s->consistent);
	assert_int_equal(s->attempts, AI_SNAP_RETRIES);
	assert_int_equal(s->ntasks, 2);
	ai_snapshot_free(s);
	m.bump_after = 0;

	/* bad registry: magic, version, unreadable */
	reg.magic = 1;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), -EPROTO);
	assert_null(s);
	reg.magic = ASYNC_REGISTRY_MAGIC;
	reg.version = ASYNC_ABI_VERSION + 1;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), -EPROTONOSUPPORT);
	reg.version = ASYNC_ABI_VERSION;
	assert_int_equal(ai_snapshot_read(fake_read, &m, 0x10, &opts, &s), -EFAULT);
	ai_snapshot_free(NULL);
}

static void test_snapshot_threads_and_names(void **state)
{
	struct async_registry_abi reg;
	struct async_thread_abi th[2] = {
		{ .magic = ASYNC_THREAD_MAGIC, .tid = 10, .kind = ASYNC_THREAD_WORKER },
		{ .magic = ASYNC_THREAD_MAGIC, .tid = 11, .kind = ASYNC_THREAD_REACTOR },
	};
	struct fake_task t;
	struct fake_task *list[] = { &t };
	struct fake_mem m;
	struct ai_snapshot *s;

	(void)state;
	registry_init(&m, &reg);
	fake_add(&m, th, sizeof(th));
	th[0].next = U64(&th[1]);
	reg.threads = U64(&th[0]);
	fake_task_init(&m, &t, 4, "x");
	/* a name without NUL within the buffer: cut to AI_SNAP_NAME_MAX - 1 bytes */
	memset(t.name, 'x', sizeof(t.name));
	link_tasks(&reg, list, 1);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_int_equal(s->nthreads, 2);
	assert_int_equal(s->threads[1].abi.tid, 11);
	assert_int_equal(strlen(s->tasks[0].name), AI_SNAP_NAME_MAX - 1);
	ai_snapshot_free(s);

	/* unreadable name: empty, the task is still there */
	t.abi.name = 0x20;
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_string_equal(s->tasks[0].name, "");
	assert_int_equal(s->ntasks, 1);
	ai_snapshot_free(s);
}

/* Naming without descriptor tables: addresses and spawn names stand in. */
static void test_taskfmt_without_descriptors(void **state)
{
	struct async_registry_abi reg;
	struct async_mutex_abi mx = { ASYNC_MUTEX_MAGIC, 1, 2, 0 };
	struct fake_task a, b;
	struct fake_task *list[] = { &a, &b };
	struct fake_mem m;
	struct ai_snapshot *s;
	struct ai_taskfmt tf;
	char buf[512], *doc = NULL;
	size_t doclen = 0;
	struct ai_json j;
	FILE *f;

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &a, 1, "writer");
	fake_task_init(&m, &b, 2, "holder");
	fake_add(&m, &mx, sizeof(mx));
	a.abi.wait_kind = ASYNC_WAIT_MUTEX;
	a.abi.wait_obj = U64(&mx);
	a.abi.polls = 3;
	b.abi.state = ASYNC_TASK_RUNNING;
	link_tasks(&reg, list, 2);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	tf = (struct ai_taskfmt){ s, NULL };

	assert_string_equal(ai_tf_function(&tf, &s->tasks[0], buf, sizeof(buf)), "writer");
	assert_string_equal(ai_tf_state(&tf, &s->tasks[0], buf, sizeof(buf)), "waiting at 0x201");
	assert_string_equal(ai_tf_state(&tf, &s->tasks[1], buf, sizeof(buf)), "running");
	assert_string_equal(ai_tf_location(&tf, &s->tasks[0], buf, sizeof(buf)), "0x201");
	assert_string_equal(ai_tf_stuck_at(&tf, &s->tasks[0], buf, sizeof(buf)), "0x201");
	assert_non_null(ai_tf_wait(&tf, &s->tasks[0], buf, sizeof(buf)));
	assert_true(!strncmp(buf, "mutex 0x", 8));
	assert_non_null(strstr(buf, " held by task #2 holder"));
	assert_null(ai_tf_wait(&tf, &s->tasks[1], buf, sizeof(buf)));

	/* the JSON object of a task carries its wait and its stack */
	f = open_memstream(&doc, &doclen);
	assert_non_null(f);
	ai_json_init(&j, f, false);
	ai_tf_json_task(&j, &tf, &s->tasks[0]);
	ai_json_finish(&j);
	fclose(f);
	assert_non_null(strstr(doc, "\"id\":1"));
	assert_non_null(strstr(doc, "\"state\":\"idle\""));
	assert_non_null(strstr(doc, "\"in_state_ns\":4000"));
	assert_non_null(strstr(doc, "\"kind\":\"mutex\""));
	assert_non_null(strstr(doc, "\"holder\":2"));
	free(doc);
	ai_snapshot_free(s);
}

/* Channel waits: struct async_chan_abi read when its magic is there, not trusted otherwise. */
static void test_snapshot_channels(void **state)
{
	struct async_registry_abi reg;
	struct async_chan_abi ch = { ASYNC_CHAN_MAGIC, 0, 1, 0, 8, 0xd0 };
	struct async_chan_abi bad = { 0x1234, 5, 1, 2, 8, 0xd0 };
	struct fake_task r, w;
	struct fake_task *list[] = { &r, &w };
	struct fake_mem m;
	struct ai_snapshot *s;
	struct ai_taskfmt tf;
	char buf[512];

	(void)state;
	registry_init(&m, &reg);
	fake_task_init(&m, &r, 1, "consumer");
	fake_task_init(&m, &w, 2, "producer");
	fake_add(&m, &ch, sizeof(ch));
	fake_add(&m, &bad, sizeof(bad));
	r.abi.wait_kind = ASYNC_WAIT_CHAN_RECV;
	r.abi.wait_obj = U64(&ch);
	w.abi.wait_kind = ASYNC_WAIT_CHAN_SEND;
	w.abi.wait_obj = U64(&bad);
	link_tasks(&reg, list, 2);
	assert_int_equal(ai_snapshot_read(fake_read, &m, U64(&reg), &opts, &s), 0);
	assert_true(s->tasks[0].obj_valid);
	assert_int_equal(s->tasks[0].obj_desc, 0xd0);
	assert_int_equal(s->tasks[0].chan_senders, 0);
	assert_int_equal(s->tasks[0].chan_len, 0);
	assert_true(s->tasks[0].chan_receiver);
	assert_false(s->tasks[1].obj_valid); /* bad magic: nothing taken from it */
	assert_int_equal(s->tasks[1].chan_senders, 0);
	tf = (struct ai_taskfmt){ s, NULL };
	assert_non_null(ai_tf_wait(&tf, &s->tasks[0], buf, sizeof(buf)));
	assert_non_null(strstr(buf, "(receive: waits for a sender; 0 senders, 0 queued)"));
	assert_non_null(ai_tf_wait(&tf, &s->tasks[1], buf, sizeof(buf)));
	assert_non_null(strstr(buf, "(send: full, waits for the receiver)"));
	assert_null(strstr(buf, "senders"));
	/* channel waits make no wait-for edges: the peer is not recorded */
	{
		struct ai_waitgraph *g;

		assert_int_equal(ai_wg_from_snapshot(s, &g), 0);
		assert_int_equal(g->nedges, 0);
		ai_wg_free(g);
	}
	ai_snapshot_free(s);
}

static void test_arg_parsers(void **state)
{
	uint64_t ns;
	pid_t pid;

	(void)state;
	assert_int_equal(ai_tf_parse_secs("-d", "2", &ns), 0);
	assert_int_equal(ns, 2000000000ull);
	assert_int_equal(ai_tf_parse_secs("-d", "0.25", &ns), 0);
	assert_int_equal(ns, 250000000ull);
	assert_int_equal(ai_tf_parse_secs("-d", "1500ms", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(ai_tf_parse_secs("-d", "soon", &ns), -EINVAL);
	assert_int_equal(ai_tf_parse_secs("-d", "-1", &ns), -EINVAL);
	assert_int_equal(ai_tf_parse_secs("-d", "2x", &ns), -EINVAL);
	assert_int_equal(ai_tf_parse_pid("1234", &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(ai_tf_parse_pid("0", &pid), -EINVAL);
	assert_int_equal(ai_tf_parse_pid("12k", &pid), -EINVAL);
	assert_int_equal(ai_tf_parse_pid("99999999999", &pid), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_cycle),
		cmocka_unit_test(test_three_cycle_with_tail),
		cmocka_unit_test(test_chain_and_diamond_have_none),
		cmocka_unit_test(test_all_elementary_cycles),
		cmocka_unit_test(test_bad_edges),
		cmocka_unit_test(test_long_ring),
		cmocka_unit_test(test_snapshot_mutex_deadlock),
		cmocka_unit_test(test_snapshot_join_cycle_of_three),
		cmocka_unit_test(test_snapshot_chain_bounds),
		cmocka_unit_test(test_snapshot_chain_too_deep),
		cmocka_unit_test(test_snapshot_list_damage),
		cmocka_unit_test(test_snapshot_threads_and_names),
		cmocka_unit_test(test_taskfmt_without_descriptors),
		cmocka_unit_test(test_snapshot_channels),
		cmocka_unit_test(test_arg_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
