/* SPDX-License-Identifier: MIT */
/*
 * task_spawn's fn_desc for ASYNC_BEGIN futures, for tests/bpf/test_spawn_fn.sh: `main`
 * spawns a wave of WAVE `leaf` tasks and joins them, then a second wave. With the poll
 * probe traced, the first wave's spawns carry fn_desc 0 (no leaf polled yet) and the
 * second wave's carry leaf's FUNCTION descriptor, which this prints after the first
 * wave: "leaf_desc 0x...". Exits 0 when every leaf returned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <async/async.h>

#define WAVE 10

struct leaf {
	struct async_frame frame;
	int x, out;
};

static enum async_poll leaf_poll(struct leaf *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	(void)cx;
	f->out = f->x + 1;
	ASYNC_RETURN(f);
}

struct waves {
	struct async_frame frame;
	int wave, i, sum;
	struct leaf leaves[WAVE];
	struct async_join joins[WAVE];
};

static enum async_poll waves_poll(struct waves *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->wave = 0; f->wave < 2; f->wave++) {
		for (f->i = 0; f->i < WAVE; f->i++) {
			f->leaves[f->i] = (struct leaf){ .x = f->i };
			if (async_spawn_cx(cx, "leaf", ASYNC_POLL_FN(leaf_poll), &f->leaves[f->i],
					   NULL, &f->joins[f->i])) {
				fprintf(stderr, "spawn_fn: spawn failed\n");
				abort();
			}
		}
		for (f->i = 0; f->i < WAVE; f->i++) {
			ASYNC_AWAIT(f, cx, async_join, &f->joins[f->i]);
			f->sum += f->leaves[f->i].out;
			async_join_drop(&f->joins[f->i]);
		}
		if (f->wave == 0) {
			printf("leaf_desc %#" PRIxPTR "\n", (uintptr_t)f->leaves[0].frame.fn);
			fflush(stdout);
		}
	}
	ASYNC_RETURN(f);
}

int main(void)
{
	static struct waves w;
	struct async_exec_opts opts = { .workers = 1, .single_threaded = true };
	struct async_exec *exec;
	int err = async_exec_new(&opts, &exec);

	if (!err)
		err = async_spawn(exec, "waves", ASYNC_POLL_FN(waves_poll), &w, NULL, NULL);
	if (!err)
		err = async_exec_run(exec);
	async_exec_free(exec);
	if (err || w.sum != 2 * (WAVE * (WAVE + 1) / 2)) {
		fprintf(stderr, "spawn_fn: %s, sum %d\n", async_strerror(err), w.sum);
		return 1;
	}
	return 0;
}
