/* SPDX-License-Identifier: MIT */
/*
 * chain_fixture: known workloads for tests/bpf/test_trace_rings.sh.
 *
 *   chain_fixture chain [--tasks T] [--calls N] [--sleep-ms M]
 *	T tasks of level1, each awaiting level2 N times in a row; level2 awaits level3,
 *	level3 awaits a sleep of M ms: a three-level await chain whose leaf sleeps.
 *   chain_fixture selfwake [--polls N]
 *	one task that wakes itself (its own waker) on each of N polls, one that yields on
 *	each of N polls (ASYNC_YIELD), one that sleeps 1 ms N times, on one thread.
 *   chain_fixture yield [--tasks T] [--polls N] [--threads W]
 *	T tasks yielding N times each; prints "polls P", every poll the runtime made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <async/async.h>

static unsigned opt_tasks = 4, opt_calls = 2, opt_sleep_ms = 50, opt_polls = 200, opt_threads = 1;

struct level3 {
	struct async_frame frame;
	struct async_sleep sleep;
};

static enum async_poll level3_poll(struct level3 *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->sleep, (uint64_t)opt_sleep_ms * 1000000ull);
	ASYNC_AWAIT(f, cx, async_sleep, &f->sleep);
	ASYNC_RETURN(f);
}

struct level2 {
	struct async_frame frame;
	struct level3 l3;
};

static enum async_poll level2_poll(struct level2 *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	memset(&f->l3, 0, sizeof(f->l3));
	ASYNC_AWAIT(f, cx, level3, &f->l3);
	ASYNC_RETURN(f);
}

struct level1 {
	struct async_frame frame;
	unsigned i;
	struct level2 l2;
};

static enum async_poll level1_poll(struct level1 *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->i = 0; f->i < opt_calls; f->i++) {
		memset(&f->l2, 0, sizeof(f->l2));
		ASYNC_AWAIT(f, cx, level2, &f->l2);
	}
	ASYNC_RETURN(f);
}

/* Wakes its own waker during each poll (a self-wake), opt_polls polls. */
struct selfwaker {
	struct async_frame frame;
	unsigned n;
};

static enum async_poll selfwaker_poll(struct selfwaker *f, struct async_cx *cx)
{
	ASYNC_TRACE(f->frame);
	if (++f->n >= opt_polls)
		return ASYNC_READY;
	struct async_waker w = async_waker_clone(cx);

	async_waker_wake(&w);
	return ASYNC_PENDING;
}

struct yielder {
	struct async_frame frame;
	unsigned n;
};

static enum async_poll yielder_poll(struct yielder *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->n = 1; f->n < opt_polls; f->n++)
		ASYNC_YIELD(f, cx);
	ASYNC_RETURN(f);
}

struct sleeper {
	struct async_frame frame;
	unsigned n;
	struct async_sleep sleep;
};

static enum async_poll sleeper_poll(struct sleeper *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->n = 1; f->n < opt_polls; f->n++) {
		async_sleep_init(&f->sleep, 1000000ull);
		ASYNC_AWAIT(f, cx, async_sleep, &f->sleep);
	}
	ASYNC_RETURN(f);
}

static unsigned long parse(const char *opt, const char *v)
{
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;

	if (!v || *end || !n) {
		fprintf(stderr, "chain_fixture: bad value for %s\n", opt);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct async_exec_opts opts = { 0 };
	struct async_exec *exec;
	const char *mode = argc > 1 ? argv[1] : "";
	int err;

	for (int i = 2; i < argc; i += 2) {
		unsigned v = (unsigned)parse(argv[i], i + 1 < argc ? argv[i + 1] : NULL);

		if (!strcmp(argv[i], "--tasks"))
			opt_tasks = v;
		else if (!strcmp(argv[i], "--calls"))
			opt_calls = v;
		else if (!strcmp(argv[i], "--sleep-ms"))
			opt_sleep_ms = v;
		else if (!strcmp(argv[i], "--polls"))
			opt_polls = v;
		else if (!strcmp(argv[i], "--threads"))
			opt_threads = v;
		else {
			fprintf(stderr, "chain_fixture: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	opts.workers = opt_threads;
	opts.single_threaded = opt_threads == 1;
	err = async_exec_new(&opts, &exec);
	if (err) {
		fprintf(stderr, "chain_fixture: %s\n", async_strerror(err));
		return 1;
	}
	if (!strcmp(mode, "chain")) {
		struct level1 *t = calloc(opt_tasks, sizeof(*t));

		for (unsigned i = 0; t && !err && i < opt_tasks; i++)
			err = async_spawn(exec, "level1", ASYNC_POLL_FN(level1_poll), &t[i], NULL,
					  NULL);
		if (!err)
			err = async_exec_run(exec);
		free(t);
	} else if (!strcmp(mode, "selfwake")) {
		static struct selfwaker s;
		static struct yielder y;
		static struct sleeper z;

		err = async_spawn(exec, "selfwaker", ASYNC_POLL_FN(selfwaker_poll), &s, NULL, NULL);
		if (!err)
			err = async_spawn(exec, "yielder", ASYNC_POLL_FN(yielder_poll), &y, NULL,
					  NULL);
		if (!err)
			err = async_spawn(exec, "sleeper", ASYNC_POLL_FN(sleeper_poll), &z, NULL,
					  NULL);
		if (!err)
			err = async_exec_run(exec);
	} else if (!strcmp(mode, "yield")) {
		struct yielder *t = calloc(opt_tasks, sizeof(*t));

		for (unsigned i = 0; t && !err && i < opt_tasks; i++)
			err = async_spawn(exec, "yielder", ASYNC_POLL_FN(yielder_poll), &t[i], NULL,
					  NULL);
		if (!err)
			err = async_exec_run(exec);
		if (!err)
			printf("polls %lu\n", (unsigned long)opt_tasks * opt_polls);
		free(t);
	} else {
		fprintf(stderr, "usage: chain_fixture chain|selfwake|yield [options]\n");
		err = ASYNC_EINVAL;
	}
	async_exec_free(exec);
	if (err) {
		fprintf(stderr, "chain_fixture: %s\n", async_strerror(err));
		return 1;
	}
	return 0;
}
