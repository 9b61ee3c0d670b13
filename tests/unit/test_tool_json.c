// SPDX-License-Identifier: MIT
/* The JSON writer: commas, nesting, escaping, pretty printing, finish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

struct buf {
	char *data;
	size_t len;
	FILE *f;
};

static void buf_open(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->f = open_memstream(&b->data, &b->len);
	assert_non_null(b->f);
}

static char *buf_close(struct buf *b)
{
	fclose(b->f);
	return b->data;
}

static void test_nesting_and_commas(void **state)
{
	struct ai_json j;
	struct buf b;
	char *s;

	(void)state;
	buf_open(&b);
	ai_json_init(&j, b.f, false);
	ai_json_object_begin(&j);
	ai_json_kv_u64(&j, "pid", 42);
	ai_json_key(&j, "tasks");
	ai_json_array_begin(&j);
	ai_json_object_begin(&j);
	ai_json_kv_str(&j, "function", "fetch_user");
	ai_json_kv_i64(&j, "delta", -3);
	ai_json_kv_bool(&j, "done", true);
	ai_json_object_end(&j);
	ai_json_object_begin(&j);
	ai_json_object_end(&j);
	ai_json_u64(&j, UINT64_MAX);
	ai_json_null(&j);
	ai_json_str(&j, NULL);
	ai_json_array_end(&j);
	ai_json_key(&j, "empty");
	ai_json_array_begin(&j);
	ai_json_array_end(&j);
	ai_json_key(&j, "ratio");
	ai_json_double(&j, 0.5);
	ai_json_object_end(&j);
	ai_json_finish(&j);
	s = buf_close(&b);
	assert_string_equal(s, "{\"pid\":42,\"tasks\":[{\"function\":\"fetch_user\",\"delta\":-3,"
			       "\"done\":true},{},18446744073709551615,null,null],"
			       "\"empty\":[],\"ratio\":0.5}\n");
	free(s);
}

static void test_escaping(void **state)
{
	struct ai_json j;
	struct buf b;
	char *s;

	(void)state;
	buf_open(&b);
	ai_json_init(&j, b.f, false);
	ai_json_array_begin(&j);
	ai_json_str(&j, "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f");
	ai_json_str(&j, "caf\xc3\xa9 \xe2\x82\xac"); /* valid UTF-8 passes through */
	ai_json_str(&j, "bad\xff\xc3(\xed\xa0\x80"); /* invalid bytes, a surrogate */
	ai_json_array_end(&j);
	ai_json_finish(&j);
	s = buf_close(&b);
	assert_string_equal(s, "[\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\","
			       "\"caf\xc3\xa9 \xe2\x82\xac\","
			       "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"]\n");
	free(s);
}

static void test_pretty(void **state)
{
	struct ai_json j;
	struct buf b;
	char *s;

	(void)state;
	buf_open(&b);
	ai_json_init(&j, b.f, true);
	ai_json_object_begin(&j);
	ai_json_kv_u64(&j, "a", 1);
	ai_json_key(&j, "b");
	ai_json_array_begin(&j);
	ai_json_u64(&j, 2);
	ai_json_u64(&j, 3);
	ai_json_array_end(&j);
	ai_json_key(&j, "c");
	ai_json_object_begin(&j);
	ai_json_object_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
	s = buf_close(&b);
	assert_string_equal(s, "{\n  \"a\": 1,\n  \"b\": [\n    2,\n    3\n  ],\n  \"c\": {}\n}\n");
	free(s);
}

static void test_finish_closes_everything(void **state)
{
	struct ai_json j;
	struct buf b;
	char *s;

	(void)state;
	buf_open(&b);
	ai_json_init(&j, b.f, false);
	ai_json_object_begin(&j);
	ai_json_key(&j, "a");
	ai_json_array_begin(&j);
	ai_json_object_begin(&j);
	ai_json_key(&j, "dangling");
	ai_json_finish(&j);
	s = buf_close(&b);
	assert_string_equal(s, "{\"a\":[{\"dangling\":null}]}\n");
	free(s);
}

static void test_non_finite_and_deep(void **state)
{
	struct ai_json j;
	struct buf b;
	char *s;
	int depth = AI_JSON_MAX_DEPTH + 8;

	(void)state;
	buf_open(&b);
	ai_json_init(&j, b.f, false);
	for (int i = 0; i < depth; i++)
		ai_json_array_begin(&j);
	ai_json_double(&j, 1.0 / 0.0);
	for (int i = 0; i < depth; i++)
		ai_json_array_end(&j);
	ai_json_array_end(&j); /* one too many: ignored */
	ai_json_finish(&j);
	s = buf_close(&b);
	assert_int_equal(strlen(s), (size_t)(2 * depth + 4 + 1));
	assert_non_null(strstr(s, "[null]"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_pretty),
		cmocka_unit_test(test_finish_closes_everything),
		cmocka_unit_test(test_non_finite_and_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
