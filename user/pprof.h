/* SPDX-License-Identifier: MIT */
/*
 * A pprof profile (github.com/google/pprof proto/profile.proto) written by hand:
 * the Profile message with sample_type, sample, location, function, string_table,
 * period_type and period, protobuf-encoded and gzip-compressed (zlib). Each distinct
 * frame name becomes one function and one location with the same id.
 */
#ifndef AI_PPROF_H
#define AI_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct ai_pprof;

/*
 * A CPU profile sampled every `period_ns`: each sample carries two values,
 * "samples/count" and "cpu/nanoseconds" (count * period_ns).
 */
int ai_pprof_new(uint64_t period_ns, struct ai_pprof **out);
/* One stack, frames[0] the root (outermost), seen `count` times. */
int ai_pprof_add(struct ai_pprof *p, const char *const *frames, size_t n, uint64_t count);
/* Start time and duration of the profile (optional). */
void ai_pprof_set_time(struct ai_pprof *p, int64_t time_ns, int64_t duration_ns);
/* The uncompressed Profile message (malloc'd into *buf). */
int ai_pprof_encode(const struct ai_pprof *p, uint8_t **buf, size_t *len);
/* Gzip-compressed, into `path`. */
int ai_pprof_write(const struct ai_pprof *p, const char *path);
void ai_pprof_free(struct ai_pprof *p);

#endif /* AI_PPROF_H */
