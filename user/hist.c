/* SPDX-License-Identifier: MIT */
/* log2 histograms, printed the way BCC's tools print them. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "hist.h"

unsigned ai_hist_slot(uint64_t v)
{
	unsigned s;

	if (v == 0)
		return 0;
	s = 64 - __builtin_clzll(v); /* floor(log2 v) + 1 */
	return s < AI_HIST_SLOTS ? s : AI_HIST_SLOTS - 1;
}

/* Smallest and largest value slot i counts. */
static uint64_t slot_low(unsigned i)
{
	return i == 0 ? 0 : 1ull << (i - 1);
}

static uint64_t slot_high(unsigned i)
{
	if (i == 0)
		return 0;
	if (i >= AI_HIST_SLOTS - 1)
		return UINT64_MAX; /* the last slot also holds everything larger */
	return (1ull << i) - 1;
}

static void print_stars(FILE *f, uint64_t val, uint64_t max, int width)
{
	int n = max ? (int)((double)val * width / max) : 0;

	if (n > width)
		n = width;
	for (int i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', f);
}

void ai_hist_print(FILE *f, const uint64_t *slots, unsigned nslots, const char *unit)
{
	int first = -1, last = -1;
	uint64_t max = 0;
	const int width = 40;

	if (nslots > AI_HIST_SLOTS)
		nslots = AI_HIST_SLOTS;
	for (unsigned i = 0; i < nslots; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (first < 0) {
		fprintf(f, "     (no samples)\n");
		return;
	}
	fprintf(f, "%*s%-*s : count    distribution\n", 10, "", 18, unit ? unit : "value");
	for (int i = first; i <= last; i++) {
		char range[64];

		snprintf(range, sizeof(range), "%" PRIu64 " -> %" PRIu64, slot_low(i),
			 slot_high(i));
		fprintf(f, "%28s : %-8" PRIu64 " |", range, slots[i]);
		print_stars(f, slots[i], max, width);
		fprintf(f, "|\n");
	}
}

uint64_t ai_hist_percentile(const uint64_t *slots, unsigned nslots, double pct)
{
	uint64_t total = 0, target, sum = 0;

	if (nslots > AI_HIST_SLOTS)
		nslots = AI_HIST_SLOTS;
	for (unsigned i = 0; i < nslots; i++)
		total += slots[i];
	if (total == 0)
		return 0;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	target = (uint64_t)ceil(pct / 100.0 * (double)total);
	if (target == 0)
		target = 1;
	for (unsigned i = 0; i < nslots; i++) {
		sum += slots[i];
		if (sum >= target)
			return slot_high(i);
	}
	return slot_high(nslots - 1);
}
