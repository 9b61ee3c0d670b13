/* SPDX-License-Identifier: MIT */
/* Map helpers shared by the BPF programs. */
#ifndef AI_MAPS_BPF_H
#define AI_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

/*
 * Looks `key` up; if absent, inserts `init` (BPF_NOEXIST, so a racing insert wins) and
 * looks it up again. *created is set to 1 if this call created the entry. NULL when
 * the map is full (a non-LRU map) or the insert failed otherwise.
 */
static __always_inline void *ai_map_lookup_or_init(void *map, const void *key, const void *init,
						   int *created)
{
	void *val;
	long err;

	*created = 0;
	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (!err)
		*created = 1;
	else if (err != -17 /* EEXIST */)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

/* Adds 1 to stats[i], a program's global counters (.bss, read by the loader). */
static __always_inline void ai_stat_inc(__u64 *stats, int i)
{
	__sync_fetch_and_add(&stats[i], 1);
}

#endif /* AI_MAPS_BPF_H */
