// SPDX-License-Identifier: MIT
/* pprof profile.proto writer: hand-written protobuf encoding, gzip via zlib. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "outfile.h"
#include "pprof.h"

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	LOCATION_ID = 1,
	LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1,
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
};

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

struct pp_sample {
	uint64_t *locs; /* leaf first, as pprof wants */
	size_t n;
	uint64_t count;
};

struct ai_pprof {
	uint64_t period_ns;
	int64_t time_ns, duration_ns;
	char **strs; /* string table; strs[0] = "" */
	size_t nstrs, cap_strs;
	uint32_t *hash; /* open addressing: string index + 1, 0 empty */
	size_t hash_cap;
	struct pp_sample *samples;
	size_t nsamples, cap_samples;
};

/* ---- string table ------------------------------------------------------------------- */

static int hash_grow(struct ai_pprof *p)
{
	size_t cap = p->hash_cap ? p->hash_cap * 2 : 256;
	uint32_t *h = calloc(cap, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < p->nstrs; i++) {
		size_t j = ai_str_hash(p->strs[i]) & (cap - 1);

		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = (uint32_t)i + 1;
	}
	free(p->hash);
	p->hash = h;
	p->hash_cap = cap;
	return 0;
}

/* Index of `s` in the string table, adding it if new; negative errno on failure. */
static int64_t intern(struct ai_pprof *p, const char *s)
{
	size_t j;
	int err;

	if ((p->nstrs + 1) * 2 > p->hash_cap) {
		err = hash_grow(p);
		if (err)
			return err;
	}
	j = ai_str_hash(s) & (p->hash_cap - 1);
	while (p->hash[j]) {
		if (!strcmp(p->strs[p->hash[j] - 1], s))
			return p->hash[j] - 1;
		j = (j + 1) & (p->hash_cap - 1);
	}
	if (p->nstrs == p->cap_strs) {
		size_t cap = p->cap_strs ? p->cap_strs * 2 : 64;
		char **n = realloc(p->strs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->strs = n;
		p->cap_strs = cap;
	}
	p->strs[p->nstrs] = strdup(s);
	if (!p->strs[p->nstrs])
		return -ENOMEM;
	p->hash[j] = (uint32_t)p->nstrs + 1;
	return (int64_t)p->nstrs++;
}

int ai_pprof_new(uint64_t period_ns, struct ai_pprof **out)
{
	static const char *const fixed[] = { "", "samples", "count", "cpu", "nanoseconds" };
	struct ai_pprof *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->period_ns = period_ns;
	/* Fixed indexes 0..4, so that function names start at 5. */
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (intern(p, fixed[i]) < 0) {
			ai_pprof_free(p);
			return -ENOMEM;
		}
	}
	*out = p;
	return 0;
}

void ai_pprof_set_time(struct ai_pprof *p, int64_t time_ns, int64_t duration_ns)
{
	p->time_ns = time_ns;
	p->duration_ns = duration_ns;
}

int ai_pprof_add(struct ai_pprof *p, const char *const *frames, size_t n, uint64_t count)
{
	struct pp_sample *s;

	if (!n)
		return -EINVAL;
	if (p->nsamples == p->cap_samples) {
		size_t cap = p->cap_samples ? p->cap_samples * 2 : 64;
		struct pp_sample *ns = realloc(p->samples, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		p->samples = ns;
		p->cap_samples = cap;
	}
	s = &p->samples[p->nsamples];
	s->locs = calloc(n, sizeof(*s->locs));
	if (!s->locs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* An empty name would get index 0, which is no valid id. */
		int64_t idx = intern(p, frames[i][0] ? frames[i] : "[unknown]");

		if (idx < 0) {
			free(s->locs);
			return (int)idx;
		}
		/* Location/function id = string index (ids must be nonzero; index 0 is ""). */
		s->locs[n - 1 - i] = (uint64_t)idx;
	}
	s->n = n;
	s->count = count;
	p->nsamples++;
	return 0;
}

void ai_pprof_free(struct ai_pprof *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	for (size_t i = 0; i < p->nsamples; i++)
		free(p->samples[i].locs);
	free(p->strs);
	free(p->hash);
	free(p->samples);
	free(p);
}

/* ---- protobuf encoding -------------------------------------------------------------- */

struct pbuf {
	uint8_t *d;
	size_t len, cap;
	int err;
};

static void pb_reserve(struct pbuf *b, size_t more)
{
	size_t cap;
	uint8_t *d;

	if (b->err || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	d = realloc(b->d, cap);
	if (!d) {
		b->err = -ENOMEM;
		return;
	}
	b->d = d;
	b->cap = cap;
}

static void pb_varint(struct pbuf *b, uint64_t v)
{
	pb_reserve(b, 10);
	if (b->err)
		return;
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		b->d[b->len++] = c | (v ? 0x80 : 0);
	} while (v);
}

static void pb_tag(struct pbuf *b, unsigned field, unsigned wire)
{
	pb_varint(b, ((uint64_t)field << 3) | wire);
}

static void pb_uint(struct pbuf *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct pbuf *b, unsigned field, const void *data, size_t len)
{
	pb_tag(b, field, WIRE_LEN);
	pb_varint(b, len);
	pb_reserve(b, len);
	if (b->err)
		return;
	memcpy(b->d + b->len, data, len);
	b->len += len;
}

/* Appends `sub` as an embedded message and empties it for reuse. */
static void pb_msg(struct pbuf *b, unsigned field, struct pbuf *sub)
{
	if (sub->err)
		b->err = sub->err;
	pb_bytes(b, field, sub->d, sub->len);
	sub->len = 0;
}

static void value_type(struct pbuf *b, struct pbuf *tmp, unsigned field, uint64_t type,
		       uint64_t unit)
{
	pb_uint(tmp, VALUE_TYPE_TYPE, type);
	pb_uint(tmp, VALUE_TYPE_UNIT, unit);
	pb_msg(b, field, tmp);
}

int ai_pprof_encode(const struct ai_pprof *p, uint8_t **buf, size_t *len)
{
	struct pbuf b = { 0 }, m = { 0 }, sub = { 0 };
	uint8_t *used;
	int err;

	*buf = NULL;
	*len = 0;
	/* String indexes fixed by ai_pprof_new: 1 samples, 2 count, 3 cpu, 4 nanoseconds. */
	value_type(&b, &m, PROFILE_SAMPLE_TYPE, 1, 2);
	value_type(&b, &m, PROFILE_SAMPLE_TYPE, 3, 4);
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pp_sample *s = &p->samples[i];

		for (size_t j = 0; j < s->n; j++)
			pb_varint(&sub, s->locs[j]);
		pb_msg(&m, SAMPLE_LOCATION_ID, &sub);
		pb_varint(&sub, s->count);
		pb_varint(&sub, s->count * p->period_ns);
		pb_msg(&m, SAMPLE_VALUE, &sub);
		pb_msg(&b, PROFILE_SAMPLE, &m);
	}
	/* One location and one function per frame name that a sample uses. */
	used = calloc(p->nstrs ? p->nstrs : 1, 1);
	if (!used) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		for (size_t j = 0; j < p->samples[i].n; j++)
			used[p->samples[i].locs[j]] = 1;
	}
	for (size_t id = 1; id < p->nstrs; id++) {
		if (!used[id])
			continue;
		pb_uint(&sub, LINE_FUNCTION_ID, id);
		pb_uint(&m, LOCATION_ID, id);
		pb_msg(&m, LOCATION_LINE, &sub);
		pb_msg(&b, PROFILE_LOCATION, &m);
		pb_uint(&m, FUNCTION_ID, id);
		pb_uint(&m, FUNCTION_NAME, id);
		pb_uint(&m, FUNCTION_SYSTEM_NAME, id);
		pb_msg(&b, PROFILE_FUNCTION, &m);
	}
	free(used);
	for (size_t i = 0; i < p->nstrs; i++)
		pb_bytes(&b, PROFILE_STRING_TABLE, p->strs[i], strlen(p->strs[i]));
	if (p->time_ns)
		pb_uint(&b, PROFILE_TIME_NANOS, (uint64_t)p->time_ns);
	if (p->duration_ns)
		pb_uint(&b, PROFILE_DURATION_NANOS, (uint64_t)p->duration_ns);
	value_type(&b, &m, PROFILE_PERIOD_TYPE, 3, 4);
	pb_uint(&b, PROFILE_PERIOD, p->period_ns);
	err = b.err ? b.err : m.err ? m.err : sub.err;
out:
	free(m.d);
	free(sub.d);
	if (err) {
		free(b.d);
		return err;
	}
	*buf = b.d;
	*len = b.len;
	return 0;
}

int ai_pprof_write(const struct ai_pprof *p, const char *path)
{
	uint8_t *raw, out[16384];
	z_stream zs = { 0 };
	struct ai_outfile of;
	size_t len;
	FILE *f;
	int err, zr;

	err = ai_pprof_encode(p, &raw, &len);
	if (err)
		return err;
	err = ai_out_open(&of, path, AI_OUT_PUBLIC);
	if (err) {
		free(raw);
		return err;
	}
	f = of.f;
	/* windowBits 15 + 16: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		err = -ENOMEM;
		goto out;
	}
	zs.next_in = raw;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zr = deflate(&zs, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		if (fwrite(out, 1, sizeof(out) - zs.avail_out, f) != sizeof(out) - zs.avail_out) {
			err = -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&zs);
out:
	free(raw);
	zr = ai_out_finish(&of, !err);
	return err ? err : zr;
}
