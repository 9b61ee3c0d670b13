/* SPDX-License-Identifier: MIT */
/*
 * Flame graphs from stacks: a tree of frames merged by prefix, written as one
 * self-contained interactive SVG (embedded script: click a frame to zoom, Search to
 * highlight frames matching a regular expression, Reset zoom). No external tool.
 */
#ifndef AI_FLAMEGRAPH_H
#define AI_FLAMEGRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ai_flame;

int ai_flame_new(struct ai_flame **out);
/* One stack, frames[0] the root (bottom of the graph), seen `count` times. */
int ai_flame_add(struct ai_flame *f, const char *const *frames, size_t n, uint64_t count);
/*
 * One line of folded stacks ("a;b;c 12", the flamegraph.pl / inferno format).
 * -EINVAL when the line is malformed (no count, count not a number, empty stack).
 */
int ai_flame_add_folded(struct ai_flame *f, const char *line);
uint64_t ai_flame_total(const struct ai_flame *f);
/*
 * The SVG. Every frame is a <g class="f"> with data-name, data-depth (0 for roots)
 * and data-count attributes, a <title> "name (N samples, P%)", a <rect> and a <text>.
 */
int ai_flame_write_svg(const struct ai_flame *f, FILE *out, const char *title);
void ai_flame_free(struct ai_flame *f);

#endif /* AI_FLAMEGRAPH_H */
