/* SPDX-License-Identifier: MIT */
/* A traced process seen from outside: its mappings, its memory, its symbols. */
#ifndef AI_PROC_H
#define AI_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ai_map {
	uint64_t start, end, offset;
	uint64_t inode;
	char perms[5];
	char *path; /* NULL for anonymous mappings */
};

int ai_proc_maps(pid_t pid, struct ai_map **maps, size_t *n);
void ai_proc_maps_free(struct ai_map *maps, size_t n);
/* Whether mapping m is of a file still on disk: an absolute path, not " (deleted)". */
bool ai_proc_map_is_file(const struct ai_map *m);
/* Whether maps[i] is the first of the mappings with its path (to visit each file once). */
bool ai_proc_map_first(const struct ai_map *maps, size_t i);

/*
 * The object mapped by `pid` that holds libasync's USDT probes (libasync.so, or the
 * executable when linked statically), as a path libbpf can attach to
 * (/proc/PID/root/...). -ENOENT when the process has none.
 */
int ai_proc_find_libasync(pid_t pid, char *path, size_t len);

/* Load bias of the object at `path` in `pid` (runtime address = link address + bias). */
int ai_proc_load_bias(pid_t pid, const char *path, uint64_t *bias);

/* Reads traced memory (process_vm_readv). -EFAULT when unmapped. */
int ai_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* Reads a NUL-terminated string of at most len-1 bytes. */
int ai_proc_read_str(pid_t pid, uint64_t addr, char *buf, size_t len);

/* Runtime address of a dynamic or static symbol in any object `pid` maps. */
int ai_proc_symbol(pid_t pid, const char *name, uint64_t *addr);

/* The command name (/proc/PID/comm) into buf. */
int ai_proc_comm(pid_t pid, char *buf, size_t len);

/* Every PID that currently maps an object with libasync probes. */
int ai_proc_scan_libasync(pid_t **pids, size_t *n);

#endif /* AI_PROC_H */
