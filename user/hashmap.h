/* SPDX-License-Identifier: MIT */
/*
 * A generic hash map in the style of libbpf's hashmap.h: keys and values are longs (an
 * integer, or a pointer cast), hashing and equality are the caller's, collisions chain,
 * the bucket array doubles past a load of 4/3. Prefixed ai_ so as not to clash with
 * libbpf's internal copy. Not thread-safe.
 */
#ifndef AI_HASHMAP_H
#define AI_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef size_t (*ai_hashmap_hash_fn)(long key, void *ctx);
typedef bool (*ai_hashmap_equal_fn)(long key1, long key2, void *ctx);

struct ai_hashmap_entry {
	long key;
	long value;
	struct ai_hashmap_entry *next;
};

struct ai_hashmap {
	ai_hashmap_hash_fn hash_fn;
	ai_hashmap_equal_fn equal_fn;
	void *ctx;
	struct ai_hashmap_entry **buckets;
	size_t cap;
	size_t cap_bits;
	size_t sz;
};

/* Fibonacci hashing of h down to `bits` bits. */
static inline size_t ai_hash_bits(size_t h, int bits)
{
	return bits ? (size_t)(((uint64_t)h * 11400714819323198485llu) >> (64 - bits)) : 0;
}

/* Ready-made functions: integer keys (the key itself), string keys (FNV-1a, strcmp). */
size_t ai_hashmap_int_hash(long key, void *ctx);
bool ai_hashmap_int_equal(long a, long b, void *ctx);
size_t ai_hashmap_str_hash(long key, void *ctx);
bool ai_hashmap_str_equal(long a, long b, void *ctx);

void ai_hashmap__init(struct ai_hashmap *map, ai_hashmap_hash_fn hash_fn,
		      ai_hashmap_equal_fn equal_fn, void *ctx);
/* NULL when out of memory. */
struct ai_hashmap *ai_hashmap__new(ai_hashmap_hash_fn hash_fn, ai_hashmap_equal_fn equal_fn,
				   void *ctx);
/* Frees the entries (not what keys and values point to); the map stays usable. */
void ai_hashmap__clear(struct ai_hashmap *map);
/* ai_hashmap__clear, then frees a map from ai_hashmap__new. NULL is accepted. */
void ai_hashmap__free(struct ai_hashmap *map);

static inline size_t ai_hashmap__size(const struct ai_hashmap *map)
{
	return map->sz;
}

enum ai_hashmap_insert_strategy {
	AI_HASHMAP_ADD,	   /* only a new key: -EEXIST if present */
	AI_HASHMAP_SET,	   /* add or replace */
	AI_HASHMAP_UPDATE, /* only an existing key: -ENOENT if absent */
};

/*
 * Inserts per `strategy`; the replaced key and value go to *old_key and *old_value (either
 * may be NULL). Returns 0, -EEXIST, -ENOENT or -ENOMEM.
 */
int ai_hashmap_insert(struct ai_hashmap *map, long key, long value,
		      enum ai_hashmap_insert_strategy strategy, long *old_key, long *old_value);
#define ai_hashmap__add(map, key, value) \
	ai_hashmap_insert((map), (long)(key), (long)(value), AI_HASHMAP_ADD, NULL, NULL)
#define ai_hashmap__set(map, key, value, old_key, old_value) \
	ai_hashmap_insert((map), (long)(key), (long)(value), AI_HASHMAP_SET, (old_key), (old_value))

/* Whether key is present; its value to *value (may be NULL). */
bool ai_hashmap_find(const struct ai_hashmap *map, long key, long *value);
#define ai_hashmap__find(map, key, value) ai_hashmap_find((map), (long)(key), (long *)(value))

/* Removes key; its key and value to *old_key and *old_value. False if absent. */
bool ai_hashmap_delete(struct ai_hashmap *map, long key, long *old_key, long *old_value);
#define ai_hashmap__delete(map, key, old_key, old_value) \
	ai_hashmap_delete((map), (long)(key), (old_key), (old_value))

/* for each entry: cur a struct ai_hashmap_entry *, bkt a size_t */
#define ai_hashmap__for_each_entry(map, cur, bkt)    \
	for ((bkt) = 0; (bkt) < (map)->cap; (bkt)++) \
		for ((cur) = (map)->buckets[bkt]; (cur); (cur) = (cur)->next)

#endif /* AI_HASHMAP_H */
