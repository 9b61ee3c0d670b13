// SPDX-License-Identifier: MIT
/* The libbpf-style hash map: add/set/update/find/delete, growth, iteration, strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hashmap.h"

static void test_int_keys(void **state)
{
	struct ai_hashmap map;
	struct ai_hashmap_entry *cur;
	long v, ok, ov;
	size_t bkt, n = 0, sum = 0;

	(void)state;
	ai_hashmap__init(&map, ai_hashmap_int_hash, ai_hashmap_int_equal, NULL);
	assert_false(ai_hashmap__find(&map, 1, &v));
	for (long i = 0; i < 100000; i++)
		assert_int_equal(ai_hashmap__add(&map, i * 4096, i), 0);
	assert_int_equal(ai_hashmap__size(&map), 100000);
	assert_int_equal(ai_hashmap__add(&map, 4096, 7), -EEXIST);
	assert_true(ai_hashmap__find(&map, 4096 * 777, &v));
	assert_int_equal(v, 777);
	assert_int_equal(ai_hashmap__set(&map, 4096 * 777, 1, &ok, &ov), 0);
	assert_int_equal(ok, 4096 * 777);
	assert_int_equal(ov, 777);
	assert_int_equal(ai_hashmap_insert(&map, -5, 0, AI_HASHMAP_UPDATE, NULL, NULL), -ENOENT);
	assert_true(ai_hashmap__delete(&map, 0, NULL, &ov));
	assert_false(ai_hashmap__delete(&map, 0, NULL, NULL));
	ai_hashmap__for_each_entry(&map, cur, bkt)
	{
		n++;
		sum += (size_t)cur->value;
	}
	assert_int_equal(n, 99999);
	assert_int_equal(sum, 99999ull * 100000 / 2 - 777 + 1);
	ai_hashmap__clear(&map);
	assert_int_equal(ai_hashmap__size(&map), 0);
	assert_false(ai_hashmap__find(&map, 4096, NULL));
}

static void test_str_keys(void **state)
{
	struct ai_hashmap *map = ai_hashmap__new(ai_hashmap_str_hash, ai_hashmap_str_equal, NULL);
	char a[] = "fetch_user", b[] = "fetch_user";
	long v;

	(void)state;
	assert_non_null(map);
	assert_int_equal(ai_hashmap__add(map, a, 1), 0);
	assert_true(ai_hashmap__find(map, b, &v));
	assert_int_equal(v, 1);
	assert_false(ai_hashmap__find(map, "fetch_posts", NULL));
	ai_hashmap__free(map);
	ai_hashmap__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_keys),
		cmocka_unit_test(test_str_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
