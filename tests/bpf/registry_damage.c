/* SPDX-License-Identifier: MIT */
/*
 * A libasync process whose registry a hostile or buggy program damaged, for
 * tests/bpf/test_registry.sh, or one with very many tasks. Spawns N tasks that sleep for
 * an hour, then, per mode, damages its own registry through the exported symbol:
 *   --many N        N live tasks, nothing damaged
 *   --loop          the task list loops back to its head
 *   --bad-list      the task list points at unreadable memory
 *   --parent-cycle  two tasks name each other as parent
 *   --deep N        a spawn chain N tasks deep (each task spawns the next)
 * Prints "ready (pid P)" and runs until killed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <async/abi.h>
#include <async/async.h>

extern struct async_registry_abi async_registry;

struct sleeper {
	struct async_frame frame;
	struct async_sleep pause;
	unsigned depth; /* --deep: tasks still to spawn below this one */
};

static struct sleeper *sleepers;
static size_t nsleepers;
static int deep_mode;

static void ready(void)
{
	printf("ready (pid %d)\n", (int)getpid());
	fflush(stdout);
}

static enum async_poll sleeper_poll(struct sleeper *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	if (f->depth) {
		struct sleeper *c = f + 1;

		c->depth = f->depth - 1;
		if (async_spawn_cx(cx, "deep", ASYNC_POLL_FN(sleeper_poll), c, NULL, NULL))
			abort();
	} else if (deep_mode && f == &sleepers[nsleepers - 1]) {
		ready(); /* the deepest task of a chain */
	}
	async_sleep_init(&f->pause, 3600 * ASYNC_SEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	ASYNC_RETURN(f);
}

static struct async_task_abi *task_at(uint64_t addr)
{
	return (struct async_task_abi *)(uintptr_t)addr;
}

int main(int argc, char **argv)
{
	struct async_exec_opts opts = { .workers = 1 };
	const char *mode = argc > 1 ? argv[1] : "--many";
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	struct async_exec *exec;
	int err;

	deep_mode = !strcmp(mode, "--deep");
	if (deep_mode)
		n += 1;
	sleepers = calloc(n, sizeof(*sleepers));
	if (!sleepers || async_exec_new(&opts, &exec))
		return 1;
	nsleepers = n;
	if (!strcmp(mode, "--deep")) {
		sleepers[0].depth = (unsigned)n - 1;
		err = async_spawn(exec, "deep", ASYNC_POLL_FN(sleeper_poll), &sleepers[0], NULL,
				  NULL);
	} else {
		err = 0;
		for (size_t i = 0; i < n && !err; i++)
			err = async_spawn(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll),
					  &sleepers[i], NULL, NULL);
	}
	if (err) {
		fprintf(stderr, "registry_damage: %s\n", async_strerror(err));
		return 1;
	}
	if (!strcmp(mode, "--loop")) {
		struct async_task_abi *t = task_at(async_registry.tasks);

		while (t->reg_next)
			t = task_at(t->reg_next);
		t->reg_next = async_registry.tasks; /* the last links back to the first */
	} else if (!strcmp(mode, "--bad-list")) {
		async_registry.tasks = 0x10;
	} else if (!strcmp(mode, "--parent-cycle")) {
		struct async_task_abi *a = task_at(async_registry.tasks);
		struct async_task_abi *b = task_at(a->reg_next);

		a->parent_id = b->id;
		b->parent_id = a->id;
	}
	if (strcmp(mode, "--deep"))
		ready();
	return async_exec_run(exec) ? 1 : 0;
}
