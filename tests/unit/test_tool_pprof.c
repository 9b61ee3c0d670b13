// SPDX-License-Identifier: MIT
/* The pprof writer: decodes what it encodes with a minimal protobuf reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "pprof.h"

struct rd {
	const uint8_t *p, *end;
};

static uint64_t varint(struct rd *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		assert_true(r->p < r->end);
		uint8_t c = *r->p++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	fail_msg("varint too long");
	return 0;
}

/* Next field: returns 0 at the end; LEN fields set *sub, VARINT fields *val. */
static int field(struct rd *r, unsigned *num, uint64_t *val, struct rd *sub)
{
	uint64_t tag, len;

	if (r->p >= r->end)
		return 0;
	tag = varint(r);
	*num = (unsigned)(tag >> 3);
	switch (tag & 7) {
	case 0:
		*val = varint(r);
		break;
	case 2:
		len = varint(r);
		assert_true(len <= (uint64_t)(r->end - r->p));
		sub->p = r->p;
		sub->end = r->p + len;
		r->p += len;
		break;
	default:
		fail_msg("unexpected wire type %u", (unsigned)(tag & 7));
	}
	return 1;
}

struct decoded {
	char *strs[64];
	unsigned nstrs;
	uint64_t fn_name[64]; /* function id -> name index */
	uint64_t loc_fn[64];  /* location id -> function id */
	unsigned nsamples;
	uint64_t count_total, ns_total;
	uint64_t first_leaf_loc, first_root_loc;
	uint64_t period;
	unsigned nsample_types;
};

static void decode(const uint8_t *buf, size_t len, struct decoded *d)
{
	struct rd r = { buf, buf + len }, m, s, s2;
	unsigned num, n2, n3;
	uint64_t v = 0, id;

	memset(d, 0, sizeof(*d));
	while (field(&r, &num, &v, &m)) {
		switch (num) {
		case 1:
			d->nsample_types++;
			break;
		case 2: { /* Sample */
			uint64_t vals[2] = { 0 }, nv = 0, locs[16], nl = 0;

			while (field(&m, &n2, &v, &s)) {
				if (n2 == 1) {
					while (s.p < s.end && nl < 16)
						locs[nl++] = varint(&s);
				} else if (n2 == 2) {
					while (s.p < s.end && nv < 2)
						vals[nv++] = varint(&s);
				}
			}
			assert_int_equal(nv, 2);
			assert_true(nl > 0);
			if (!d->nsamples) {
				d->first_leaf_loc = locs[0];
				d->first_root_loc = locs[nl - 1];
			}
			d->nsamples++;
			d->count_total += vals[0];
			d->ns_total += vals[1];
			break;
		}
		case 4: /* Location */
			id = 0;
			while (field(&m, &n2, &v, &s)) {
				if (n2 == 1)
					id = v;
				else if (n2 == 4) {
					while (field(&s, &n3, &v, &s2)) {
						if (n3 == 1) {
							assert_true(id > 0 && id < 64);
							d->loc_fn[id] = v;
						}
					}
				}
			}
			break;
		case 5: /* Function */
			id = 0;
			while (field(&m, &n2, &v, &s)) {
				if (n2 == 1)
					id = v;
				else if (n2 == 2) {
					assert_true(id > 0 && id < 64);
					d->fn_name[id] = v;
				}
			}
			break;
		case 6:
			assert_true(d->nstrs < 64);
			d->strs[d->nstrs++] = strndup((const char *)m.p, (size_t)(m.end - m.p));
			break;
		case 12:
			d->period = v;
			break;
		}
	}
}

static void decoded_free(struct decoded *d)
{
	for (unsigned i = 0; i < d->nstrs; i++)
		free(d->strs[i]);
}

static const char *loc_name(const struct decoded *d, uint64_t loc)
{
	uint64_t fn = d->loc_fn[loc];

	assert_true(fn > 0 && fn < 64);
	assert_true(d->fn_name[fn] < d->nstrs);
	return d->strs[d->fn_name[fn]];
}

static struct ai_pprof *sample_profile(void)
{
	const char *a[] = { "fetch_user", "fetch_posts@examples/fetch_user.c:41", "main",
			    "crunch_numbers" };
	const char *b[] = { "[idle worker]", "" };
	struct ai_pprof *p;

	assert_int_equal(ai_pprof_new(10101010, &p), 0);
	assert_int_equal(ai_pprof_add(p, a, 4, 30), 0);
	assert_int_equal(ai_pprof_add(p, a, 3, 5), 0);
	assert_int_equal(ai_pprof_add(p, b, 2, 7), 0);
	assert_int_equal(ai_pprof_add(p, b, 0, 7), -EINVAL);
	return p;
}

static void test_encode_decode(void **state)
{
	struct ai_pprof *p = sample_profile();
	struct decoded d;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(ai_pprof_encode(p, &buf, &len), 0);
	decode(buf, len, &d);
	assert_int_equal(d.nsample_types, 2);
	assert_int_equal(d.nsamples, 3);
	assert_int_equal(d.count_total, 42);
	assert_int_equal(d.ns_total, 42ull * 10101010);
	assert_int_equal(d.period, 10101010);
	assert_string_equal(d.strs[0], "");
	/* The first location of a sample is the leaf, the last the root. */
	assert_string_equal(loc_name(&d, d.first_leaf_loc), "crunch_numbers");
	assert_string_equal(loc_name(&d, d.first_root_loc), "fetch_user");
	free(buf);
	decoded_free(&d);
	ai_pprof_free(p);
	ai_pprof_free(NULL);
}

static void test_write_is_gzip(void **state)
{
	char path[] = "/tmp/test_pprof_XXXXXX";
	struct ai_pprof *p = sample_profile();
	uint8_t *raw, back[65536];
	size_t len;
	gzFile gz;
	int fd, n;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ai_pprof_write(p, path), 0);
	assert_int_equal(ai_pprof_encode(p, &raw, &len), 0);
	{
		FILE *f = fopen(path, "rb");
		uint8_t magic[2];

		assert_non_null(f);
		assert_int_equal(fread(magic, 1, 2, f), 2);
		assert_int_equal(magic[0], 0x1f);
		assert_int_equal(magic[1], 0x8b);
		fclose(f);
	}
	gz = gzopen(path, "rb");
	assert_non_null(gz);
	n = gzread(gz, back, sizeof(back));
	gzclose(gz);
	assert_int_equal(n, (int)len);
	assert_memory_equal(back, raw, len);
	free(raw);
	assert_int_equal(ai_pprof_write(p, "/nonexistent-dir/x.pb.gz"), -ENOENT);
	unlink(path);
	ai_pprof_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_write_is_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
