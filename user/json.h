/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer: commas and escaping are its job, not the caller's. */
#ifndef AI_JSON_H
#define AI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define AI_JSON_MAX_DEPTH 32

struct ai_json {
	FILE *f;
	int depth;
	bool pretty;
	bool first[AI_JSON_MAX_DEPTH];
	bool after_key;
	char kind[AI_JSON_MAX_DEPTH]; /* '{' or '[' per open level, for ai_json_finish() */
};

void ai_json_init(struct ai_json *j, FILE *f, bool pretty);
void ai_json_object_begin(struct ai_json *j);
void ai_json_object_end(struct ai_json *j);
void ai_json_array_begin(struct ai_json *j);
void ai_json_array_end(struct ai_json *j);
void ai_json_key(struct ai_json *j, const char *key);
void ai_json_str(struct ai_json *j, const char *s); /* NULL writes null */
void ai_json_u64(struct ai_json *j, uint64_t v);
void ai_json_i64(struct ai_json *j, int64_t v);
void ai_json_double(struct ai_json *j, double v);
/* Nanoseconds as microseconds with exactly three decimals ("1234.567"), from integers. */
void ai_json_us(struct ai_json *j, uint64_t ns);
void ai_json_bool(struct ai_json *j, bool v);
void ai_json_null(struct ai_json *j);
/* key + value in one call */
void ai_json_kv_str(struct ai_json *j, const char *key, const char *s);
void ai_json_kv_u64(struct ai_json *j, const char *key, uint64_t v);
void ai_json_kv_i64(struct ai_json *j, const char *key, int64_t v);
void ai_json_kv_bool(struct ai_json *j, const char *key, bool v);
/* Closes everything still open and writes the final newline. */
void ai_json_finish(struct ai_json *j);

#endif /* AI_JSON_H */
