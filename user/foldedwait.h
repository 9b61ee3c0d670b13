/* SPDX-License-Identifier: MIT */
/*
 * --folded-wait: await chains as folded stacks ("root;child;leaf NS"), weighted by the
 * nanoseconds tasks waited with that chain: the async counterpart of offcputime, for
 * flamegraph.pl or speedscope.
 */
#ifndef AI_FOLDEDWAIT_H
#define AI_FOLDEDWAIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Names a descriptor of process pid into buf (returns buf). */
typedef const char *(*ai_fw_name_fn)(void *ctx, int32_t pid, uint64_t desc, char *buf, size_t len);

/*
 * Prints one folded line for the chain fn[0..depth) (root first) waited wait_ns; frames
 * with a zero descriptor are skipped. Nothing for wait_ns 0.
 */
void ai_folded_wait_line(FILE *f, int32_t pid, const uint64_t *fn, uint32_t depth, uint64_t wait_ns,
			 ai_fw_name_fn name, void *ctx);

struct ai_chains;
/* Writes the await chains of `c` (process pid, -1: all) to `path`. Negative errno, printed. */
int ai_folded_wait_write(const char *path, const struct ai_chains *c, int32_t pid,
			 ai_fw_name_fn name, void *ctx);

#endif /* AI_FOLDEDWAIT_H */
