/* SPDX-License-Identifier: MIT */
/* log2 histograms, printed the way BCC's tools print them. */
#ifndef AI_HIST_H
#define AI_HIST_H

#include <stdint.h>
#include <stdio.h>

#define AI_HIST_SLOTS 64 /* slot i counts values v with 2^(i-1) <= v < 2^i; slot 0 counts 0 */

/* Index of the slot for v (matches the BPF side's log2l + 1, slot 0 for 0). */
unsigned ai_hist_slot(uint64_t v);
/* Prints "     usecs : count    distribution" rows, trimming empty leading/trailing slots. */
void ai_hist_print(FILE *f, const uint64_t *slots, unsigned nslots, const char *unit);
/* The value below which `pct` percent of the samples fall (upper bound of that slot). */
uint64_t ai_hist_percentile(const uint64_t *slots, unsigned nslots, double pct);

#endif /* AI_HIST_H */
