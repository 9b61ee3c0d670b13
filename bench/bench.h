/* SPDX-License-Identifier: MIT */
/*
 * What the runtime benchmarks share: options (--threads, --iters), the executor they run
 * on, and the one result line each prints:
 *	<name> <T> thread(s): <value> ns/<unit> (cpu=<cpu>ns/<unit>; <details>)
 * bench/run.sh (and bench/profile.sh) parse the number before " ns/"; cpu= is the
 * process' CPU time (all threads) per unit. With --threads 1 the benchmarks use the
 * single-threaded executor (the counterpart of tokio's current_thread runtime).
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <async/async.h>

struct bench_opts {
	const char *name;
	unsigned threads;
	uint64_t iters;
	uint64_t tasks; /* benchmarks with a task count */
	uint64_t yields;
};

static void bench_usage(const struct bench_opts *o, const char *what, int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(
	    f,
	    "Usage: %s [--threads T] [--iters N] [--tasks K] [--yields Y]\n"
	    "\n%s\n\n"
	    "  -t, --threads T   1 = the single-threaded executor, else T workers (default %u)\n"
	    "  -n, --iters N     iterations (default %llu)\n"
	    "  -k, --tasks K     concurrent tasks, where the benchmark has several (default %llu)\n"
	    "  -y, --yields Y    yields per task, where the benchmark yields (default %llu)\n"
	    "  -h, --help        this text\n"
	    "\n"
	    "Prints one line: \"<name> <T> thread(s): <value> ns/<unit> (<details>)\".\n"
	    "\nEXAMPLES\n  %s --threads 2 --iters 1000000\n",
	    o->name, what, o->threads, (unsigned long long)o->iters, (unsigned long long)o->tasks,
	    (unsigned long long)o->yields, o->name);
	exit(status);
}

static uint64_t bench_num(const struct bench_opts *o, const char *opt, const char *s, uint64_t min)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end || *s == '-' || v < min) {
		fprintf(stderr, "%s: invalid value '%s' for %s: expected a number >= %llu\n",
			o->name, s, opt, (unsigned long long)min);
		exit(2);
	}
	return v;
}

static void bench_parse(struct bench_opts *o, int argc, char **argv, const char *what)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "iters", required_argument, NULL, 'n' },
		{ "tasks", required_argument, NULL, 'k' },
		{ "yields", required_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:n:k:y:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->threads = (unsigned)bench_num(o, "--threads", optarg, 1);
			break;
		case 'n':
			o->iters = bench_num(o, "--iters", optarg, 1);
			break;
		case 'k':
			o->tasks = bench_num(o, "--tasks", optarg, 1);
			break;
		case 'y':
			o->yields = bench_num(o, "--yields", optarg, 0);
			break;
		case 'h':
			bench_usage(o, what, 0);
			break;
		default:
			fprintf(stderr, "%s: %s option '%s' (try '%s --help')\n", o->name,
				c == ':' ? "missing value for" : "unknown", argv[optind - 1],
				o->name);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", o->name, argv[optind]);
		exit(2);
	}
}

static void bench_check(const struct bench_opts *o, const char *what, int err)
{
	if (err < 0) {
		fprintf(stderr, "%s: failed to %s: %s\n", o->name, what, async_strerror(err));
		exit(1);
	}
}

static struct async_exec *bench_exec(const struct bench_opts *o)
{
	struct async_exec_opts eo = { .workers = o->threads, .single_threaded = o->threads == 1 };
	struct async_exec *exec;

	bench_check(o, "create executor", async_exec_new(&eo, &exec));
	return exec;
}

/* CPU time of the whole process so far (every thread), in ns. */
static uint64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Prints the result line: wall-clock ns per unit, then (as "cpu=<n>ns/<unit>") the
 * process' CPU time per unit, which a busy machine disturbs much less than wall time.
 */
static void bench_report(const struct bench_opts *o, const char *metric, double ns,
			 const char *unit, uint64_t units, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void bench_report(const struct bench_opts *o, const char *metric, double ns,
			 const char *unit, uint64_t units, const char *fmt, ...)
{
	va_list ap;

	printf("%s %u thread%s: %.1f ns/%s (cpu=%.1fns/%s; ", metric, o->threads,
	       o->threads == 1 ? "" : "s", ns, unit, (double)bench_cpu_ns() / units, unit);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(")\n");
}

#endif /* BENCH_H */
