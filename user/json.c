/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer: commas, indentation and escaping are done here. */
#include <math.h>
#include <inttypes.h>
#include <string.h>

#include "json.h"

/* Index of the innermost open container's state (deeper levels share the last slot). */
static int level(const struct ai_json *j)
{
	int d = j->depth - 1;

	return d < AI_JSON_MAX_DEPTH ? d : AI_JSON_MAX_DEPTH - 1;
}

static void indent(struct ai_json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Everything a value or key needs before it: a comma, a newline and indentation. */
static void before_value(struct ai_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0)
		return;
	if (!j->first[level(j)])
		fputc(',', j->f);
	j->first[level(j)] = false;
	if (j->pretty)
		indent(j);
}

void ai_json_init(struct ai_json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
}

static void open_container(struct ai_json *j, char c)
{
	before_value(j);
	fputc(c, j->f);
	j->depth++;
	j->first[level(j)] = true;
	j->kind[level(j)] = c;
}

static void close_container(struct ai_json *j, char c)
{
	bool empty;

	if (j->depth == 0)
		return;
	empty = j->first[level(j)];
	j->depth--;
	j->after_key = false;
	if (j->pretty && !empty)
		indent(j);
	fputc(c, j->f);
}

void ai_json_object_begin(struct ai_json *j)
{
	open_container(j, '{');
}

void ai_json_object_end(struct ai_json *j)
{
	close_container(j, '}');
}

void ai_json_array_begin(struct ai_json *j)
{
	open_container(j, '[');
}

void ai_json_array_end(struct ai_json *j)
{
	close_container(j, ']');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	int n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not valid */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static void write_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		int n;

		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(f, "\\u%04x", *s);
				break;
			}
			n = utf8_len(s);
			if (n == 0) {
				/* not UTF-8 (names come from untrusted files): U+FFFD */
				fputs("\\ufffd", f);
				break;
			}
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

void ai_json_key(struct ai_json *j, const char *key)
{
	before_value(j);
	write_string(j->f, key ? key : "");
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_key = true;
}

void ai_json_str(struct ai_json *j, const char *s)
{
	before_value(j);
	if (s)
		write_string(j->f, s);
	else
		fputs("null", j->f);
}

void ai_json_u64(struct ai_json *j, uint64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void ai_json_i64(struct ai_json *j, int64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void ai_json_double(struct ai_json *j, double v)
{
	before_value(j);
	if (isfinite(v))
		fprintf(j->f, "%.15g", v);
	else
		fputs("null", j->f); /* JSON has no NaN or infinity */
}

void ai_json_us(struct ai_json *j, uint64_t ns)
{
	before_value(j);
	fprintf(j->f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

void ai_json_bool(struct ai_json *j, bool v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->f);
}

void ai_json_null(struct ai_json *j)
{
	before_value(j);
	fputs("null", j->f);
}

void ai_json_kv_str(struct ai_json *j, const char *key, const char *s)
{
	ai_json_key(j, key);
	ai_json_str(j, s);
}

void ai_json_kv_u64(struct ai_json *j, const char *key, uint64_t v)
{
	ai_json_key(j, key);
	ai_json_u64(j, v);
}

void ai_json_kv_i64(struct ai_json *j, const char *key, int64_t v)
{
	ai_json_key(j, key);
	ai_json_i64(j, v);
}

void ai_json_kv_bool(struct ai_json *j, const char *key, bool v)
{
	ai_json_key(j, key);
	ai_json_bool(j, v);
}

void ai_json_finish(struct ai_json *j)
{
	if (j->after_key)
		ai_json_null(j);
	while (j->depth > 0)
		close_container(j, j->kind[level(j)] == '[' ? ']' : '}');
	fputc('\n', j->f);
	fflush(j->f);
}
