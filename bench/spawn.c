/* SPDX-License-Identifier: MIT */
/*
 * spawn_join: tasks spawned and completed per second. The shape of
 * ../shared/peers/tokio (spawn + --yields yields + join, in batches of 1024 handles):
 * a main task spawns --iters leaf tasks, joining each batch of 1024 before the next.
 * Reports ns per task, measured inside the main task.
 */
#include <string.h>

#include "bench.h"

#define BATCH 1024

/* async fn leaf(x) -> x + 1, yielding `yields` times first */
struct leaf {
	struct async_frame frame;
	uint64_t x;
	uint64_t yields;
	uint64_t out;
};

static enum async_poll leaf_poll(struct leaf *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (f->yields) {
		f->yields--;
		ASYNC_YIELD(f, cx);
	}
	f->out = f->x + 1;
	ASYNC_RETURN(f);
}

struct spawner {
	struct async_frame frame;
	const struct bench_opts *o;
	uint64_t next, i, batch, sum;
	uint64_t t0, t1;
	struct leaf leaves[BATCH];
	struct async_join joins[BATCH];
};

static enum async_poll spawner_poll(struct spawner *s, struct async_cx *cx)
{
	ASYNC_BEGIN(s);
	s->t0 = async_now_ns();
	while (s->next < s->o->iters) {
		for (s->batch = 0; s->batch < BATCH && s->next < s->o->iters; s->batch++) {
			struct leaf *l = &s->leaves[s->batch];

			l->frame = (struct async_frame){ 0 };
			l->x = s->next++;
			l->yields = s->o->yields;
			bench_check(s->o, "spawn",
				    async_spawn_cx(cx, "leaf", ASYNC_POLL_FN(leaf_poll), l, NULL,
						   &s->joins[s->batch]));
		}
		for (s->i = 0; s->i < s->batch; s->i++) {
			ASYNC_AWAIT(s, cx, async_join, &s->joins[s->i]);
			s->sum += s->leaves[s->i].out;
			async_join_drop(&s->joins[s->i]);
		}
	}
	s->t1 = async_now_ns();
	ASYNC_RETURN(s);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .name = "spawn", .threads = 1, .iters = 1000000, .yields = 1 };
	struct spawner *s;
	struct async_exec *exec;
	uint64_t want;

	bench_parse(&o, argc, argv,
		    "Spawns --iters tasks (each yields --yields times, then returns x + 1) in\n"
		    "batches of 1024 JoinHandles, joins them, reports ns per task.");
	s = calloc(1, sizeof(*s));
	if (!s)
		bench_check(&o, "allocate", ASYNC_ENOMEM);
	s->o = &o;
	exec = bench_exec(&o);
	bench_check(&o, "run", async_block_on(exec, "spawner", ASYNC_POLL_FN(spawner_poll), s));
	async_exec_free(exec);
	want = o.iters * (o.iters + 1) / 2;
	if (s->sum != want) {
		fprintf(stderr, "spawn: wrong sum %llu, expected %llu\n",
			(unsigned long long)s->sum, (unsigned long long)want);
		return 1;
	}
	bench_report(&o, "spawn_join", (double)(s->t1 - s->t0) / o.iters, "task", o.iters,
		     "%llu tasks, %llu yield%s each, batches of %d", (unsigned long long)o.iters,
		     (unsigned long long)o.yields, o.yields == 1 ? "" : "s", BATCH);
	free(s);
	return 0;
}
