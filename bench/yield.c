/* SPDX-License-Identifier: MIT */
/*
 * yield: a poll-heavy workload. --tasks tasks each yield --yields times (every yield is
 * one poll that returns pending and re-queues the task), so nearly all the time goes
 * to polling and scheduling. Reports ns per poll; the tracer benchmarks use it to price
 * one traced poll.
 */
#include "bench.h"

struct yielder {
	struct async_frame frame;
	uint64_t left;
};

static enum async_poll yielder_poll(struct yielder *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (f->left) {
		f->left--;
		ASYNC_YIELD(f, cx);
	}
	ASYNC_RETURN(f);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .name = "yield", .threads = 1, .tasks = 100, .yields = 10000 };
	struct yielder *ys;
	struct async_exec *exec;
	uint64_t t0, t1, polls, i;

	o.iters = 1;
	bench_parse(&o, argc, argv,
		    "Runs --tasks tasks that each yield --yields times; reports ns per poll.\n"
		    "--iters repeats the whole run and reports the total.");
	ys = calloc(o.tasks, sizeof(*ys));
	if (!ys)
		bench_check(&o, "allocate", ASYNC_ENOMEM);
	exec = bench_exec(&o);
	t0 = async_now_ns();
	for (uint64_t r = 0; r < o.iters; r++) {
		for (i = 0; i < o.tasks; i++) {
			ys[i] = (struct yielder){ .left = o.yields };
			bench_check(&o, "spawn",
				    async_spawn(exec, "yielder", ASYNC_POLL_FN(yielder_poll),
						&ys[i], NULL, NULL));
		}
		bench_check(&o, "run", async_exec_run(exec));
	}
	t1 = async_now_ns();
	async_exec_free(exec);
	for (i = 0; i < o.tasks; i++) {
		if (ys[i].left) {
			fprintf(stderr, "yield: task %llu did not finish\n", (unsigned long long)i);
			return 1;
		}
	}
	polls = o.iters * o.tasks * (o.yields + 1);
	bench_report(&o, "yield_poll", (double)(t1 - t0) / polls, "poll", polls,
		     "%llu tasks x %llu yields x %llu runs = %llu polls",
		     (unsigned long long)o.tasks, (unsigned long long)o.yields,
		     (unsigned long long)o.iters, (unsigned long long)polls);
	free(ys);
	return 0;
}
