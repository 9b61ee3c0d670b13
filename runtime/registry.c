/* SPDX-License-Identifier: MIT */
/*
 * The registry: the exported symbol `async_registry` through which a tracer reading
 * process memory finds every runtime thread record and every live task.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"
#include "probes.h"

struct async_registry_abi async_registry __attribute__((visibility("default"), used)) = {
	.magic = ASYNC_REGISTRY_MAGIC,
	.version = ASYNC_ABI_VERSION,
	.size = sizeof(struct async_registry_abi),
};

/*
 * The lock over both lists. Its critical sections are a handful of stores, taken twice
 * per task, so it is a spinlock that yields the CPU after a short spin (a holder that
 * was preempted gets the CPU back) rather than a pthread mutex: half the cost.
 */
static _Atomic int reg_lock;

static void lock(void)
{
	while (atomic_exchange_explicit(&reg_lock, 1, memory_order_acquire)) {
		for (unsigned i = 0; atomic_load_explicit(&reg_lock, memory_order_relaxed); i++) {
			if (i < 100)
				__asm__ __volatile__("" ::: "memory");
			else
				sched_yield();
		}
	}
}

static void unlock(void)
{
	atomic_store_explicit(&reg_lock, 0, memory_order_release);
}
/* Task ids: 1, 2, 3, ... in link order, never reused (64 bits do not wrap). */
static uint64_t next_task_id = 1;

/* Links a new task (and gives it its id). Plain stores: outside readers are racy by design; gen
 * tells them something moved. */
void async__registry_link(struct async_task *t)
{
	lock();
	struct async_task_abi *head = (struct async_task_abi *)(uintptr_t)async_registry.tasks;

	t->abi.id = next_task_id++;
	t->abi.reg_prev = 0;
	t->abi.reg_next = (uint64_t)(uintptr_t)head;
	if (head)
		head->reg_prev = (uint64_t)(uintptr_t)&t->abi;
	/* release: a reader in this process that follows the head sees the record whole */
	__atomic_store_n(&async_registry.tasks, (uint64_t)(uintptr_t)&t->abi, __ATOMIC_RELEASE);
	async__store(&async_registry.live_tasks, async_registry.live_tasks + 1);
	async__store(&async_registry.spawned_tasks, async_registry.spawned_tasks + 1);
	async__store(&async_registry.gen, async_registry.gen + 1);
	unlock();
}

void async__registry_unlink(struct async_task *t)
{
	lock();
	struct async_task_abi *prev = (struct async_task_abi *)(uintptr_t)t->abi.reg_prev;
	struct async_task_abi *next = (struct async_task_abi *)(uintptr_t)t->abi.reg_next;

	if (prev)
		prev->reg_next = t->abi.reg_next;
	else
		async__store(&async_registry.tasks, t->abi.reg_next);
	if (next)
		next->reg_prev = t->abi.reg_prev;
	t->abi.reg_next = 0;
	t->abi.reg_prev = 0;
	async__store(&async_registry.live_tasks, async_registry.live_tasks - 1);
	async__store(&async_registry.gen, async_registry.gen + 1);
	unlock();
}

void async__registry_each(struct async_exec *exec, void (*fn)(struct async_task *, void *),
			  void *arg)
{
	lock();
	for (struct async_task_abi *a = (struct async_task_abi *)(uintptr_t)async_registry.tasks; a;
	     a = (struct async_task_abi *)(uintptr_t)a->reg_next) {
		struct async_task *t = (struct async_task *)a;

		if (t->exec == exec)
			fn(t, arg);
	}
	unlock();
}

struct async__thread *async__thread_register(enum async_thread_kind kind, unsigned index)
{
	struct async__thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->abi.magic = ASYNC_THREAD_MAGIC;
	t->abi.tid = (uint32_t)gettid();
	t->abi.kind = kind;
	t->abi.index = index;
	lock();
	t->abi.next = async_registry.threads;
	__atomic_store_n(&async_registry.threads, (uint64_t)(uintptr_t)&t->abi, __ATOMIC_RELEASE);
	async__store(&async_registry.gen, async_registry.gen + 1);
	unlock();
	if (ASYNC_PROBE_ENABLED(thread_start))
		ASYNC_PROBE(thread_start, t->abi.tid, (uint32_t)kind, (uint64_t)(uintptr_t)&t->abi);
	return t;
}

void async__thread_unregister(struct async__thread *t)
{
	if (!t)
		return;
	lock();
	__u64 *link = &async_registry.threads;

	while (*link && *link != (uint64_t)(uintptr_t)&t->abi)
		link = &((struct async_thread_abi *)(uintptr_t)*link)->next;
	if (*link)
		async__store(link, t->abi.next);
	async__store(&async_registry.gen, async_registry.gen + 1);
	unlock();
	async__ring_free(t); /* after unlinking: a reader of the list no longer finds it */
	free(t);
}

/*
 * ASYNC_RING_SLOTS (environment, read at load) sets the slots of the poll rings; a
 * tracer can also write async_registry.ring_slots before it attaches.
 */
__attribute__((constructor)) static void ring_slots_from_env(void)
{
	const char *v = getenv("ASYNC_RING_SLOTS");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return;
	n = strtoul(v, &end, 0);
	if (!*end && n && n <= ASYNC_RING_SLOTS_MAX)
		async__store(&async_registry.ring_slots, (uint32_t)n);
}

/*
 * At exit() (or return from main) the rings of the threads still running go with the
 * process: let a tracer drain them first. Not on _exit or a fatal signal.
 */
__attribute__((destructor)) static void rings_flush_at_exit(void)
{
	if (!ASYNC_PROBE_ENABLED(ring))
		return;
	lock();
	for (struct async_thread_abi *a =
		 (struct async_thread_abi *)(uintptr_t)async_registry.threads;
	     a; a = (struct async_thread_abi *)(uintptr_t)a->next)
		async__ring_flush((const struct async__thread *)a);
	unlock();
}
