// SPDX-License-Identifier: MIT
/* A generic chained hash map in libbpf's style: see hashmap.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

size_t ai_hashmap_int_hash(long key, void *ctx)
{
	(void)ctx;
	return (size_t)key;
}

bool ai_hashmap_int_equal(long a, long b, void *ctx)
{
	(void)ctx;
	return a == b;
}

size_t ai_hashmap_str_hash(long key, void *ctx)
{
	uint64_t h = 0xcbf29ce484222325ull;

	(void)ctx;
	for (const unsigned char *s = (const unsigned char *)key; *s; s++)
		h = (h ^ *s) * 0x100000001b3ull;
	return (size_t)h;
}

bool ai_hashmap_str_equal(long a, long b, void *ctx)
{
	(void)ctx;
	return !strcmp((const char *)a, (const char *)b);
}

void ai_hashmap__init(struct ai_hashmap *map, ai_hashmap_hash_fn hash_fn,
		      ai_hashmap_equal_fn equal_fn, void *ctx)
{
	memset(map, 0, sizeof(*map));
	map->hash_fn = hash_fn;
	map->equal_fn = equal_fn;
	map->ctx = ctx;
}

struct ai_hashmap *ai_hashmap__new(ai_hashmap_hash_fn hash_fn, ai_hashmap_equal_fn equal_fn,
				   void *ctx)
{
	struct ai_hashmap *map = malloc(sizeof(*map));

	if (map)
		ai_hashmap__init(map, hash_fn, equal_fn, ctx);
	return map;
}

void ai_hashmap__clear(struct ai_hashmap *map)
{
	struct ai_hashmap_entry *cur, *next;

	for (size_t bkt = 0; bkt < map->cap; bkt++)
		for (cur = map->buckets[bkt]; cur; cur = next) {
			next = cur->next;
			free(cur);
		}
	free(map->buckets);
	map->buckets = NULL;
	map->cap = map->cap_bits = map->sz = 0;
}

void ai_hashmap__free(struct ai_hashmap *map)
{
	if (!map)
		return;
	ai_hashmap__clear(map);
	free(map);
}

static int grow(struct ai_hashmap *map)
{
	size_t bits = map->cap_bits < 2 ? 2 : map->cap_bits + 1, cap = (size_t)1 << bits;
	struct ai_hashmap_entry **b = calloc(cap, sizeof(*b)), *cur, *next;

	if (!b)
		return -ENOMEM;
	for (size_t bkt = 0; bkt < map->cap; bkt++)
		for (cur = map->buckets[bkt]; cur; cur = next) {
			size_t h = ai_hash_bits(map->hash_fn(cur->key, map->ctx), (int)bits);

			next = cur->next;
			cur->next = b[h];
			b[h] = cur;
		}
	free(map->buckets);
	map->buckets = b;
	map->cap = cap;
	map->cap_bits = bits;
	return 0;
}

static struct ai_hashmap_entry **find_slot(const struct ai_hashmap *map, long key)
{
	struct ai_hashmap_entry **pp;

	if (!map->cap)
		return NULL;
	pp = &map->buckets[ai_hash_bits(map->hash_fn(key, map->ctx), (int)map->cap_bits)];
	for (; *pp; pp = &(*pp)->next)
		if (map->equal_fn((*pp)->key, key, map->ctx))
			return pp;
	return NULL;
}

int ai_hashmap_insert(struct ai_hashmap *map, long key, long value,
		      enum ai_hashmap_insert_strategy strategy, long *old_key, long *old_value)
{
	struct ai_hashmap_entry **pp = find_slot(map, key), *e;
	size_t h;

	if (pp) {
		if (strategy == AI_HASHMAP_ADD)
			return -EEXIST;
		if (old_key)
			*old_key = (*pp)->key;
		if (old_value)
			*old_value = (*pp)->value;
		(*pp)->key = key;
		(*pp)->value = value;
		return 0;
	}
	if (strategy == AI_HASHMAP_UPDATE)
		return -ENOENT;
	/* more than 4/3 entries per bucket on average: grow */
	if (map->sz + 1 > map->cap * 4 / 3 && grow(map))
		return -ENOMEM;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	h = ai_hash_bits(map->hash_fn(key, map->ctx), (int)map->cap_bits);
	e->key = key;
	e->value = value;
	e->next = map->buckets[h];
	map->buckets[h] = e;
	map->sz++;
	if (old_key)
		*old_key = 0;
	if (old_value)
		*old_value = 0;
	return 0;
}

bool ai_hashmap_find(const struct ai_hashmap *map, long key, long *value)
{
	struct ai_hashmap_entry **pp = find_slot(map, key);

	if (!pp)
		return false;
	if (value)
		*value = (*pp)->value;
	return true;
}

bool ai_hashmap_delete(struct ai_hashmap *map, long key, long *old_key, long *old_value)
{
	struct ai_hashmap_entry **pp = find_slot(map, key), *e;

	if (!pp)
		return false;
	e = *pp;
	if (old_key)
		*old_key = e->key;
	if (old_value)
		*old_value = e->value;
	*pp = e->next;
	free(e);
	map->sz--;
	return true;
}
