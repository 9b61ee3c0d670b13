/* SPDX-License-Identifier: MIT */
/* The front end every subcommand shares: durations with units, subcommand names. */
#ifndef AI_CLI_H
#define AI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AI_NS_PER_US  1000ull
#define AI_NS_PER_MS  1000000ull
#define AI_NS_PER_SEC 1000000000ull

/*
 * A duration: a decimal number with an optional unit, ns, us, ms, s, m or h ("500ms",
 * "2s", "1.5m"); without one it is in `unit_ns` (seconds for -d and -i). At most 1e7 s
 * (115 days). Returns false if malformed, negative or too long; 0 is accepted.
 */
bool ai_parse_duration(const char *s, uint64_t unit_ns, uint64_t *ns);

/*
 * The name among `names` (n of them) closest to `typed` (edit distance at most 2, or a
 * prefix of it), for "did you mean"; NULL if none is close.
 */
const char *ai_closest_name(const char *typed, const char *const *names, size_t n);

#endif /* AI_CLI_H */
