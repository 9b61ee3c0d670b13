/* SPDX-License-Identifier: MIT */
/*
 * What timeline.c (the replay model and the summary) shares with its renderers
 * (timeline_chrome.c, timeline_svg.c, timeline_text.c): names as trace prints them,
 * the ends of the recording, the rows of the pictures. Private to those files.
 */
#ifndef AI_TIMELINE_INT_H
#define AI_TIMELINE_INT_H

#include <inttypes.h>
#include <stdio.h>

#include "summary.h"
#include "timeline.h"

/* ---- names, as trace prints them ---------------------------------------------------- */

static inline const struct ai_desc *desc(const struct ai_timeline *tl, uint32_t pid, uint64_t addr)
{
	return addr ? ai_recfile_desc(tl->rf, pid, addr) : NULL;
}

/* "function@callee (file:line)" of an await point, NULL for none (0). */
static inline char *await_loc(const struct ai_timeline *tl, uint32_t pid, uint64_t addr)
{
	return addr ? ai_summary_desc_await(desc(tl, pid, addr), addr, true) : NULL;
}

/* Names into a caller buffer (exports): function, and the await point's callee. */
static inline const char *fn_name(const struct ai_timeline *tl, uint32_t pid, uint64_t fn,
				  char *buf, size_t len)
{
	const struct ai_desc *d = desc(tl, pid, fn);

	if (d && d->function)
		return d->function;
	snprintf(buf, len, fn ? "0x%" PRIx64 : "?", fn);
	return buf;
}

static inline const char *await_name(const struct ai_timeline *tl, uint32_t pid, uint64_t at,
				     char *buf, size_t len)
{
	const struct ai_desc *d = desc(tl, pid, at);

	if (d)
		snprintf(buf, len, "%s@%s", d->function ? d->function : "?",
			 d->callee ? d->callee : "?");
	else
		snprintf(buf, len, "0x%" PRIx64, at);
	return buf;
}

static inline const char *callee_name(const struct ai_timeline *tl, uint32_t pid, uint64_t at,
				      char *buf, size_t len)
{
	const struct ai_desc *d = desc(tl, pid, at);

	if (d && d->callee)
		return d->callee;
	snprintf(buf, len, "0x%" PRIx64, at);
	return buf;
}

static inline uint64_t end_of(const struct ai_timeline *tl)
{
	return tl->rf->info.end_ns > tl->last_ns ? tl->rf->info.end_ns : tl->last_ns;
}

static inline uint64_t act_end(const struct ai_timeline *tl)
{
	return tl->last_ns;
}

/* ---- rows for the pictures ----------------------------------------------------------- */

/* The await point a task spent most of its waiting time at (0 if none). */
static inline uint64_t main_await(const struct ai_tl_task *t)
{
	struct {
		uint64_t at, ns;
	} seen[8] = { { 0 } };
	uint64_t best = 0, best_ns = 0;
	size_t n = 0;

	for (size_t k = 0; k + 1 < t->npl; k++) {
		const struct ai_tl_poll *p = &t->pl[k];
		uint64_t w =
		    t->pl[k + 1].start_ns > p->end_ns ? t->pl[k + 1].start_ns - p->end_ns : 0;
		size_t m;

		if (p->ready || !p->state)
			continue;
		for (m = 0; m < n && seen[m].at != p->state; m++)
			;
		if (m == n) {
			if (n == 8)
				continue;
			seen[n++].at = p->state;
		}
		seen[m].ns += w;
		if (seen[m].ns > best_ns) {
			best_ns = seen[m].ns;
			best = seen[m].at;
		}
	}
	return best;
}

static inline uint64_t task_begin(const struct ai_tl_task *t)
{
	if (t->spawn_ns)
		return t->spawn_ns;
	return t->npl ? t->pl[0].start_ns : 0;
}

static inline uint64_t task_end(const struct ai_timeline *tl, const struct ai_tl_task *t)
{
	if (t->done && t->done_ns)
		return t->done_ns;
	if (t->npl && t->pl[t->npl - 1].ready)
		return t->pl[t->npl - 1].end_ns;
	return act_end(tl);
}

static inline void fmt_time(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.3gs", (double)ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, len, "%.3gms", (double)ns / 1e6);
	else if (ns >= 1000)
		snprintf(buf, len, "%.3gus", (double)ns / 1e3);
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
}

/* The task (pid, id) of the replay, or NULL (timeline.c). */
const struct ai_tl_task *ai_tl__task_find(const struct ai_timeline *tl, uint32_t pid, uint64_t id);

#endif /* AI_TIMELINE_INT_H */
