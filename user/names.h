/* SPDX-License-Identifier: MIT */
/*
 * Names of a running process: every descriptor table mapped into it, each object with its
 * load bias, so that a runtime address a probe or a task record carries maps back to its
 * descriptor (function, await point, file:line). Objects mapped later are loaded on a
 * miss. Each ELF file is parsed once per process.
 */
#ifndef AI_NAMES_H
#define AI_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "desc.h"

/* Every descriptor table mapped into one process, with each object's load bias. */
struct ai_proc_descs;
int ai_proc_descs_load(pid_t pid, struct ai_proc_descs **out);
/* Looks up a runtime address; objects mapped since the last call are loaded on a miss. */
const struct ai_desc *ai_proc_descs_find(struct ai_proc_descs *p, uint64_t addr);
void ai_proc_descs_free(struct ai_proc_descs *p);

/*
 * The i-th object seen in the process (in the order they were found; a rescan only
 * appends): its path as in /proc/PID/maps, load bias, and descriptor table (NULL when
 * it has none). -ENOENT past the last.
 */
int ai_proc_descs_object(const struct ai_proc_descs *p, size_t i, const char **path, uint64_t *bias,
			 const struct ai_desc_table **t);

#endif /* AI_NAMES_H */
