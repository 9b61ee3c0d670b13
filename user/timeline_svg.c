// SPDX-License-Identifier: MIT
/* The timeline as an SVG picture (moved whole from timeline.c). See timeline.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "async/abi.h"
#include "common.h"
#include "json.h"
#include "timeline_int.h"

/* ---- SVG ------------------------------------------------------------------------------ */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* A "nice" tick step (1, 2, 5 x 10^n ns) giving about `want` ticks over `span`. */
static uint64_t tick_step(uint64_t span, unsigned want)
{
	uint64_t step = 1, target = span / want;

	while (step < target) {
		if (step * 2 >= target)
			return step * 2;
		if (step * 5 >= target)
			return step * 5;
		if (step > UINT64_MAX / 100)
			return step;
		step *= 10;
	}
	return step;
}

#define SVG_LABEL_W 220
#define SVG_PLOT_W  1000
#define SVG_ROW_H   18
#define SVG_TOP	    48

int ai_tl_write_svg(const struct ai_timeline *tl, FILE *f)
{
	uint64_t t0 = tl->first_ns, t1 = act_end(tl), span, step;
	unsigned height = SVG_TOP + (unsigned)tl->ntasks * SVG_ROW_H + 40;
	char buf[512], b1[128], b2[128];

	if (t1 <= t0)
		t1 = t0 + 1;
	span = t1 - t0;
#define X(ns) (SVG_LABEL_W + (double)((ns)-t0) * SVG_PLOT_W / (double)span)
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		"font-family=\"monospace\" font-size=\"11\">\n"
		"<title>async-inspect timeline</title>\n"
		"<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n",
		SVG_LABEL_W + SVG_PLOT_W + 20, height, SVG_LABEL_W + SVG_PLOT_W + 20, height);
	/* legend and time axis */
	fprintf(f, "<g class=\"legend\">"
		   "<rect x=\"4\" y=\"6\" width=\"10\" height=\"10\" fill=\"#2e7d32\"/>"
		   "<text x=\"18\" y=\"15\">running (polled)</text>"
		   "<rect x=\"134\" y=\"6\" width=\"10\" height=\"10\" fill=\"#f9a825\"/>"
		   "<text x=\"148\" y=\"15\">scheduled (woken)</text>"
		   "<rect x=\"274\" y=\"6\" width=\"10\" height=\"10\" fill=\"#cfd8dc\"/>"
		   "<text x=\"288\" y=\"15\">waiting at an await point</text></g>\n");
	step = tick_step(span, 10);
	fprintf(f, "<g class=\"axis\">\n");
	for (uint64_t t = 0; t <= span; t += step) {
		fmt_time(t, buf, sizeof(buf));
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%u\" x2=\"%.1f\" y2=\"%u\" stroke=\"#eeeeee\"/>"
			"<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">%s</text>\n",
			X(t0 + t), SVG_TOP - 6, X(t0 + t), height - 30, X(t0 + t), SVG_TOP - 10,
			buf);
		if (t > UINT64_MAX - step)
			break;
	}
	fprintf(f, "</g>\n");

	for (size_t i = 0; i < tl->ntasks; i++) {
		const struct ai_tl_task *t = &tl->tasks[i];
		unsigned y = SVG_TOP + (unsigned)i * SVG_ROW_H;
		uint64_t b = task_begin(t), e = task_end(tl, t);

		fprintf(f, "<g class=\"task\" data-task=\"%" PRIu64 "\" data-pid=\"%u\">", t->id,
			t->pid);
		snprintf(buf, sizeof(buf), "%s #%" PRIu64,
			 fn_name(tl, t->pid, t->fn, b1, sizeof(b1)), t->id);
		fprintf(f, "<text x=\"4\" y=\"%u\">", y + 12);
		xml_text(f, buf);
		fprintf(f, "</text>");
		if (b && e > b)
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
				"fill=\"#cfd8dc\"/>",
				X(b), y + 2, X(e) - X(b), SVG_ROW_H - 4);
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];

			if (p->woken_ns && p->woken_ns < p->start_ns && p->woken_ns >= t0 &&
			    (k == 0 || p->woken_ns >= t->pl[k - 1].end_ns))
				fprintf(f,
					"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
					"fill=\"#f9a825\"/>",
					X(p->woken_ns), y + 2, X(p->start_ns) - X(p->woken_ns),
					SVG_ROW_H - 4);
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
				"fill=\"#2e7d32\"><title>",
				X(p->start_ns), y + 2,
				X(p->end_ns) - X(p->start_ns) < 0.5 ? 0.5
								    : X(p->end_ns) - X(p->start_ns),
				SVG_ROW_H - 4);
			snprintf(buf, sizeof(buf), "poll %zu: %s", k + 1,
				 p->ready ? "ready"
					  : await_name(tl, t->pid, p->state, b2, sizeof(b2)));
			xml_text(f, buf);
			fprintf(f, "</title></rect>");
		}
		/* label each wait with its await point where the bar has room for it */
		for (size_t k = 0; k < t->npl; k++) {
			const struct ai_tl_poll *p = &t->pl[k];
			uint64_t wend = k + 1 < t->npl ? t->pl[k + 1].start_ns : e;
			const char *label;

			if (p->ready || wend <= p->end_ns)
				continue;
			label = callee_name(tl, t->pid, p->state, b2, sizeof(b2));
			if (X(wend) - X(p->end_ns) < 7.0 * (double)strlen(label) + 8)
				continue;
			fprintf(f, "<text x=\"%.1f\" y=\"%u\" fill=\"#37474f\">", X(p->end_ns) + 4,
				y + 12);
			xml_text(f, label);
			fprintf(f, "</text>");
		}
		fprintf(f, "</g>\n");
	}
	if (tl->rf->warning[0]) {
		fprintf(f, "<text x=\"4\" y=\"%u\" fill=\"#b71c1c\">warning: ", height - 12);
		xml_text(f, tl->rf->warning);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
#undef X
	return ferror(f) ? -EIO : 0;
}
