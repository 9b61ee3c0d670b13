/* SPDX-License-Identifier: MIT */
/*
 * The loader's side of libasync's poll rings (include/async/abi.h, bpf/rings.bpf.h): find
 * the rings a process has, attach and trigger the BPF iterator that drains them, read the
 * overrun counts. Shared by trace and record.
 */
#ifndef AI_RINGS_H
#define AI_RINGS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_program;
struct bpf_link;

#define AI_RINGS_DRAIN_NS 5000000ull /* drain period: 5 ms */

/*
 * Follows the rings pid's threads have now that the map does not hold yet. Before
 * attaching the ring probe: from their current head (records of an earlier session are
 * not counted). Again right after attaching, with from_start: a ring allocated while the
 * probe was being attached (its semaphore can turn on before its breakpoint is in place,
 * so the probe may have missed the ring) is read from its first record. A process without
 * the registry (not started yet, not libasync) is not an error.
 */
int ai_rings_follow(int map_fd, pid_t pid, bool from_start);

/* ai_rings_follow for every process that maps libasync (--system). */
void ai_rings_follow_all(int map_fd, bool from_start);

/* Writes the ring size for rings pid allocates from now on into its registry. */
int ai_rings_set_slots(pid_t pid, uint32_t slots);

/* Attaches the iterator program `prog` to the threads of pid (0: every process). */
int ai_rings_attach_iter(struct bpf_program *prog, pid_t pid, struct bpf_link **link);

/* Runs the iterator once: drains every followed ring. */
int ai_rings_drain(struct bpf_link *link);

/*
 * A thread that drains every AI_RINGS_DRAIN_NS, whatever the caller's own loop is busy
 * with (loading names, printing tables): a stall would overrun the rings.
 */
struct ai_rings_drainer {
	struct bpf_link *link;
	pthread_t thread;
	_Atomic bool stop;
	bool started;
};
int ai_rings_drainer_start(struct ai_rings_drainer *d, struct bpf_link *link);
/* Stops and joins the thread (no-op if not started). */
void ai_rings_drainer_stop(struct ai_rings_drainer *d);

/* Overruns and records read so far, over the rings of pid (-1: all). */
void ai_rings_counts(int map_fd, pid_t pid, uint64_t *lost, uint64_t *read);

/* Parses --ring-slots: a power of two within the runtime's bounds. */
bool ai_rings_parse_slots(const char *arg, uint32_t *slots);

#endif /* AI_RINGS_H */
