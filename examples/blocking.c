/* SPDX-License-Identifier: MIT */
/*
 * blocking: the classic async mistake, on purpose. The task "checksum" calls
 * compress_blocking(), a blocking sleep of --block-ms, straight from its poll function
 * (checksum_poll), --rounds times, yielding in between. While it blocks, its worker
 * thread runs nothing else; --tickers tasks named "ticker" keep ticking every --tick-ms
 * on the other workers (with --threads 1 they stall, which is the point).
 *
 * `async-inspect trace` flags checksum's polls as long polls that block the executor.
 * The fix, spawn_blocking, is what `--fixed` does: the same work through
 * async_blocking on the blocking pool.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <async/async.h>

#include "opts.h"

static uint64_t block_ns = 50 * ASYNC_MSEC;
static uint64_t tick_ns = 5 * ASYNC_MSEC;
static int checksum_done; /* atomic: tickers stop once set */

/* A plain, blocking function: what must never run inside a poll. */
static __attribute__((noinline)) int compress_blocking(void *arg)
{
	struct timespec ts = { .tv_sec = block_ns / ASYNC_SEC, .tv_nsec = block_ns % ASYNC_SEC };
	unsigned *sum = arg;

	while (nanosleep(&ts, &ts) < 0)
		;
	*sum = *sum * 31 + 7;
	return 0;
}

/* async fn checksum(rounds): blocks its worker in every poll (unless fixed). */
struct checksum {
	struct async_frame frame;
	uint64_t rounds;
	uint64_t i;
	bool fixed;
	unsigned sum;
	struct async_blocking job;
};

static enum async_poll checksum_poll(struct checksum *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->i = 0; f->i < f->rounds; f->i++) {
		if (f->fixed) {
			async_blocking_init(&f->job, compress_blocking, &f->sum);
			ASYNC_AWAIT(f, cx, async_blocking, &f->job);
		} else {
			ASYNC_CALL(compress_blocking, &f->sum); /* blocks the worker */
			ASYNC_YIELD(f, cx);
		}
	}
	__atomic_store_n(&checksum_done, 1, __ATOMIC_RELEASE);
	ASYNC_RETURN(f);
}

static void checksum_drop(struct checksum *f)
{
	async_blocking_drop(&f->job);
}

/* async fn ticker(): ticks every tick_ns until checksum is done. */
struct ticker {
	struct async_frame frame;
	uint64_t ticks;
	struct async_sleep tick;
};

static enum async_poll ticker_poll(struct ticker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	while (!__atomic_load_n(&checksum_done, __ATOMIC_ACQUIRE)) {
		async_sleep_init(&f->tick, tick_ns);
		ASYNC_AWAIT(f, cx, async_sleep, &f->tick);
		f->ticks++;
	}
	ASYNC_RETURN(f);
}

static void ticker_drop(struct ticker *f)
{
	async_sleep_drop(&f->tick);
}

static void usage(void)
{
	printf("Usage: blocking [--rounds N] [--block-ms MS] [--tickers K] [--tick-ms MS]\n"
	       "                [--threads T] [--fixed]\n"
	       "\n"
	       "The task checksum calls a blocking sleep (compress_blocking) inside its poll\n"
	       "function, N times, while K ticker tasks keep ticking on the other workers.\n"
	       "Prints one summary line on stderr and exits 0.\n"
	       "\n"
	       "  -r, --rounds N      blocking calls (default 20)\n"
	       "  -b, --block-ms MS   length of each blocking call (default 50)\n"
	       "  -k, --tickers K     ticker tasks (default 2)\n"
	       "  -i, --tick-ms MS    ticker period (default 5)\n"
	       "  -t, --threads T     worker threads (default 2)\n"
	       "  -F, --fixed         do the blocking work on the blocking pool instead\n"
	       "  -h, --help          this text\n"
	       "\n"
	       "EXAMPLES\n"
	       "  blocking --rounds 40\n"
	       "  sudo async-inspect trace --long-poll 20 -- blocking --rounds 10\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "block-ms", required_argument, NULL, 'b' },
		{ "tickers", required_argument, NULL, 'k' },
		{ "tick-ms", required_argument, NULL, 'i' },
		{ "threads", required_argument, NULL, 't' },
		{ "fixed", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct async_exec_opts opts = { .workers = 2 };
	struct checksum checksum = { .rounds = 20 };
	struct ticker *tickers;
	uint64_t ntickers = 2, ticks = 0, t0, elapsed, i;
	struct async_exec *exec;
	int c, err;

	ex_prog = "blocking";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:b:k:i:t:Fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			checksum.rounds = ex_parse_uint("--rounds", optarg, 1, 1000000);
			break;
		case 'b':
			block_ns = ex_parse_uint("--block-ms", optarg, 0, 60000) * ASYNC_MSEC;
			break;
		case 'k':
			ntickers = ex_parse_uint("--tickers", optarg, 0, 10000);
			break;
		case 'i':
			tick_ns = ex_parse_uint("--tick-ms", optarg, 1, 60000) * ASYNC_MSEC;
			break;
		case 'F':
			checksum.fixed = true;
			break;
		default: /* -t, -h and bad options */
			ex_common_option(argv, c, &opts, usage);
		}
	}
	ex_no_operands(argc, argv);

	tickers = calloc(ntickers ? ntickers : 1, sizeof(*tickers));
	if (!tickers)
		ex_fail("allocate tickers", ASYNC_ENOMEM);
	exec = ex_exec_new(&opts);
	t0 = async_now_ns();
	err = async_spawn(exec, "checksum", ASYNC_POLL_FN(checksum_poll), &checksum,
			  ASYNC_DROP_FN(checksum_drop), NULL);
	for (i = 0; !err && i < ntickers; i++)
		err = async_spawn(exec, "ticker", ASYNC_POLL_FN(ticker_poll), &tickers[i],
				  ASYNC_DROP_FN(ticker_drop), NULL);
	if (err < 0)
		ex_fail("spawn tasks", err);
	err = async_exec_run(exec);
	elapsed = async_now_ns() - t0;
	async_exec_free(exec);
	if (err < 0)
		ex_fail("run executor", err);
	for (i = 0; i < ntickers; i++)
		ticks += tickers[i].ticks;
	fprintf(stderr,
		"checksum: %" PRIu64 " rounds of %.0f ms %s in %.0f ms; %" PRIu64
		" tickers ticked %" PRIu64 " times\n",
		checksum.rounds, block_ns / 1e6,
		checksum.fixed ? "on the blocking pool" : "in poll", elapsed / 1e6, ntickers,
		ticks);
	free(tickers);
	return 0;
}
