/* SPDX-License-Identifier: MIT */
/*
 * The profile tests' workload: one CPU-heavy task and one mostly idle task on a
 * two-worker executor, for a profiler to tell apart.
 *
 *   cpu_idle_mix [--seconds S] [--late-ms M] [--blocking]
 *
 * - heavy_task awaits heavy_step, which calls crunch_numbers (a plain function that
 *   burns about 2 ms of CPU) and yields, over and over: nearly all on-task CPU time is
 *   heavy_task;heavy_step@...;...;crunch_numbers.
 * - idle_task sleeps 20 ms on a timer and does 0.3 ms of light_work when woken (about
 *   1.5% of a CPU).
 * - --late-ms M: M ms after start, a new thread creates a second executor (new worker
 *   threads) that runs late_task, which also calls crunch_numbers: threads born after
 *   a profiler attached.
 * - --blocking: offload_task runs blocking_crunch (about 6 ms of crunch_numbers) on the
 *   blocking pool, over and over.
 * - --seconds S (default 0 = forever): every task stops after S seconds; exit 0.
 * Built with frame pointers so user stacks unwind through this file's functions.
 */
#pragma GCC optimize("no-omit-frame-pointer")

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <async/async.h>

static uint64_t stop_ns; /* 0: run forever */
static volatile uint64_t sink;

static int stop_now(void)
{
	return stop_ns && async_now_ns() >= stop_ns;
}

/* The plain function that burns the CPU: about 2 ms of arithmetic per call. */
__attribute__((noinline)) uint64_t crunch_numbers(uint64_t seed)
{
	uint64_t x = seed | 1, t0 = async_now_ns();

	do {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		sink += x;
	} while (async_now_ns() - t0 < 2 * ASYNC_MSEC);
	return x;
}

/* What idle_task does when woken: about 0.3 ms of the same arithmetic. */
__attribute__((noinline)) uint64_t light_work(uint64_t seed)
{
	uint64_t x = seed | 1, t0 = async_now_ns();

	do {
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		sink += x;
	} while (async_now_ns() - t0 < 300 * ASYNC_USEC);
	return x;
}

/* ---- async fn heavy_step(): crunch, yield, a few times ------------------------------- */

struct heavy_step {
	struct async_frame frame;
	unsigned i;
};

static enum async_poll heavy_step_poll(struct heavy_step *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->i = 0; f->i < 10; f->i++) {
		ASYNC_CALL(crunch_numbers, f->i);
		ASYNC_YIELD(f, cx);
	}
	ASYNC_RETURN(f);
}

/* ---- async fn heavy_task(): heavy_step until stopped --------------------------------- */

struct heavy_task {
	struct async_frame frame;
	struct heavy_step step;
};

static enum async_poll heavy_task_poll(struct heavy_task *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (!stop_now()) {
		memset(&f->step, 0, sizeof(f->step));
		ASYNC_AWAIT(f, cx, heavy_step, &f->step);
	}
	ASYNC_RETURN(f);
}

/* ---- async fn idle_task(): sleep, barely work ---------------------------------------- */

struct idle_task {
	struct async_frame frame;
	struct async_sleep nap;
	uint64_t wakes;
};

static enum async_poll idle_task_poll(struct idle_task *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (!stop_now()) {
		async_sleep_init(&f->nap, 20 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->nap);
		ASYNC_CALL(light_work, f->wakes++);
	}
	ASYNC_RETURN(f);
}

static void idle_task_drop(struct idle_task *f)
{
	async_sleep_drop(&f->nap);
}

/* ---- async fn late_task(): like heavy_task, on threads started later ------------------ */

struct late_task {
	struct async_frame frame;
};

static enum async_poll late_task_poll(struct late_task *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (!stop_now()) {
		ASYNC_CALL(crunch_numbers, 7);
		ASYNC_YIELD(f, cx);
	}
	ASYNC_RETURN(f);
}

/* ---- async fn offload_task(): CPU work on the blocking pool (--blocking) ------------- */

/* Runs on a blocking-pool thread: about 5 ms of arithmetic. */
__attribute__((noinline)) int blocking_crunch(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		crunch_numbers((uint64_t)i);
	return 0;
}

struct offload_task {
	struct async_frame frame;
	struct async_blocking job;
};

static enum async_poll offload_task_poll(struct offload_task *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (!stop_now()) {
		async_blocking_init(&f->job, blocking_crunch, NULL);
		ASYNC_AWAIT(f, cx, async_blocking, &f->job);
	}
	ASYNC_RETURN(f);
}

static void offload_task_drop(struct offload_task *f)
{
	async_blocking_drop(&f->job);
}

/* ---- main ---------------------------------------------------------------------------- */

struct main_task {
	struct async_frame frame;
	struct heavy_task heavy;
	struct idle_task idle;
	struct offload_task offload;
	struct async_join jh, ji, jo;
	bool blocking;
	int err;
};

static enum async_poll main_task_poll(struct main_task *m, struct async_cx *cx)
{
	ASYNC_BEGIN(m);
	m->err = async_spawn_cx(cx, "heavy_task", ASYNC_POLL_FN(heavy_task_poll), &m->heavy, NULL,
				&m->jh);
	if (m->err >= 0)
		m->err = async_spawn_cx(cx, "idle_task", ASYNC_POLL_FN(idle_task_poll), &m->idle,
					ASYNC_DROP_FN(idle_task_drop), &m->ji);
	if (m->err >= 0 && m->blocking)
		m->err = async_spawn_cx(cx, "offload_task", ASYNC_POLL_FN(offload_task_poll),
					&m->offload, ASYNC_DROP_FN(offload_task_drop), &m->jo);
	if (m->err < 0)
		ASYNC_DONE(m);
	ASYNC_AWAIT(m, cx, async_join, &m->jh);
	ASYNC_AWAIT(m, cx, async_join, &m->ji);
	if (m->blocking)
		ASYNC_AWAIT(m, cx, async_join, &m->jo);
	async_join_drop(&m->jh);
	async_join_drop(&m->ji);
	async_join_drop(&m->jo);
	ASYNC_RETURN(m);
}

static unsigned late_ms;

static void *late_thread(void *arg)
{
	struct async_exec_opts opts = { .workers = 1 };
	struct late_task t = { 0 };
	struct async_exec *exec;

	(void)arg;
	usleep(late_ms * 1000u);
	if (stop_now() || async_exec_new(&opts, &exec) < 0)
		return NULL;
	async_block_on(exec, "late_task", ASYNC_POLL_FN(late_task_poll), &t);
	async_exec_free(exec);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "late-ms", required_argument, NULL, 'l' },
		{ "blocking", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct async_exec_opts opts = { .workers = 2 };
	struct main_task m = { 0 };
	struct async_exec *exec;
	pthread_t late;
	int c, err;

	while ((c = getopt_long(argc, argv, "s:l:bh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			stop_ns = async_now_ns() + strtoull(optarg, NULL, 10) * ASYNC_SEC;
			break;
		case 'l':
			late_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			m.blocking = true;
			break;
		case 'h':
			printf("Usage: cpu_idle_mix [--seconds S] [--late-ms M] [--blocking]\n");
			return 0;
		default:
			fprintf(stderr, "cpu_idle_mix: bad arguments (try --help)\n");
			return 2;
		}
	}
	if (late_ms && pthread_create(&late, NULL, late_thread, NULL)) {
		fprintf(stderr, "cpu_idle_mix: failed to start the late thread\n");
		return 1;
	}
	err = async_exec_new(&opts, &exec);
	if (err < 0) {
		fprintf(stderr, "cpu_idle_mix: failed to create executor: %s\n",
			async_strerror(err));
		return 1;
	}
	err = async_block_on(exec, "main", ASYNC_POLL_FN(main_task_poll), &m);
	async_exec_free(exec);
	if (late_ms)
		pthread_join(late, NULL);
	if (err < 0 || m.err < 0) {
		fprintf(stderr, "cpu_idle_mix: %s\n", async_strerror(err < 0 ? err : m.err));
		return 1;
	}
	return 0;
}
