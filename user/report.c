// SPDX-License-Identifier: MIT
/*
 * async-inspect report: the summaries of `trace` (same text, same JSON schema), a
 * Perfetto timeline, an SVG picture or terminal bars, offline from a recording.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "outfile.h"
#include "summary.h"
#include "sumopts.h"
#include "taskfmt.h"
#include "timeline.h"

/* Exit status of a report on a damaged recording (what was readable was reported). */
#define AI_EXIT_PARTIAL 3

static struct env {
	const char *file;
	const char *output;
	const char *timeline;
	const char *svg;
	const char *folded_wait;
	bool json, pretty, text, no_color;
	struct ai_sum_opts sum;
	unsigned width;
	size_t rows;
} env = { .sum = AI_SUM_OPTS_DEFAULT, .rows = 50 };

enum {
	OPT_JSON = 0x100,
	OPT_PRETTY,
	OPT_TIMELINE,
	OPT_SVG,
	OPT_TEXT,
	OPT_WIDTH,
	OPT_ROWS,
	OPT_NO_COLOR,
	OPT_FOLDED_WAIT,
};

static const char doc[] =
    "Summaries, timelines and pictures from a recording made by 'async-inspect record'.\n"
    "\n"
    "Without options prints the same summary as 'trace' (per function, per await point, "
    "per task, warnings); --json prints it in the JSON schema of 'trace --json'. "
    "--timeline writes Chrome trace-event JSON for ui.perfetto.dev or chrome://tracing "
    "(a track per task with its polls and waits, worker threads, spawn and wake arrows); "
    "--svg a static picture with a row per task; --text the same as coloured bars in the "
    "terminal. A damaged or truncated recording is reported as far as it could be read, "
    "with a warning and exit status 3.\n"
    "\n"
    "EXAMPLES:\n"
    "  async-inspect report run.rec                     # text summary\n"
    "  async-inspect report run.rec --json --pretty     # the trace --json schema\n"
    "  async-inspect report run.rec --timeline run.json # then open it in Perfetto\n"
    "  async-inspect report run.rec --svg run.svg       # one row per task\n"
    "  async-inspect report run.rec --text --rows 20    # bars in the terminal\n"
    "\v"
    "Exit status: 0 ok, 1 the file cannot be read or is not a recording, 2 bad usage, 3 the "
    "recording is damaged or incomplete (the report covers what could be read). The file "
    "format is docs/record-format.md; the JSON schema docs/trace-json.md; the exports "
    "docs/report.md.";

static const struct argp_option opts[] = {
	{ "json", 'j', NULL, 0, "Print the summary as one JSON document", 0 },
	{ "pretty", OPT_PRETTY, NULL, 0, "Indent the JSON (implies --json)", 0 },
	{ "output", 'o', "FILE", 0, "Write the summary to FILE instead of stdout", 0 },
	{ "timeline", OPT_TIMELINE, "OUT.json", 0, "Write a Chrome trace-event timeline", 0 },
	{ "svg", OPT_SVG, "OUT.svg", 0, "Write an SVG timeline, one row per task", 0 },
	{ "text", OPT_TEXT, NULL, 0, "Print the timeline as bars in the terminal", 0 },
	{ "width", OPT_WIDTH, "COLS", 0, "Width of the --text bars (default: terminal)", 0 },
	{ "rows", OPT_ROWS, "N", 0, "Tasks shown by --text (default 50, 0 = all)", 0 },
	{ "no-color", OPT_NO_COLOR, NULL, 0, "No ANSI colours in --text", 0 },
	{ "folded-wait", OPT_FOLDED_WAIT, "FILE", 0,
	  "Write the await chains as folded stacks weighted by nanoseconds waited", 0 },
	AI_SUM_ARGP_OPTIONS,
	{},
};

/* An error ai_bad_value or ai_errorf printed already (see ai_tf_parse_args). */
static int reported(int err)
{
	(void)err;
	return AI_TF_ARG_REPORTED;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	uint64_t v;

	(void)state;
	switch (key) {
	case 'j':
		env.json = true;
		break;
	case OPT_PRETTY:
		env.json = env.pretty = true;
		break;
	case 'o':
		env.output = arg;
		break;
	case OPT_TIMELINE:
		env.timeline = arg;
		break;
	case OPT_FOLDED_WAIT:
		env.folded_wait = arg;
		break;
	case OPT_SVG:
		env.svg = arg;
		break;
	case OPT_TEXT:
		env.text = true;
		break;
	case OPT_WIDTH:
		if (!ai_parse_u64(arg, &v) || v < 10 || v > 10000)
			return reported(ai_bad_value("--width", arg, "10..10000 columns"));
		env.width = (unsigned)v;
		break;
	case OPT_ROWS:
		if (!ai_parse_u64(arg, &v) || v > 1000000)
			return reported(ai_bad_value("--rows", arg, "a number of tasks"));
		env.rows = (size_t)v;
		break;
	case OPT_NO_COLOR:
		env.no_color = true;
		break;
	case ARGP_KEY_ARG:
		if (env.file) {
			ai_errorf(
			    "one recording at a time: '%s' and '%s' (see 'async-inspect report "
			    "--help')",
			    env.file, arg);
			return AI_TF_ARG_REPORTED;
		}
		env.file = arg;
		break;
	case ARGP_KEY_END:
		if (!env.file) {
			ai_errorf("no recording given (see 'async-inspect report --help')");
			return AI_TF_ARG_REPORTED;
		}
		break;
	default:
		return ai_sum_opts_parse(&env.sum, key, arg, AI_TF_ARG_REPORTED);
	}
	return 0;
}

/* Writes one export to `path` with `fn`; prints the error itself. */
static int write_export(const char *path, const char *what, const struct ai_timeline *tl,
			int (*fn)(const struct ai_timeline *, FILE *))
{
	struct ai_outfile of;
	int err, e;

	err = ai_out_open(&of, path, AI_OUT_PUBLIC);
	if (err)
		return ai_err("create", path, err);
	err = fn(tl, of.f);
	e = ai_out_finish(&of, !err);
	if (!err)
		err = e;
	if (err)
		return ai_err("write", path, err);
	fprintf(stderr, "Wrote %s to %s (%zu tasks).\n", ai_tx(what), ai_tx(path), tl->ntasks);
	return 0;
}

static int print_summary(const struct ai_timeline *tl)
{
	struct ai_lint_opts lo;
	struct ai_summary s;
	struct ai_outfile of;
	FILE *out = stdout;
	int err;

	ai_sum_opts_lint(&env.sum, &lo);
	lo.now_ns = tl->rf->info.end_ns ? tl->rf->info.end_ns : tl->last_ns;
	err = ai_tl_summary(tl, &lo, &s);
	if (!err && tl->rf->warning[0])
		err = ai_summary_add_warning(&s, s.pid, "damaged-recording", 0, NULL, "%s",
					     tl->rf->warning);
	if (err) {
		ai_summary_free(&s);
		return ai_err("build", "the summary", err);
	}
	ai_summary_sort(&s, env.sum.sort);
	if (env.output) {
		err = ai_out_open(&of, env.output, AI_OUT_PUBLIC);
		if (err) {
			err = ai_err("create", env.output, err);
			ai_summary_free(&s);
			return err;
		}
		out = of.f;
	}
	if (env.json)
		ai_summary_print_json(out, &s, env.pretty);
	else
		ai_summary_print_text(out, &s, env.sum.top);
	if (ferror(out))
		err = -EIO;
	if (env.output) {
		int e = ai_out_finish(&of, !err);

		if (!err)
			err = e;
	}
	ai_summary_free(&s);
	if (err)
		return ai_err("write", env.output ? env.output : "stdout", err);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_opt, "FILE", doc, NULL, NULL, NULL };
	struct ai_timeline *tl = NULL;
	bool exports;
	bool help;
	char reason[300] = "";
	int err;

	err = ai_tf_parse_args(&argp, argc, argv, NULL, &help);
	if (help)
		return AI_EXIT_OK;
	if (err)
		return AI_EXIT_USAGE;
	exports = env.timeline || env.svg || env.text || env.folded_wait;

	err = ai_tl_load(env.file, exports ? AI_TL_SLICES : 0, env.sum.long_poll_ns, &tl, reason,
			 sizeof(reason));
	if (err) {
		ai_errorf("failed to read '%s': %s", env.file, reason);
		return AI_EXIT_FAIL;
	}
	if (tl->rf->warning[0])
		ai_warnf("'%s' is damaged or incomplete: %s; the report covers what could be read",
			 env.file, tl->rf->warning);
	if (tl->rf->lost_total)
		ai_warnf("%llu events were lost while recording (ring buffer full): counts are "
			 "lower bounds",
			 (unsigned long long)tl->rf->lost_total);
	if (tl->dropped_slices)
		ai_warnf("the timeline keeps the first %u polls; %llu more are only in the totals",
			 AI_TL_MAX_SLICES, (unsigned long long)tl->dropped_slices);

	if (env.timeline &&
	    write_export(env.timeline, "a Perfetto timeline", tl, ai_tl_write_chrome))
		goto fail;
	if (env.svg && write_export(env.svg, "an SVG timeline", tl, ai_tl_write_svg))
		goto fail;
	if (env.folded_wait &&
	    write_export(env.folded_wait, "folded wait stacks", tl, ai_tl_write_folded_wait))
		goto fail;
	if (env.text) {
		struct winsize ws;
		unsigned width = env.width;

		if (!width)
			width = !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 50
				    ? ws.ws_col - 50
				    : 80;
		err = ai_tl_write_text(tl, stdout, width, !env.no_color && isatty(STDOUT_FILENO),
				       env.rows);
		if (err) {
			ai_err("write", "stdout", err);
			goto fail;
		}
	}
	if ((env.json || !exports) && print_summary(tl))
		goto fail;
	err = tl->rf->warning[0] ? AI_EXIT_PARTIAL : AI_EXIT_OK;
	ai_tl_free(tl);
	return err;
fail:
	ai_tl_free(tl);
	return AI_EXIT_FAIL;
}
