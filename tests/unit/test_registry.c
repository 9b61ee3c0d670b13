/* SPDX-License-Identifier: MIT */
/*
 * The registry a tracer reads out of process memory: live tasks, thread records, and
 * the per-thread "current task" record kept around every poll.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_modes.h"
#include "core.h"

static const char NAME_WAIT[] = "waiter";

/* Polled once, then pends until its waker is used. */
struct waiter {
	struct async_frame frame;
	struct async_waker w;
	uint32_t tid;
	int polls;
};

static enum async_poll waiter_poll(struct waiter *f, struct async_cx *cx)
{
	f->polls++;
	ASYNC_BEGIN(f);
	f->tid = (uint32_t)gettid();
	f->w = async_waker_clone(cx);
	f->frame.resume = 1;
	return ASYNC_PENDING;
case 1:
	ASYNC_RETURN(f);
}

static struct async_task_abi *find_task(uint64_t id)
{
	for (struct async_task_abi *a = (void *)(uintptr_t)async_registry.tasks; a;
	     a = (void *)(uintptr_t)a->reg_next)
		if (a->id == id)
			return a;
	return NULL;
}

static struct async_thread_abi *find_thread(uint32_t tid)
{
	for (struct async_thread_abi *t = (void *)(uintptr_t)async_registry.threads; t;
	     t = (void *)(uintptr_t)t->next)
		if (t->tid == tid)
			return t;
	return NULL;
}

static unsigned count_threads(uint32_t kind)
{
	unsigned n = 0;

	for (struct async_thread_abi *t = (void *)(uintptr_t)async_registry.threads; t;
	     t = (void *)(uintptr_t)t->next) {
		assert_int_equal(t->magic, ASYNC_THREAD_MAGIC);
		n += t->kind == kind;
	}
	return n;
}

#define NW 10

/* Waits until the waiters are all pending, then inspects the registry from a task. */
struct inspector {
	struct async_frame frame;
	struct waiter *w;
	uint64_t ids[NW];
	int checked;
	uint64_t my_id, my_task;
	unsigned live_list;
	uint64_t live_count;
	bool found[NW];
	struct async_task_abi snap[NW];
	uint32_t thread_kind[NW];
	struct async_thread_abi me;
	uint32_t my_state;
};

static enum async_poll inspector_poll(struct inspector *s, struct async_cx *cx)
{
	/* wait (yielding) until every waiter's first poll has returned */
	for (int i = 0; i < NW; i++) {
		struct async_task_abi *a = find_task(s->ids[i]);

		if (!s->w[i].w.task || !a ||
		    __atomic_load_n(&a->state, __ATOMIC_ACQUIRE) != ASYNC_TASK_IDLE) {
			async_cx_wake_self(cx);
			return ASYNC_PENDING;
		}
	}
	/* snapshot what a tracer would read; the main thread checks it (cmocka asserts
	 * belong on the test's thread) */
	s->my_id = async_cx_task_id(cx);
	s->my_task = (uint64_t)(uintptr_t)cx->task;
	for (int i = 0; i < NW; i++) {
		struct async_task_abi *a = find_task(s->ids[i]);
		struct async_thread_abi *t = find_thread(s->w[i].tid);

		s->found[i] = a != NULL;
		if (a)
			s->snap[i] = *a;
		s->thread_kind[i] = t ? t->kind : 0;
	}
	struct async_thread_abi *me = find_thread((uint32_t)gettid());

	if (me)
		s->me = *me;
	struct async_task_abi *mine = find_task(s->my_id);

	s->my_state = mine ? mine->state : 99;
	s->live_list = 0;
	for (struct async_task_abi *a = (void *)(uintptr_t)async_registry.tasks; a;
	     a = (void *)(uintptr_t)a->reg_next)
		s->live_list++;
	s->live_count = async_registry.live_tasks;
	s->checked = 1;
	for (int i = 0; i < NW; i++)
		async_waker_wake(&s->w[i].w);
	return ASYNC_READY;
}

static void test_registry(void **state)
{
	const struct exec_mode *m = *state;
	struct async_exec *exec = mode_exec(state);
	struct waiter w[NW];
	struct async_join joins[NW];
	struct inspector s = { .w = w };
	uint64_t spawned0 = async_registry.spawned_tasks;
	uint64_t live0 = async_registry.live_tasks;
	uint64_t gen0 = async_registry.gen;

	assert_int_equal(async_registry.magic, ASYNC_REGISTRY_MAGIC);
	assert_int_equal(async_registry.version, ASYNC_ABI_VERSION);
	assert_int_equal(async_registry.size, sizeof(struct async_registry_abi));
	if (!m->single) {
		/* the workers and the driver registered when the executor started */
		assert_int_equal(count_threads(ASYNC_THREAD_WORKER), m->workers);
		assert_int_equal(count_threads(ASYNC_THREAD_REACTOR), 1);
	} else {
		assert_int_equal(count_threads(ASYNC_THREAD_WORKER), 0);
	}
	memset(w, 0, sizeof(w));
	for (int i = 0; i < NW; i++) {
		assert_int_equal(async_spawn(exec, NAME_WAIT, ASYNC_POLL_FN(waiter_poll), &w[i],
					     NULL, &joins[i]),
				 0);
		s.ids[i] = async_join_task_id(&joins[i]);
		assert_non_null(find_task(s.ids[i]));
	}
	assert_int_equal(async_registry.spawned_tasks, spawned0 + NW);
	assert_true(async_registry.gen > gen0);
	assert_int_equal(async_block_on(exec, "inspector", ASYNC_POLL_FN(inspector_poll), &s), 0);
	assert_int_equal(s.checked, 1);
	/* every waiter was in the live list, idle, with its fields */
	for (int i = 0; i < NW; i++) {
		struct async_task_abi *a = &s.snap[i];

		assert_true(s.found[i]);
		assert_int_equal(a->magic, ASYNC_TASK_MAGIC);
		assert_int_equal(a->id, s.ids[i]);
		assert_int_equal(a->state, ASYNC_TASK_IDLE);
		assert_int_equal(a->polls, 1);
		assert_int_equal(a->parent_id, 0);
		assert_int_equal(a->name, (uint64_t)(uintptr_t)NAME_WAIT);
		assert_int_equal(a->root_frame, (uint64_t)(uintptr_t)&w[i]);
		assert_int_equal(a->fn, (uint64_t)(uintptr_t)w[i].frame.fn);
		assert_int_not_equal(a->fn, 0);
		assert_true(a->spawn_ns > 0);
		assert_true(a->spawn_ns <= a->state_since_ns);
		/* the thread that polled it has a worker record */
		assert_int_equal(s.thread_kind[i], ASYNC_THREAD_WORKER);
	}
	/* the inspector's thread record showed its poll in progress */
	assert_int_equal(s.me.magic, ASYNC_THREAD_MAGIC);
	assert_int_equal(s.me.kind, ASYNC_THREAD_WORKER);
	assert_int_equal(s.me.seq & 1, 1);
	assert_int_equal(s.me.task_id, s.my_id);
	assert_int_equal(s.me.task, s.my_task);
	assert_int_equal(s.me.root_frame, (uint64_t)(uintptr_t)&s);
	assert_int_equal(s.my_state, ASYNC_TASK_RUNNING);
	assert_int_equal(s.live_list, s.live_count);
	assert_int_equal(s.live_list, live0 + NW + 1);
	/* completed tasks left the list even though their handles are still held */
	for (int i = 0; i < NW; i++) {
		assert_null(find_task(s.ids[i]));
		assert_int_equal(joins[i].task->abi.state, ASYNC_TASK_DONE);
		assert_int_equal(joins[i].task->abi.polls, 2);
		async_join_drop(&joins[i]);
	}
	assert_null(find_task(s.my_id));
	assert_int_equal(async_registry.live_tasks, live0);
	assert_int_equal(async_registry.spawned_tasks, spawned0 + NW + 1);
	async_exec_free(exec);
	/* the executor's threads left the list */
	assert_int_equal(count_threads(ASYNC_THREAD_WORKER), 0);
	assert_int_equal(count_threads(ASYNC_THREAD_REACTOR), 0);
}

static void test_thread_register(void **state)
{
	(void)state;
	unsigned before = count_threads(ASYNC_THREAD_BLOCKING);
	struct async__thread *a = async__thread_register(ASYNC_THREAD_BLOCKING, 3);
	struct async__thread *b = async__thread_register(ASYNC_THREAD_BLOCKING, 4);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(count_threads(ASYNC_THREAD_BLOCKING), before + 2);
	struct async_thread_abi *t = find_thread((uint32_t)gettid());

	assert_non_null(t);
	assert_int_equal(t->magic, ASYNC_THREAD_MAGIC);
	assert_int_equal(t->seq, 0);
	assert_int_equal(t->task_id, 0);
	async__thread_unregister(a); /* not the head of the list */
	assert_int_equal(count_threads(ASYNC_THREAD_BLOCKING), before + 1);
	async__thread_unregister(b);
	assert_int_equal(count_threads(ASYNC_THREAD_BLOCKING), before);
	async__thread_unregister(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_registry),
		cmocka_unit_test(test_thread_register),
	};

	return RUN_AT_UPTIMES(tests);
}
