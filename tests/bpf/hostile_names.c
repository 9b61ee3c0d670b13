/* SPDX-License-Identifier: MIT */
/*
 * Names a hostile program controls, for tests/bpf/test_hostile_names.sh: a task whose name
 * holds terminal escape sequences, a newline and a bell, polling at an await point whose
 * file name (from #line) holds them too. The task sleeps 20 ms in a loop; a second one
 * waits for it. Prints "ready (pid N)"; runs for --seconds S (default 60).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <async/async.h>

struct evil {
	struct async_frame frame;
	struct async_sleep pause;
};

struct waiter {
	struct async_frame frame;
	struct async_join join; /* of the evil task */
};

#line 100 "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\nfile.c"
static enum async_poll evil_poll(struct evil *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_sleep_init(&f->pause, 20 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	}
	ASYNC_RETURN(f);
}
#line 40 "tests/bpf/hostile_names.c"

static enum async_poll waiter_poll(struct waiter *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	ASYNC_AWAIT(f, cx, async_join, &f->join);
	ASYNC_RETURN(f);
}

int main(int argc, char **argv)
{
	static struct evil evil;
	static struct waiter waiter;
	struct async_exec_opts opts = { .workers = 1 };
	struct async_exec *exec;
	int seconds = argc > 2 && !strcmp(argv[1], "--seconds") ? atoi(argv[2]) : 60;
	int err;

	err = async_exec_new(&opts, &exec);
	if (!err)
		err = async_spawn(exec, "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\ntask #0 fake",
				  ASYNC_POLL_FN(evil_poll), &evil, NULL, &waiter.join);
	if (!err)
		err = async_spawn(exec, "waiter\x1b[5m", ASYNC_POLL_FN(waiter_poll), &waiter, NULL,
				  NULL);
	if (err) {
		fprintf(stderr, "hostile_names: %s\n", async_strerror(err));
		return 1;
	}
	printf("ready (pid %d)\n", (int)getpid());
	fflush(stdout);
	alarm((unsigned)seconds);
	return async_exec_run(exec) ? 1 : 0;
}
