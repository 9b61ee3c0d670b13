/* SPDX-License-Identifier: MIT */
/*
 * A task stuck for good without a cycle, for tests/bpf/test_deadlock.sh: `leaker` locks
 * a mutex and completes without unlocking it; `waiter` then waits for that mutex
 * forever. Prints "ready (pid N)" once waiter is waiting; runs until killed.
 */
#include <stdio.h>
#include <unistd.h>

#include <async/async.h>

static struct async_mutex table_lock;

struct leaker {
	struct async_frame frame;
	struct async_lock lock;
};

static enum async_poll leaker_poll(struct leaker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock, &table_lock);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	/* returns holding table_lock: nothing will ever unlock it */
	ASYNC_RETURN(f);
}

struct waiter {
	struct async_frame frame;
	struct async_sleep pause;
	struct async_lock lock;
};

static enum async_poll waiter_poll(struct waiter *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->pause, 50 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	async_lock_init(&f->lock, &table_lock);
	printf("ready (pid %d)\n", (int)getpid());
	fflush(stdout);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	async_mutex_unlock(&table_lock, cx);
	ASYNC_RETURN(f);
}

int main(void)
{
	static struct leaker leaker;
	static struct waiter waiter;
	struct async_exec_opts opts = { .workers = 1 };
	struct async_exec *exec;
	int err;

	async_mutex_init(&table_lock);
	err = async_exec_new(&opts, &exec);
	if (!err)
		err = async_spawn(exec, "leaker", ASYNC_POLL_FN(leaker_poll), &leaker, NULL, NULL);
	if (!err)
		err = async_spawn(exec, "waiter", ASYNC_POLL_FN(waiter_poll), &waiter, NULL, NULL);
	if (!err)
		err = async_exec_run(exec);
	fprintf(stderr, "stuck_mutex: %s\n", async_strerror(err));
	return 1;
}
