/* SPDX-License-Identifier: MIT */
/*
 * Command-line helpers the example programs share: strict number parsing and the one
 * error form "PROG: <message>" followed by exit status 2 for bad usage.
 */
#ifndef EXAMPLES_OPTS_H
#define EXAMPLES_OPTS_H

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <async/error.h>
#include <async/exec.h>

static const char *ex_prog = "example";

static void ex_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void ex_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ex_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s --help')\n", ex_prog);
	exit(2);
}

/* A runtime failure: "PROG: failed to <what>: <message>", exit status 1. */
static void ex_fail(const char *what, int err) __attribute__((noreturn));
static void ex_fail(const char *what, int err)
{
	fprintf(stderr, "%s: failed to %s: %s\n", ex_prog, what, async_strerror(err));
	exit(1);
}

/* Parses a decimal in [min, max] for option `name`, or exits with a usage error. */
static uint64_t ex_parse_uint(const char *name, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		ex_usage_error("invalid value '%s' for %s: expected a number", s ? s : "", name);
	v = strtoull(s, &end, 10);
	if (errno || *end)
		ex_usage_error("invalid value '%s' for %s: expected a number", s, name);
	if (v < min || v > max)
		ex_usage_error("invalid value '%s' for %s: expected %llu..%llu", s, name,
			       (unsigned long long)min, (unsigned long long)max);
	return v;
}

/*
 * getopt_long with opterr = 0 reports problems here: one line naming the option.
 * Call for the '?' and ':' returns.
 */
static void ex_bad_option(char **argv, int c)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		ex_usage_error("option '%s' needs a value", arg);
	if (optopt)
		ex_usage_error("unknown option '-%c'", optopt);
	ex_usage_error("unknown option '%s'", arg);
}

/*
 * The options every example has, for the default case of its getopt_long switch:
 * -t/--threads T (worker threads, into opts->workers), -h/--help (prints usage(), exits
 * 0) and anything unknown (a usage error).
 */
static void ex_common_option(char **argv, int c, struct async_exec_opts *opts, void (*usage)(void))
{
	switch (c) {
	case 't':
		opts->workers = ex_parse_uint("--threads", optarg, 1, 1024);
		return;
	case 'h':
		usage();
		exit(0);
	default:
		ex_bad_option(argv, c);
	}
}

/* After the options: the examples take no operands. */
static void ex_no_operands(int argc, char **argv)
{
	if (optind < argc)
		ex_usage_error("unexpected argument '%s'", argv[optind]);
}

/* A new executor, or exits with "PROG: failed to create executor: ...". */
static struct async_exec *ex_exec_new(const struct async_exec_opts *opts)
{
	struct async_exec *exec;
	int err = async_exec_new(opts, &exec);

	if (err < 0)
		ex_fail("create executor", err);
	return exec;
}

#endif /* EXAMPLES_OPTS_H */
