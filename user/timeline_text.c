// SPDX-License-Identifier: MIT
/* The timeline as coloured text (moved whole from timeline.c). See timeline.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "async/abi.h"
#include "common.h"
#include "json.h"
#include "foldedwait.h"
#include "timeline_int.h"

/* ---- coloured text -------------------------------------------------------------------- */

/* Adds the part of [a, b) in each cell to acc[cell] (cells of `w` ns from t0). */
static void cells_add(double *acc, unsigned width, uint64_t t0, double w, uint64_t a, uint64_t b)
{
	double x0, x1;

	if (b <= a || a < t0)
		return;
	x0 = (double)(a - t0) / w;
	x1 = (double)(b - t0) / w;
	for (unsigned c = (unsigned)x0; c < width && c <= (unsigned)x1; c++) {
		double lo = x0 > c ? x0 : c, hi = x1 < c + 1.0 ? x1 : c + 1.0;

		if (hi > lo)
			acc[c] += hi - lo;
	}
}

int ai_tl_write_text(const struct ai_timeline *tl, FILE *f, unsigned width, bool color,
		     size_t max_rows)
{
	/* 0 outside the task's life, 1 waiting, 2 scheduled, 3 running, 4 polled briefly */
	static const char *const glyph[] = { " ", "\u2591", "\u2592", "\u2588", "\u2502" };
	static const char *const col[] = { "", "\033[90m", "\033[33m", "\033[32m", "\033[32m" };
	uint64_t t0 = tl->first_ns, t1 = act_end(tl), span;
	char buf[512], b1[128], b2[128];
	double *run, *sched, *life, w;
	unsigned char *cells;

	if (width < 10)
		width = 10;
	if (t1 <= t0)
		t1 = t0 + 1;
	span = t1 - t0;
	w = (double)span / width;
	cells = malloc(width);
	run = calloc(3 * (size_t)width, sizeof(*run));
	if (!cells || !run) {
		free(cells);
		free(run);
		return -ENOMEM;
	}
	sched = run + width;
	life = sched + width;
	fmt_time(span, b1, sizeof(b1));
	fprintf(f, "%-28s 0%*s%s\n", "task", (int)width - 1 - (int)strlen(b1), "", b1);
	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		uint64_t b = task_begin(t), e = task_end(tl, t), ma;
		unsigned last = 0;

		if (max_rows && i >= max_rows) {
			fprintf(f, "... %zu more tasks (--svg or --timeline show all)\n",
				tl->ntasks - i);
			break;
		}
		memset(cells, 0, width);
		memset(run, 0, 3 * (size_t)width * sizeof(*run));
		/* each cell shows what filled most of it; a poll too short for that is a thin bar
		 */
		cells_add(life, width, t0, w, b, e > b ? e : b + 1);
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];
			uint64_t c;

			if (p->woken_ns && p->woken_ns < p->start_ns &&
			    (k == 0 || p->woken_ns >= t->pl[k - 1].end_ns))
				cells_add(sched, width, t0, w, p->woken_ns, p->start_ns);
			cells_add(run, width, t0, w, p->start_ns,
				  p->end_ns > p->start_ns ? p->end_ns : p->start_ns + 1);
			if (p->start_ns >= t0 &&
			    (c = (uint64_t)((double)(p->start_ns - t0) / w)) < width)
				cells[c] = 4;
		}
		for (unsigned c = 0; c < width; c++) {
			if (run[c] >= 0.5)
				cells[c] = 3;
			else if (cells[c] == 4)
				continue;
			else if (sched[c] >= 0.5)
				cells[c] = 2;
			else if (!cells[c] && (life[c] > 0 || run[c] > 0))
				cells[c] = 1;
		}
		snprintf(buf, sizeof(buf), "%s #%" PRIu64,
			 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
		fprintf(f, "%-28.28s ", buf);
		for (unsigned c = 0; c < width; c++) {
			if (color && cells[c] != last)
				fputs(cells[c] ? col[cells[c]] : "\033[0m", f);
			last = cells[c];
			fputs(glyph[cells[c]], f);
		}
		if (color && last)
			fputs("\033[0m", f);
		ma = main_await(t);
		fprintf(f, " %s\n", ma ? callee_name(tl, t->pid, ma, b2, sizeof(b2)) : "");
	}
	fprintf(f, "%s%s running  %s%s polled briefly  %s%s scheduled  %s%s waiting%s\n",
		color ? col[3] : "", glyph[3], color ? col[4] : "", glyph[4], color ? col[2] : "",
		glyph[2], color ? col[1] : "", glyph[1], color ? "\033[0m" : "");
	free(cells);
	free(run);
	return ferror(f) ? -EIO : 0;
}

static const char *fw_name(void *ctx, int32_t pid, uint64_t addr, char *buf, size_t len)
{
	const struct ai_timeline *tl = ctx;
	char *name = ai_summary_desc_name(desc(tl, (uint32_t)pid, addr), addr);

	snprintf(buf, len, "%s", name ? name : "?");
	free(name);
	return buf;
}

int ai_tl_write_folded_wait(const struct ai_timeline *tl, FILE *f)
{
	for (size_t i = 0; i < tl->nchains; i++) {
		const struct ai_tl_chain *c = &tl->chains[i];

		ai_folded_wait_line(f, (int32_t)c->pid, c->fn, c->depth, c->wait_ns, fw_name,
				    (void *)tl);
	}
	return ferror(f) ? -EIO : 0;
}
