/* SPDX-License-Identifier: MIT */
/*
 * Recording files: a round trip through the writer and reader, then the reader on
 * hostile input: truncated at every byte, every byte flipped, wrong version, huge
 * declared lengths, random damage. Runs under ASan+UBSan, so a crash, an overflow or a
 * leak fails the test as surely as a wrong count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "recfile.h"
#include "timeline.h"

#define PID  4242
#define BIAS 0x555500000000ull

/* ---- a recording in memory ---------------------------------------------------------- */

struct image {
	char *buf;
	size_t len;
	size_t nblocks;		/* blocks before the footer */
	size_t bounds[64];	/* byte offset where each block starts, then the footer */
	uint64_t upto[64];	/* events in the blocks before bounds[i] */
	uint64_t polls, events; /* written */
};

static const struct ai_desc descs[] = {
	{ .addr = 0x4000,
	  .kind = ASYNC_DESC_FUNCTION,
	  .line = 10,
	  .function = "fetch_user",
	  .file = "examples/fetch_user.c" },
	{ .addr = 0x4028,
	  .kind = ASYNC_DESC_AWAIT,
	  .line = 14,
	  .function = "fetch_user",
	  .callee = "fetch_profile",
	  .file = "examples/fetch_user.c" },
	{ .addr = 0x4050,
	  .kind = ASYNC_DESC_AWAIT,
	  .line = 16,
	  .function = "fetch_user",
	  .callee = "fetch_posts",
	  .file = "examples/fetch_user.c" },
};

static void fill_hdr(struct ai_rec_hdr *h, unsigned type, size_t size, uint64_t ts)
{
	h->type = type;
	h->size = size;
	h->pid = PID;
	h->tid = PID + 1;
	h->cpu = 1;
	h->ts = ts;
}

/* `tasks` tasks, each: spawn, 3 polls (2 pending, 1 ready), done. */
static void make_image(struct image *im, unsigned tasks, bool close)
{
	struct ai_rf_info info = {
		.flags = AI_RF_F_COMMAND, .target_pid = PID, .ncpus = 2, .start_ns = 1000
	};
	struct ai_rf_writer *w;
	uint64_t lost[2] = { 3, 4 }, ts = 2000;
	FILE *f;

	memset(im, 0, sizeof(*im));
	f = open_memstream(&im->buf, &im->len);
	assert_non_null(f);
	assert_int_equal(ai_rf_writer_fopen(f, &info, &w), 0);
	assert_int_equal(ai_rf_write_proc(w, PID, "fetch_user", "/bin/fetch_user"), 0);
	assert_int_equal(ai_rf_write_object(w, PID, BIAS, "/bin/fetch_user", descs, 3), 0);
	assert_int_equal(ai_rf_add_name(w, PID, 0x9000, "user"), 0);
	for (unsigned t = 1; t <= tasks; t++) {
		struct ai_rec_spawn s = { .task_id = t, .fn = BIAS + 0x4000, .name_addr = 0x9000 };
		struct ai_rec_done d = { .task_id = t, .end_ns = ts + 50 };

		fill_hdr(&s.h, AI_REC_SPAWN, sizeof(s), ts++);
		assert_int_equal(ai_rf_add_event(w, &s, sizeof(s)), 0);
		for (unsigned p = 0; p < 3; p++) {
			struct ai_rec_poll e = { .rec = { .task_id = t,
							  .start_ns = ts,
							  .end_ns = ts + 7,
							  .result = p == 2,
							  .fn = BIAS + 0x4000 } };

			e.rec.state = p == 0 ? BIAS + 0x4028 : p == 1 ? BIAS + 0x4050 : 0;
			fill_hdr(&e.h, AI_REC_POLL, sizeof(e), ts += 10);
			assert_int_equal(ai_rf_add_event(w, &e, sizeof(e)), 0);
			im->polls++;
		}
		fill_hdr(&d.h, AI_REC_DONE, sizeof(d), ts++);
		assert_int_equal(ai_rf_add_event(w, &d, sizeof(d)), 0);
		im->events += 5;
		/* several event blocks even for small images */
		if (t % 7 == 0)
			assert_int_equal(ai_rf_flush(w), 0);
	}
	assert_int_equal(ai_rf_write_lost(w, lost, 2), 0);
	assert_int_equal(ai_rf_writer_events(w), im->events);
	if (close) {
		assert_int_equal(ai_rf_writer_close(w, ts, 3), 0);
	} else {
		assert_int_equal(ai_rf_flush(w), 0);
		ai_rf_writer_free(w); /* closes f */
	}
	/* the block boundaries, found by walking the block headers */
	for (size_t off = 64; off + 32 <= im->len && im->nblocks < 63;) {
		uint32_t stored, count;
		uint16_t type;

		memcpy(&type, im->buf + off + 4, 2);
		memcpy(&stored, im->buf + off + 8, 4);
		memcpy(&count, im->buf + off + 16, 4);
		im->bounds[im->nblocks] = off;
		if (type == AI_RF_BLOCK_FOOTER)
			break;
		im->upto[im->nblocks + 1] =
		    im->upto[im->nblocks] + (type == AI_RF_BLOCK_EVENTS ? count : 0);
		im->nblocks++;
		off += 32 + stored;
	}
}

struct counts {
	uint64_t by_type[AI_REC_TYPE_MAX];
	uint64_t sum_ts;
	int stop_after; /* fail the read after this many events (0: never) */
};

static int on_event(void *ctx, const struct ai_rec_hdr *ev)
{
	struct counts *c = ctx;

	c->by_type[ev->type]++;
	c->sum_ts += ev->ts;
	if (c->stop_after && --c->stop_after == 0)
		return -ECANCELED;
	return 0;
}

static int read_mem(const void *buf, size_t len, struct counts *c, struct ai_recfile **rf,
		    char *err, size_t errlen)
{
	/* fmemopen refuses size 0: read an empty file from /dev/null */
	FILE *f = len ? fmemopen((void *)buf, len, "rb") : fopen("/dev/null", "rb");
	int ret;

	assert_non_null(f);
	ret = ai_recfile_fread(f, on_event, c, rf, err, errlen);
	fclose(f);
	return ret;
}

/* ---- round trip --------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct counts c = { 0 };
	struct ai_recfile *rf;
	struct image im;
	char err[256] = "";
	const struct ai_desc *d;

	(void)state;
	make_image(&im, 3000, true);
	assert_true(im.nblocks > 6); /* proc, object, names, several events, lost */
	assert_int_equal(read_mem(im.buf, im.len, &c, &rf, err, sizeof(err)), 0);
	assert_string_equal(rf->warning, "");
	assert_true(rf->complete);
	assert_int_equal(rf->info.version, AI_RF_VERSION);
	assert_int_equal(rf->info.target_pid, PID);
	assert_int_equal(rf->info.flags, AI_RF_F_COMMAND);
	assert_int_equal(rf->info.exit_status, 3);
	assert_int_equal(rf->events, im.events);
	assert_int_equal(rf->events_by_type[AI_REC_POLL], 9000);
	assert_int_equal(c.by_type[AI_REC_POLL], 9000);
	assert_int_equal(c.by_type[AI_REC_SPAWN], 3000);
	assert_int_equal(c.by_type[AI_REC_DONE], 3000);
	assert_int_equal(rf->lost_total, 7);
	assert_int_equal(rf->nlost, 2);
	assert_int_equal(rf->lost[1], 4);
	assert_int_equal(rf->nprocs, 1);
	assert_string_equal(ai_recfile_proc(rf, PID)->comm, "fetch_user");
	assert_null(ai_recfile_proc(rf, PID + 1));
	d = ai_recfile_desc(rf, PID, BIAS + 0x4050);
	assert_non_null(d);
	assert_string_equal(d->callee, "fetch_posts");
	assert_int_equal(d->line, 16);
	d = ai_recfile_desc(rf, PID, BIAS + 0x4000);
	assert_non_null(d);
	assert_null(d->callee);
	assert_null(ai_recfile_desc(rf, PID, BIAS + 0x4001));
	assert_null(ai_recfile_desc(rf, PID + 1, BIAS + 0x4000));
	assert_string_equal(ai_recfile_name(rf, PID, 0x9000), "user");
	assert_null(ai_recfile_name(rf, PID, 0x9001));
	/* compression works on this regular data */
	assert_true(im.len < im.events * 24);
	ai_recfile_free(rf);
	free(im.buf);
}

static void test_callback_error_stops(void **state)
{
	struct counts c = { .stop_after = 10 };
	struct ai_recfile *rf = (void *)1;
	struct image im;
	char err[256];

	(void)state;
	make_image(&im, 20, true);
	assert_int_equal(read_mem(im.buf, im.len, &c, &rf, err, sizeof(err)), -ECANCELED);
	assert_null(rf);
	free(im.buf);
}

static void test_no_footer_is_partial(void **state)
{
	struct counts c = { 0 };
	struct ai_recfile *rf;
	struct image im;
	char err[256];

	(void)state;
	make_image(&im, 20, false);
	assert_int_equal(read_mem(im.buf, im.len, &c, &rf, err, sizeof(err)), 0);
	assert_false(rf->complete);
	assert_non_null(strstr(rf->warning, "no footer"));
	assert_int_equal(rf->events, im.events); /* everything flushed is there */
	ai_recfile_free(rf);
	free(im.buf);
}

/* ---- hostile input ------------------------------------------------------------------ */

static void test_truncate_every_byte(void **state)
{
	struct image im;

	(void)state;
	make_image(&im, 30, true);
	for (size_t len = 0; len < im.len; len++) {
		struct counts c = { 0 };
		struct ai_recfile *rf = NULL;
		char err[256] = "";
		int ret = read_mem(im.buf, len, &c, &rf, err, sizeof(err));

		if (len < 64) {
			assert_int_equal(ret, -EPROTO);
			assert_null(rf);
			assert_true(err[0]);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_false(rf->complete);
		assert_true(rf->warning[0]);
		assert_true(rf->events <= im.events);
		/* at a block boundary exactly the events of the whole blocks before it */
		for (size_t b = 0; b <= im.nblocks; b++) {
			if (im.bounds[b] == len)
				assert_int_equal(rf->events, im.upto[b]);
		}
		ai_recfile_free(rf);
	}
	free(im.buf);
}

static void test_flip_every_byte(void **state)
{
	struct image im;
	char *copy;

	(void)state;
	make_image(&im, 12, true);
	copy = malloc(im.len);
	assert_non_null(copy);
	for (size_t off = 0; off < im.len; off++) {
		struct counts c = { 0 };
		struct ai_recfile *rf = NULL;
		char err[256] = "";
		int ret;

		memcpy(copy, im.buf, im.len);
		copy[off] ^= 0x5a;
		ret = read_mem(copy, im.len, &c, &rf, err, sizeof(err));
		if (off < 64) {
			/* header: magic/version/order are refused; other fields are data */
			if (ret) {
				assert_true(ret == -EPROTO || ret == -EPROTONOSUPPORT);
				assert_true(err[0]);
			} else {
				ai_recfile_free(rf);
			}
			continue;
		}
		/* every byte after the header is covered by a checksum or a check */
		assert_int_equal(ret, 0);
		assert_false(rf->complete);
		assert_true(rf->warning[0]);
		ai_recfile_free(rf);
	}
	free(copy);
	free(im.buf);
}

static void test_random_damage(void **state)
{
	struct image im;
	char *copy;
	unsigned seed = 12345;

	(void)state;
	make_image(&im, 40, true);
	copy = malloc(im.len);
	assert_non_null(copy);
	for (int i = 0; i < 2000; i++) {
		struct counts c = { 0 };
		struct ai_recfile *rf = NULL;
		char err[256];
		size_t len = 64 + (size_t)rand_r(&seed) % (im.len - 64);
		int ret;

		memcpy(copy, im.buf, im.len);
		for (int k = rand_r(&seed) % 4; k >= 0; k--)
			copy[64 + rand_r(&seed) % (im.len - 64)] = (char)rand_r(&seed);
		ret = read_mem(copy, len, &c, &rf, err, sizeof(err));
		assert_int_equal(ret, 0);
		assert_false(rf->complete);
		assert_true(rf->warning[0]);
		ai_recfile_free(rf);
	}
	free(copy);
	free(im.buf);
}

static void test_wrong_version_and_magic(void **state)
{
	struct ai_recfile *rf = NULL;
	struct counts c = { 0 };
	struct image im;
	char err[256];
	uint32_t v = 99;

	(void)state;
	make_image(&im, 2, true);
	memcpy(im.buf + 8, &v, 4);
	assert_int_equal(read_mem(im.buf, im.len, &c, &rf, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "version 99"));
	assert_null(rf);
	memcpy(im.buf, "GARBAGE!", 8);
	assert_int_equal(read_mem(im.buf, im.len, &c, &rf, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not an async-inspect recording"));
	free(im.buf);
}

/* Rewrites block header fields at `off` and fixes its header checksum. */
static void patch_block(char *buf, size_t off, uint32_t stored, uint32_t raw, uint32_t count)
{
	uint32_t check;

	memcpy(buf + off + 8, &stored, 4);
	memcpy(buf + off + 12, &raw, 4);
	memcpy(buf + off + 16, &count, 4);
	check = (uint32_t)adler32(adler32(0, NULL, 0), (const Bytef *)buf + off, 28);
	memcpy(buf + off + 28, &check, 4);
}

static void test_huge_lengths(void **state)
{
	struct image im;
	uint32_t stored, raw, count;
	char err[256];

	(void)state;
	make_image(&im, 4, true);
	/* block 0 (process) declares 4 GiB stored, then 4 GiB raw, then a huge count */
	memcpy(&stored, im.buf + 64 + 8, 4);
	memcpy(&raw, im.buf + 64 + 12, 4);
	memcpy(&count, im.buf + 64 + 16, 4);
	for (int k = 0; k < 3; k++) {
		struct ai_recfile *rf = NULL;
		struct counts c = { 0 };
		char *copy = malloc(im.len);

		assert_non_null(copy);
		memcpy(copy, im.buf, im.len);
		patch_block(copy, 64, k == 0 ? 0xfffffff0u : stored, k == 1 ? 0xffffffffu : raw,
			    k == 2 ? 0x7fffffffu : count);
		assert_int_equal(read_mem(copy, im.len, &c, &rf, err, sizeof(err)), 0);
		assert_false(rf->complete);
		assert_true(rf->warning[0]);
		if (k == 0)
			assert_non_null(strstr(rf->warning, "truncated"));
		ai_recfile_free(rf);
		free(copy);
	}
	free(im.buf);
}

static void test_missing_file_and_writer_errors(void **state)
{
	struct ai_rf_info info = { 0 };
	struct ai_rf_writer *w;
	struct ai_recfile *rf = NULL;
	char err[256] = "";
	struct ai_rec_hdr bad = { .type = AI_REC_POLL, .size = 12 };
	int ret;

	(void)state;
	assert_int_equal(ai_recfile_read("/nonexistent/x.rec", NULL, NULL, &rf, err, sizeof(err)),
			 -ENOENT);
	assert_true(err[0]);
	assert_int_equal(ai_rf_writer_open("/nonexistent/x.rec", &info, &w), -ENOENT);
	assert_null(w);
	/* the writer refuses malformed events */
	assert_int_equal(ai_rf_writer_open("/dev/null", &info, &w), 0);
	assert_int_equal(ai_rf_add_event(w, &bad, 12), -EINVAL);
	ai_rf_writer_free(w);
	ai_rf_writer_free(NULL);
	ai_recfile_free(NULL);
	/* a full disk is an error at close at the latest */
	assert_int_equal(ai_rf_writer_open("/dev/full", &info, &w), 0);
	assert_int_equal(ai_rf_write_proc(w, 1, "x", "y"), 0);
	ret = ai_rf_writer_close(w, 0, 0);
	assert_int_equal(ret, -ENOSPC);
}

/* ---- replay: the same numbers trace computes ------------------------------------------ */

#define D_FN (BIAS + 0x4000)
#define D_A  (BIAS + 0x4028)
#define D_B  (BIAS + 0x4050)

static void add_poll(struct ai_rf_writer *w, uint64_t task, uint64_t start, uint64_t end,
		     uint64_t woken, uint64_t state, uint64_t waker, uint32_t ready)
{
	struct ai_rec_poll e = { .rec = { .task_id = task,
					  .start_ns = start,
					  .end_ns = end,
					  .woken_ns = woken,
					  .state = state,
					  .leaf = state,
					  .waker_id = waker,
					  .result = ready,
					  .fn = D_FN } };

	fill_hdr(&e.h, AI_REC_POLL, sizeof(e), end);
	assert_int_equal(ai_rf_add_event(w, &e, sizeof(e)), 0);
}

/* Two tasks with hand-computed expectations (see the comments). */
static char *two_tasks(size_t *len)
{
	struct ai_rf_info info = { .target_pid = PID, .ncpus = 2, .start_ns = 900 };
	struct ai_rec_spawn s1 = { .task_id = 1, .fn = D_FN, .name_addr = 0x9000 };
	struct ai_rec_spawn s2 = { .task_id = 2, .parent_id = 1, .fn = D_FN };
	struct ai_rec_wait wt = { .task_id = 1, .kind = ASYNC_WAIT_TIMER, .await_desc = D_A };
	struct ai_rec_done d = { .task_id = 1, .end_ns = 3010 };
	struct ai_rf_writer *w;
	char *buf;
	FILE *f;

	f = open_memstream(&buf, len);
	assert_non_null(f);
	assert_int_equal(ai_rf_writer_fopen(f, &info, &w), 0);
	assert_int_equal(ai_rf_write_proc(w, PID, "fetch_user", "/bin/fetch_user"), 0);
	assert_int_equal(ai_rf_write_object(w, PID, BIAS, "/bin/fetch_user", descs, 3), 0);
	assert_int_equal(ai_rf_add_name(w, PID, 0x9000, "user"), 0);
	fill_hdr(&s1.h, AI_REC_SPAWN, sizeof(s1), 1000);
	assert_int_equal(ai_rf_add_event(w, &s1, sizeof(s1)), 0);
	fill_hdr(&wt.h, AI_REC_WAIT, sizeof(wt), 1140);
	assert_int_equal(ai_rf_add_event(w, &wt, sizeof(wt)), 0);
	fill_hdr(&s2.h, AI_REC_SPAWN, sizeof(s2), 1120); /* inside task 1's first poll */
	assert_int_equal(ai_rf_add_event(w, &s2, sizeof(s2)), 0);
	add_poll(w, 1, 1100, 1150, 0, D_A, 0, 0);    /* sched 100 (spawn -> poll) */
	add_poll(w, 2, 1200, 1300, 1120, D_A, 1, 0); /* sched 80; pending for good */
	add_poll(w, 1, 2000, 2030, 1900, D_B, 2, 0); /* idle 750, sched 100, wait A 850 */
	add_poll(w, 1, 3000, 3010, 2990, 0, 1, 1);   /* idle 960, sched 10, wait B 970 */
	fill_hdr(&d.h, AI_REC_DONE, sizeof(d), 3010);
	assert_int_equal(ai_rf_add_event(w, &d, sizeof(d)), 0);
	assert_int_equal(ai_rf_writer_close(w, 4000, -1), 0);
	return buf;
}

static const struct ai_sum_task *find_task(const struct ai_summary *s, uint64_t id)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].id == id)
			return &s->tasks[i];
	fail_msg("task %llu missing", (unsigned long long)id);
	return NULL;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_replay_summary(void **state)
{
	struct ai_timeline *tl;
	struct ai_summary s;
	const struct ai_sum_task *t;
	char err[256], *buf;
	size_t len;
	FILE *f;

	(void)state;
	buf = two_tasks(&len);
	f = fmemopen(buf, len, "rb");
	assert_int_equal(ai_tl_fload(f, AI_TL_SLICES, 0, &tl, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(ai_tl_summary(tl, NULL, &s), 0);
	assert_string_equal(s.source, "report");
	assert_int_equal(s.pid, PID);
	assert_int_equal(s.duration_ns, 4000 - 900);
	assert_int_equal(s.ntasks, 2);
	t = find_task(&s, 1);
	assert_string_equal(t->function, "fetch_user");
	assert_string_equal(t->name, "user");
	assert_string_equal(t->state, "done");
	assert_true(t->done);
	assert_int_equal(t->polls, 3);
	assert_int_equal(t->busy_ns, 90);
	assert_int_equal(t->idle_ns, 750 + 960);
	assert_int_equal(t->sched_delay_ns, 100 + 100 + 10);
	assert_int_equal(t->max_poll_ns, 50);
	assert_null(t->max_poll_from);
	assert_string_equal(t->max_poll_to, "fetch_user@fetch_profile (examples/fetch_user.c:14)");
	assert_int_equal(t->wakes_self, 1);
	assert_int_equal(t->wakes_other, 1);
	t = find_task(&s, 2);
	assert_int_equal(t->parent, 1);
	assert_null(t->name);
	assert_string_equal(t->state, "idle");
	assert_false(t->done);
	assert_int_equal(t->sched_delay_ns, 80);
	assert_string_equal(t->location, "examples/fetch_user.c:14");
	assert_string_equal(t->await, "fetch_user@fetch_profile");
	assert_int_equal(s.nfuncs, 1);
	assert_int_equal(s.funcs[0].tasks, 2);
	assert_int_equal(s.funcs[0].polls, 4);
	assert_int_equal(s.funcs[0].busy_ns, 190);
	assert_int_equal(s.funcs[0].max_poll_ns, 100);
	assert_string_equal(s.funcs[0].location, "examples/fetch_user.c:10");
	assert_int_equal(s.nawaits, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ai_sum_await *a = &s.awaits[i];

		assert_int_equal(a->waits, 1);
		assert_int_equal(a->wait_ns, strcmp(a->callee, "fetch_profile") ? 970 : 850);
	}
	assert_int_equal(ai_summary_lost_get(&s, "ringbuf_drops"), 0);
	ai_summary_free(&s);

	/* the exports: 2 task tracks, one spawn and one wake arrow, 2 SVG rows */
	{
		char *out;
		size_t olen;

		f = open_memstream(&out, &olen);
		assert_int_equal(ai_tl_write_chrome(tl, f), 0);
		fclose(f);
		assert_int_equal(count(out, "\"ph\":\"X\",\"name\":\"fetch_user"), 4 + 4);
		assert_int_equal(count(out, "\"cat\":\"poll\""), 4);
		assert_int_equal(count(out, "\"ph\":\"s\""), 2);
		assert_int_equal(count(out, "\"ph\":\"f\""), 2);
		assert_int_equal(count(out, "\"name\":\"wait fetch_user@fetch_profile\""), 2);
		assert_int_equal(count(out, "\"wait_kind\":\"timer\""), 1);
		free(out);
		f = open_memstream(&out, &olen);
		assert_int_equal(ai_tl_write_svg(tl, f), 0);
		fclose(f);
		assert_int_equal(count(out, "<g class=\"task\""), 2);
		assert_non_null(strstr(out, "</svg>"));
		free(out);
		f = open_memstream(&out, &olen);
		assert_int_equal(ai_tl_write_text(tl, f, 40, false, 0), 0);
		fclose(f);
		assert_int_equal(count(out, "fetch_user #"), 2);
		free(out);
	}
	ai_tl_free(tl);

	/* long polls per function, above the threshold given at load: only the 100 ns one */
	f = fmemopen(buf, len, "rb");
	assert_int_equal(ai_tl_fload(f, 0, 60, &tl, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(tl->nfuncs, 1);
	assert_int_equal(tl->funcs[0].long_polls, 1);
	assert_int_equal(tl->slices, 0); /* no AI_TL_SLICES: aggregates only */
	ai_tl_free(tl);
	free(buf);
}

/* Events with random field values (valid framing): nothing may crash or overflow. */
static void test_exports_on_random_events(void **state)
{
	unsigned seed = 777;

	(void)state;
	for (int round = 0; round < 30; round++) {
		struct ai_rf_info info = { .target_pid = PID };
		struct ai_rf_writer *w;
		struct ai_timeline *tl;
		struct ai_summary s;
		char err[256], *buf;
		size_t len;
		FILE *f, *null;

		f = open_memstream(&buf, &len);
		assert_int_equal(ai_rf_writer_fopen(f, &info, &w), 0);
		assert_int_equal(ai_rf_write_object(w, PID, BIAS, "/x", descs, 3), 0);
		for (int i = 0; i < 400; i++) {
			uint64_t raw[AI_REC_EVENT_MAX / 8];
			unsigned type = 1 + (unsigned)rand_r(&seed) % (AI_REC_TYPE_MAX - 1);
			size_t size = ai_rec_event_size(type);
			struct ai_rec_hdr *h = (void *)raw;

			for (size_t k = 0; k < size / 8; k++) {
				uint64_t v =
				    (uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed);

				/* small ids and times collide; some fields stay huge */
				raw[k] = rand_r(&seed) % 3 ? v % 16 : rand_r(&seed) % 2 ? v : ~v;
			}
			fill_hdr(h, type, size, raw[2]);
			h->pid = rand_r(&seed) % 2 ? PID : PID + 1;
			assert_int_equal(ai_rf_add_event(w, raw, size), 0);
		}
		assert_int_equal(ai_rf_writer_close(w, 0, 0), 0);
		f = fmemopen(buf, len, "rb");
		assert_int_equal(ai_tl_fload(f, AI_TL_SLICES, 0, &tl, err, sizeof(err)), 0);
		fclose(f);
		null = fopen("/dev/null", "w");
		assert_non_null(null);
		assert_int_equal(ai_tl_summary(tl, NULL, &s), 0);
		ai_summary_print_json(null, &s, false);
		ai_summary_free(&s);
		assert_int_equal(ai_tl_write_chrome(tl, null), 0);
		assert_int_equal(ai_tl_write_svg(tl, null), 0);
		assert_int_equal(ai_tl_write_text(tl, null, 50, true, 0), 0);
		fclose(null);
		ai_tl_free(tl);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_no_footer_is_partial),
		cmocka_unit_test(test_truncate_every_byte),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_random_damage),
		cmocka_unit_test(test_wrong_version_and_magic),
		cmocka_unit_test(test_huge_lengths),
		cmocka_unit_test(test_missing_file_and_writer_errors),
		cmocka_unit_test(test_replay_summary),
		cmocka_unit_test(test_exports_on_random_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
