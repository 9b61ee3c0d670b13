// SPDX-License-Identifier: MIT
/* Recording files: the writer and a reader for hostile input. Format: docs/record-format.md */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "outfile.h"
#include "recfile.h"

#define HEADER_SIZE    64
#define BLOCK_HDR_SIZE 32
#define TRAILER_SIZE   16
#define STR_NULL       0xffffu
#define MAX_CPUS       4096
#define ZLEVEL	       1 /* fast: recording must keep up with the ring buffer */

/* On-disk header, 64 bytes. */
struct rf_header {
	char magic[8];
	uint32_t version;
	uint32_t bom;
	uint32_t header_size;
	uint32_t flags;
	uint32_t target_pid;
	uint32_t ncpus;
	uint64_t start_ns;
	uint64_t start_real_ns;
	uint64_t reserved[2];
};

/* On-disk block header, 32 bytes; hdr_check is adler32 of the 28 bytes before it. */
struct rf_block {
	uint32_t magic;
	uint16_t type;
	uint16_t flags; /* bit 0: payload is zlib-compressed */
	uint32_t stored_len;
	uint32_t raw_len;
	uint32_t count;
	uint32_t adler; /* of the stored payload */
	uint32_t reserved;
	uint32_t hdr_check;
};

#define BLOCK_F_ZLIB 1u
/*
 * Events are packed (docs/record-format.md): an event of a known type keeps its type and
 * size (bytes 0-3), then its 32-bit word at byte 4 and each 64-bit word from byte 8 on is
 * XORed with the same word of the previous event of that type in the block and written
 * as a LEB128 varint. Neighbours share most bytes of their timestamps, ids and
 * descriptor addresses: a 96-byte poll event packs to about 25 bytes before zlib.
 */
#define BLOCK_F_PACKED 2u
#define BLOCK_F_ALL    (BLOCK_F_ZLIB | BLOCK_F_PACKED)
#define PACKED_MAX     (4 + 5 + 10 * (AI_REC_EVENT_MAX / 8)) /* bytes of one packed event */

static bool xor_coded(unsigned type)
{
	return type > 0 && type < AI_REC_TYPE_MAX;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* A varint of at most `maxbytes` bytes whose value fits in `bits`; false if malformed. */
static bool get_varint(const uint8_t *p, size_t len, size_t *off, unsigned bits, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t b;

		if (*off >= len)
			return false;
		b = p[(*off)++];
		if (shift == 63 && (b & 0x7e))
			return false; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (bits < 64 && (r >> bits))
				return false;
			*v = r;
			return true;
		}
	}
	return false;
}

/*
 * Before the XOR, a poll event's times become differences (modulo 2^64, so any value
 * round-trips): end -= start, woken = start - woken, ts -= end. What is left varies
 * in a byte or two. Offsets are those of struct ai_rec_poll.
 */
#define P_TS	offsetof(struct ai_rec_poll, h.ts)
#define P_START offsetof(struct ai_rec_poll, rec.start_ns)
#define P_END	offsetof(struct ai_rec_poll, rec.end_ns)
#define P_WOKEN offsetof(struct ai_rec_poll, rec.woken_ns)

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void poll_encode(uint8_t *e)
{
	uint64_t start = ld64(e + P_START), end = ld64(e + P_END);

	st64(e + P_TS, ld64(e + P_TS) - end);
	st64(e + P_WOKEN, start - ld64(e + P_WOKEN));
	st64(e + P_END, end - start);
}

static void poll_decode(uint8_t *e)
{
	uint64_t start = ld64(e + P_START), end = ld64(e + P_END) + start;

	st64(e + P_END, end);
	st64(e + P_WOKEN, start - ld64(e + P_WOKEN));
	st64(e + P_TS, ld64(e + P_TS) + end);
}

/* Footer payload: fixed part, then `nblocks` index entries. */
struct rf_footer {
	uint64_t end_ns;
	int32_t exit_status;
	uint32_t nblocks;
	uint64_t events;
	uint64_t by_type[AI_REC_TYPE_MAX];
	uint64_t lost_total;
};

struct rf_index {
	uint64_t offset;
	uint32_t type;
	uint32_t count;
};

_Static_assert(sizeof(struct rf_header) == HEADER_SIZE, "header layout");
_Static_assert(sizeof(struct rf_block) == BLOCK_HDR_SIZE, "block header layout");
_Static_assert(sizeof(struct rf_index) == 16, "index layout");

size_t ai_rec_event_size(unsigned type)
{
	switch (type) {
	case AI_REC_SPAWN:
		return sizeof(struct ai_rec_spawn);
	case AI_REC_POLL:
		return sizeof(struct ai_rec_poll);
	case AI_REC_DONE:
		return sizeof(struct ai_rec_done);
	case AI_REC_WAIT:
		return sizeof(struct ai_rec_wait);
	case AI_REC_ACQUIRE:
	case AI_REC_RELEASE:
		return sizeof(struct ai_rec_lock);
	case AI_REC_THREAD:
		return sizeof(struct ai_rec_thread);
	case AI_REC_RING:
		return sizeof(struct ai_rec_ring);
	default:
		return 0;
	}
}

/* ---- growable byte buffer ------------------------------------------------------------ */

struct buf {
	uint8_t *p;
	size_t len, cap;
	uint32_t count;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_put(struct buf *b, const void *data, size_t len)
{
	int err = buf_reserve(b, len);

	if (err)
		return err;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int buf_u32(struct buf *b, uint32_t v)
{
	return buf_put(b, &v, sizeof(v));
}

static int buf_u64(struct buf *b, uint64_t v)
{
	return buf_put(b, &v, sizeof(v));
}

static int buf_str(struct buf *b, const char *s)
{
	uint16_t len;
	size_t n;
	int err;

	if (!s) {
		len = STR_NULL;
		return buf_put(b, &len, sizeof(len));
	}
	n = strnlen(s, STR_NULL - 1);
	len = (uint16_t)n;
	err = buf_put(b, &len, sizeof(len));
	return err ? err : buf_put(b, s, n);
}

/* ---- writer ------------------------------------------------------------------------ */

struct ai_rf_writer {
	FILE *f;
	struct ai_outfile out; /* from ai_rf_writer_open: renamed into place when closed */
	int err;	       /* first write error; sticky */
	uint64_t offset;       /* bytes written */
	struct buf events;
	struct buf names;
	struct buf index;
	uint8_t *zbuf;
	size_t zcap;
	uint32_t nblocks;
	uint64_t nevents;
	uint64_t by_type[AI_REC_TYPE_MAX];
	uint64_t lost_total;
	uint8_t prev[AI_REC_TYPE_MAX][AI_REC_EVENT_MAX]; /* XOR-delta state of the block */
};

static int w_write(struct ai_rf_writer *w, const void *p, size_t len)
{
	if (w->err)
		return w->err;
	if (len && fwrite(p, 1, len, w->f) != len) {
		w->err = errno ? -errno : -EIO;
		return w->err;
	}
	w->offset += len;
	return 0;
}

static int write_block(struct ai_rf_writer *w, uint16_t type, uint16_t flags, const void *raw,
		       size_t raw_len, uint32_t count)
{
	struct rf_block b = { .magic = AI_RF_BLOCK_MAGIC, .type = type, .flags = flags };
	struct rf_index ent = { .offset = w->offset, .type = type, .count = count };
	const void *payload = raw;
	uLongf zlen;
	int err;

	if (w->err)
		return w->err;
	if (raw_len > AI_RF_MAX_RAW)
		return -E2BIG;
	zlen = compressBound(raw_len);
	if (zlen > w->zcap) {
		uint8_t *p = realloc(w->zbuf, zlen);

		if (!p)
			return -ENOMEM;
		w->zbuf = p;
		w->zcap = zlen;
	}
	if (raw_len && compress2(w->zbuf, &zlen, raw, raw_len, ZLEVEL) == Z_OK && zlen < raw_len) {
		payload = w->zbuf;
		b.flags |= BLOCK_F_ZLIB;
		b.stored_len = (uint32_t)zlen;
	} else {
		b.stored_len = (uint32_t)raw_len;
	}
	b.raw_len = (uint32_t)raw_len;
	b.count = count;
	b.adler = (uint32_t)adler32(adler32(0, NULL, 0), payload, b.stored_len);
	b.hdr_check = (uint32_t)adler32(adler32(0, NULL, 0), (const Bytef *)&b,
					offsetof(struct rf_block, hdr_check));
	err = w_write(w, &b, sizeof(b));
	if (!err)
		err = w_write(w, payload, b.stored_len);
	if (err)
		return err;
	if (type != AI_RF_BLOCK_FOOTER) {
		err = buf_put(&w->index, &ent, sizeof(ent));
		if (err)
			return err;
		w->nblocks++;
	}
	return 0;
}

int ai_rf_writer_fopen(FILE *f, const struct ai_rf_info *info, struct ai_rf_writer **out)
{
	struct rf_header h = { .version = AI_RF_VERSION, .bom = AI_RF_BOM };
	struct ai_rf_writer *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		fclose(f);
		return -ENOMEM;
	}
	w->f = f;
	memcpy(h.magic, AI_RF_MAGIC, sizeof(h.magic));
	h.header_size = HEADER_SIZE;
	h.flags = info->flags;
	h.target_pid = info->target_pid;
	h.ncpus = info->ncpus;
	h.start_ns = info->start_ns;
	h.start_real_ns = info->start_real_ns;
	err = w_write(w, &h, sizeof(h));
	if (err) {
		ai_rf_writer_free(w);
		return err;
	}
	*out = w;
	return 0;
}

int ai_rf_writer_open(const char *path, const struct ai_rf_info *info, struct ai_rf_writer **out)
{
	struct ai_outfile of;
	int err;

	*out = NULL;
	/* streamed, readable up to the last block if record is killed */
	err = ai_out_open_stream(&of, path, AI_OUT_PRIVATE);
	if (err)
		return err;
	err = ai_rf_writer_fopen(of.f, info, out);
	of.f = NULL; /* the writer's now (closed by it, on failure too) */
	if (err) {
		ai_out_finish(&of, false);
		return err;
	}
	(*out)->out = of;
	return 0;
}

int ai_rf_write_proc(struct ai_rf_writer *w, uint32_t pid, const char *comm, const char *exe)
{
	struct buf b = { 0 };
	int err;

	err = buf_u32(&b, pid);
	if (!err)
		err = buf_str(&b, comm ? comm : "");
	if (!err)
		err = buf_str(&b, exe ? exe : "");
	if (!err)
		err = write_block(w, AI_RF_BLOCK_PROC, 0, b.p, b.len, 1);
	free(b.p);
	return err;
}

int ai_rf_write_object(struct ai_rf_writer *w, uint32_t pid, uint64_t bias, const char *path,
		       const struct ai_desc *descs, size_t n)
{
	struct buf b = { 0 };
	int err;

	if (n > UINT32_MAX)
		return -E2BIG;
	err = buf_u32(&b, pid);
	if (!err)
		err = buf_u32(&b, (uint32_t)n);
	if (!err)
		err = buf_u64(&b, bias);
	if (!err)
		err = buf_str(&b, path ? path : "");
	for (size_t i = 0; i < n && !err; i++) {
		err = buf_u64(&b, descs[i].addr);
		if (!err)
			err = buf_u32(&b, descs[i].kind);
		if (!err)
			err = buf_u32(&b, descs[i].line);
		if (!err)
			err = buf_str(&b, descs[i].function);
		if (!err)
			err = buf_str(&b, descs[i].callee);
		if (!err)
			err = buf_str(&b, descs[i].file);
	}
	if (!err)
		err = write_block(w, AI_RF_BLOCK_OBJECT, 0, b.p, b.len, (uint32_t)n);
	free(b.p);
	return err;
}

int ai_rf_add_name(struct ai_rf_writer *w, uint32_t pid, uint64_t addr, const char *name)
{
	int err;

	err = buf_u32(&w->names, pid);
	if (!err)
		err = buf_u32(&w->names, 0);
	if (!err)
		err = buf_u64(&w->names, addr);
	if (!err)
		err = buf_str(&w->names, name ? name : "");
	if (!err)
		w->names.count++;
	return err;
}

int ai_rf_flush(struct ai_rf_writer *w)
{
	int err = 0;

	if (w->names.count) {
		err =
		    write_block(w, AI_RF_BLOCK_NAMES, 0, w->names.p, w->names.len, w->names.count);
		w->names.len = 0;
		w->names.count = 0;
	}
	if (!err && w->events.count) {
		err = write_block(w, AI_RF_BLOCK_EVENTS, BLOCK_F_PACKED, w->events.p, w->events.len,
				  w->events.count);
		w->events.len = 0;
		w->events.count = 0;
		memset(w->prev, 0, sizeof(w->prev));
	}
	if (!err && fflush(w->f))
		err = w->err = errno ? -errno : -EIO;
	return err;
}

int ai_rf_add_event(struct ai_rf_writer *w, const void *ev, size_t size)
{
	const struct ai_rec_hdr *h = ev;
	uint8_t *out;
	int err;

	if (size < sizeof(*h) || size > AI_REC_EVENT_MAX || size % 8 || h->size != size)
		return -EINVAL;
	err = buf_reserve(&w->events, PACKED_MAX);
	if (err)
		return err;
	out = w->events.p + w->events.len;
	if (xor_coded(h->type)) {
		uint8_t tmp[AI_REC_EVENT_MAX], *prev = w->prev[h->type];
		uint32_t v32, p32;
		size_t n = 4;

		memcpy(tmp, ev, size);
		if (h->type == AI_REC_POLL && size >= sizeof(struct ai_rec_poll))
			poll_encode(tmp);
		memcpy(out, tmp, 4);
		memcpy(&v32, tmp + 4, 4);
		memcpy(&p32, prev + 4, 4);
		n += put_varint(out + n, v32 ^ p32);
		for (size_t i = 8; i < size; i += 8)
			n += put_varint(out + n, ld64(tmp + i) ^ ld64(prev + i));
		memcpy(prev, tmp, size);
		w->events.len += n;
	} else {
		memcpy(out, ev, size);
		w->events.len += size;
	}
	w->events.count++;
	w->nevents++;
	w->by_type[h->type < AI_REC_TYPE_MAX ? h->type : 0]++;
	if (w->events.len >= AI_RF_BLOCK_TARGET)
		return ai_rf_flush(w);
	return 0;
}

int ai_rf_write_lost(struct ai_rf_writer *w, const uint64_t *per_cpu, uint32_t ncpus)
{
	struct buf b = { 0 };
	uint64_t total = 0;
	int err = 0;

	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;
	for (uint32_t i = 0; i < ncpus && !err; i++) {
		err = buf_u32(&b, i);
		if (!err)
			err = buf_u32(&b, 0);
		if (!err)
			err = buf_u64(&b, per_cpu[i]);
		total += per_cpu[i];
	}
	if (!err)
		err = write_block(w, AI_RF_BLOCK_LOST, 0, b.p, b.len, ncpus);
	if (!err)
		w->lost_total = total;
	free(b.p);
	return err;
}

uint64_t ai_rf_writer_events(const struct ai_rf_writer *w)
{
	return w->nevents;
}

uint64_t ai_rf_writer_bytes(const struct ai_rf_writer *w)
{
	return w->offset;
}

int ai_rf_writer_close(struct ai_rf_writer *w, uint64_t end_ns, int32_t exit_status)
{
	struct rf_footer ft = { .end_ns = end_ns, .exit_status = exit_status };
	struct buf b = { 0 };
	uint64_t footer_off;
	int err;

	if (!w)
		return -EINVAL;
	err = ai_rf_flush(w);
	ft.nblocks = w->nblocks;
	ft.events = w->nevents;
	memcpy(ft.by_type, w->by_type, sizeof(ft.by_type));
	ft.lost_total = w->lost_total;
	if (!err)
		err = buf_put(&b, &ft, sizeof(ft));
	if (!err)
		err = buf_put(&b, w->index.p, w->index.len);
	footer_off = w->offset;
	if (!err)
		err = write_block(w, AI_RF_BLOCK_FOOTER, 0, b.p, b.len, w->nblocks);
	if (!err)
		err = w_write(w, &footer_off, sizeof(footer_off));
	if (!err)
		err = w_write(w, AI_RF_TRAILER_MAGIC, 8);
	free(b.p);
	if (fclose(w->f) && !err)
		err = errno ? -errno : -EIO;
	w->f = NULL;
	if (w->out.path || w->out.tmp) {
		int e = ai_out_finish(&w->out, true);

		if (!err)
			err = e;
	}
	ai_rf_writer_free(w);
	return err;
}

void ai_rf_writer_free(struct ai_rf_writer *w)
{
	if (!w)
		return;
	if (w->f)
		fclose(w->f);
	w->f = NULL;
	/* an error: what was written stays readable (a partial recording) */
	ai_out_finish(&w->out, true);
	free(w->events.p);
	free(w->names.p);
	free(w->index.p);
	free(w->zbuf);
	free(w);
}

/* ---- reader ------------------------------------------------------------------------ */

struct cur {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static bool cur_get(struct cur *c, void *dst, size_t n)
{
	if (c->bad || c->len - c->off < n) {
		c->bad = true;
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, c->p + c->off, n);
	c->off += n;
	return true;
}

static uint32_t cur_u32(struct cur *c)
{
	uint32_t v;

	cur_get(c, &v, sizeof(v));
	return v;
}

static uint64_t cur_u64(struct cur *c)
{
	uint64_t v;

	cur_get(c, &v, sizeof(v));
	return v;
}

/* A string: allocated copy, NULL for the null string (*isnull) or on error (c->bad). */
static char *cur_str(struct cur *c, bool *isnull)
{
	uint16_t len;
	char *s;

	*isnull = false;
	if (!cur_get(c, &len, sizeof(len)))
		return NULL;
	if (len == STR_NULL) {
		*isnull = true;
		return NULL;
	}
	if (c->len - c->off < len) {
		c->bad = true;
		return NULL;
	}
	s = malloc((size_t)len + 1);
	if (!s) {
		c->bad = true;
		return NULL;
	}
	memcpy(s, c->p + c->off, len);
	s[len] = 0;
	/* An embedded NUL would make the string lie about its length: refuse. */
	if (strlen(s) != len) {
		free(s);
		c->bad = true;
		return NULL;
	}
	c->off += len;
	return s;
}

/* A string that must not be null. */
static char *cur_str_nn(struct cur *c)
{
	bool isnull;
	char *s = cur_str(c, &isnull);

	if (isnull)
		c->bad = true;
	return s;
}

struct reader {
	FILE *f;
	uint64_t size;
	struct ai_recfile *rf;
	ai_rf_event_fn fn;
	void *ctx;
	uint32_t damaged;
	bool footer;
	size_t names_cap, procs_cap, objects_cap;
};

static void warn(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	r->damaged++;
	if (r->rf->warning[0])
		return; /* keep the first */
	va_start(ap, fmt);
	vsnprintf(r->rf->warning, sizeof(r->rf->warning), fmt, ap);
	va_end(ap);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static const char *block_name(unsigned type)
{
	static const char *const names[] = { "unknown", "process", "descriptor", "names",
					     "events",	"lost",	   "footer" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : names[0];
}

/* Each parser returns 0, -EBADMSG for a malformed payload, or another negative errno. */

static int parse_proc(struct reader *r, struct cur *c, uint32_t count)
{
	struct ai_recfile *rf = r->rf;

	for (uint32_t i = 0; i < count; i++) {
		struct ai_rf_proc p = { 0 };

		p.pid = cur_u32(c);
		p.comm = cur_str_nn(c);
		p.exe = cur_str_nn(c);
		if (c->bad || grow((void **)&rf->procs, &r->procs_cap, rf->nprocs, sizeof(p))) {
			free(p.comm);
			free(p.exe);
			return c->bad ? -EBADMSG : -ENOMEM;
		}
		rf->procs[rf->nprocs++] = p;
	}
	return 0;
}

static void free_descs(struct ai_desc *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)d[i].function);
		free((char *)d[i].callee);
		free((char *)d[i].file);
	}
	free(d);
}

static int cmp_desc(const void *a, const void *b)
{
	const struct ai_desc *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int parse_object(struct reader *r, struct cur *c, uint32_t count)
{
	struct ai_recfile *rf = r->rf;
	struct ai_rf_object o = { 0 };
	uint32_t n;

	o.pid = cur_u32(c);
	n = cur_u32(c);
	o.bias = cur_u64(c);
	o.path = cur_str_nn(c);
	/* Each descriptor takes at least 22 bytes: bounds n by the payload. */
	if (c->bad || n != count || n > (c->len - c->off) / 22) {
		free(o.path);
		return -EBADMSG;
	}
	o.descs = calloc(n ? n : 1, sizeof(*o.descs));
	if (!o.descs) {
		free(o.path);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n && !c->bad; i++) {
		struct ai_desc *d = &o.descs[i];
		bool isnull;

		d->addr = cur_u64(c);
		d->kind = cur_u32(c);
		d->line = cur_u32(c);
		d->function = cur_str_nn(c);
		d->callee = cur_str(c, &isnull);
		d->file = cur_str_nn(c);
		o.n = i + 1;
	}
	if (c->bad || grow((void **)&rf->objects, &r->objects_cap, rf->nobjects, sizeof(o))) {
		free(o.path);
		free_descs(o.descs, o.n);
		return c->bad ? -EBADMSG : -ENOMEM;
	}
	qsort(o.descs, o.n, sizeof(*o.descs), cmp_desc);
	rf->objects[rf->nobjects++] = o;
	return 0;
}

static int parse_names(struct reader *r, struct cur *c, uint32_t count)
{
	struct ai_recfile *rf = r->rf;

	for (uint32_t i = 0; i < count; i++) {
		struct ai_rf_name nm = { 0 };

		nm.pid = cur_u32(c);
		cur_u32(c);
		nm.addr = cur_u64(c);
		nm.name = cur_str_nn(c);
		if (c->bad || grow((void **)&rf->names, &r->names_cap, rf->nnames, sizeof(nm))) {
			free(nm.name);
			return c->bad ? -EBADMSG : -ENOMEM;
		}
		rf->names[rf->nnames++] = nm;
	}
	return 0;
}

static int parse_lost(struct reader *r, struct cur *c, uint32_t count)
{
	struct ai_recfile *rf = r->rf;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t cpu = cur_u32(c);
		uint64_t n;

		cur_u32(c);
		n = cur_u64(c);
		if (c->bad || cpu >= MAX_CPUS)
			return -EBADMSG;
		if (cpu >= rf->nlost) {
			uint64_t *p = realloc(rf->lost, (cpu + 1) * sizeof(*p));

			if (!p)
				return -ENOMEM;
			memset(p + rf->nlost, 0, (cpu + 1 - rf->nlost) * sizeof(*p));
			rf->lost = p;
			rf->nlost = cpu + 1;
		}
		/* Counts are cumulative: the latest block has the largest. */
		if (n > rf->lost[cpu])
			rf->lost[cpu] = n;
	}
	rf->lost_total = 0;
	for (uint32_t i = 0; i < rf->nlost; i++)
		rf->lost_total += rf->lost[i];
	return 0;
}

/*
 * The event at raw[*off] into out (AI_REC_EVENT_MAX bytes), undoing the packing with
 * prev (per type, the previous event's packed words). -EBADMSG if malformed.
 */
static int next_event(const uint8_t *raw, size_t len, size_t *off, bool packed,
		      uint8_t (*prev)[AI_REC_EVENT_MAX], uint8_t *out)
{
	struct ai_rec_hdr h;
	size_t want;

	if (len - *off < 4)
		return -EBADMSG;
	memcpy(&h, raw + *off, 4); /* type and size are never packed */
	want = ai_rec_event_size(h.type);
	if (h.size < sizeof(h) || h.size % 8 || h.size > AI_REC_EVENT_MAX ||
	    (want && h.size < want))
		return -EBADMSG;
	if (packed && xor_coded(h.type)) {
		uint8_t *pv = prev[h.type];
		uint64_t v;
		uint32_t p32;

		*off += 4;
		memcpy(out, &h, 4);
		if (!get_varint(raw, len, off, 32, &v))
			return -EBADMSG;
		memcpy(&p32, pv + 4, 4);
		p32 ^= (uint32_t)v;
		memcpy(out + 4, &p32, 4);
		for (size_t i = 8; i < h.size; i += 8) {
			if (!get_varint(raw, len, off, 64, &v))
				return -EBADMSG;
			st64(out + i, v ^ ld64(pv + i));
		}
		memcpy(pv, out, h.size);
		if (h.type == AI_REC_POLL && h.size >= sizeof(struct ai_rec_poll))
			poll_decode(out);
		return 0;
	}
	if (h.size > len - *off)
		return -EBADMSG;
	memcpy(out, raw + *off, h.size);
	*off += h.size;
	return 0;
}

/*
 * Validates every event of the block (a first decoding pass), then decodes again and
 * delivers them: nothing of a damaged block reaches the callback, and nothing is
 * allocated beyond one event.
 */
static int parse_events(struct reader *r, const uint8_t *raw, size_t len, uint32_t count,
			bool packed)
{
	uint8_t prev[AI_REC_TYPE_MAX][AI_REC_EVENT_MAX];
	uint64_t ev[AI_REC_EVENT_MAX / 8];
	struct ai_recfile *rf = r->rf;
	const struct ai_rec_hdr *h = (const void *)ev;
	uint32_t n = 0;
	size_t off;
	int err;

	memset(prev, 0, sizeof(prev));
	for (off = 0; off < len; n++) {
		if (n == count || next_event(raw, len, &off, packed, prev, (uint8_t *)ev))
			return -EBADMSG;
	}
	if (n != count)
		return -EBADMSG;
	memset(prev, 0, sizeof(prev));
	for (off = 0; off < len;) {
		next_event(raw, len, &off, packed, prev, (uint8_t *)ev);
		if (!ai_rec_event_size(h->type)) {
			rf->events_by_type[0]++;
			continue;
		}
		rf->events_by_type[h->type]++;
		rf->events++;
		if (r->fn) {
			err = r->fn(r->ctx, h);
			if (err)
				return err > 0 ? -err : err;
		}
	}
	return 0;
}

static int parse_footer(struct reader *r, struct cur *c, uint64_t footer_off)
{
	struct ai_recfile *rf = r->rf;
	struct rf_footer ft;
	uint64_t trailer_off = 0;
	char magic[8];

	if (!cur_get(c, &ft, sizeof(ft)) || c->len - c->off != (size_t)ft.nblocks * 16)
		return -EBADMSG;
	r->footer = true;
	rf->info.end_ns = ft.end_ns;
	rf->info.exit_status = ft.exit_status;
	if (ft.nblocks != rf->blocks) {
		warn(r, "footer lists %u blocks but %llu were read", ft.nblocks,
		     (unsigned long long)rf->blocks);
		return 0;
	}
	if (ft.events != rf->events + rf->events_by_type[0]) {
		warn(r, "footer counts %llu events but %llu were read",
		     (unsigned long long)ft.events,
		     (unsigned long long)(rf->events + rf->events_by_type[0]));
		return 0;
	}
	if (fread(&trailer_off, sizeof(trailer_off), 1, r->f) != 1 ||
	    fread(magic, sizeof(magic), 1, r->f) != 1 || trailer_off != footer_off ||
	    memcmp(magic, AI_RF_TRAILER_MAGIC, sizeof(magic))) {
		warn(r, "missing or damaged trailer after the footer");
		return 0;
	}
	if (rf->lost_total < ft.lost_total)
		rf->lost_total = ft.lost_total;
	rf->complete = !r->damaged;
	return 0;
}

/* Reads the block at `off`; returns 1 to go on, 0 to stop, <0 for a fatal error. */
static int read_block(struct reader *r, uint64_t *off)
{
	struct ai_recfile *rf = r->rf;
	uint64_t remain = r->size - *off;
	uint8_t *stored = NULL, *raw = NULL;
	struct rf_block b;
	uint64_t n = rf->blocks + 1;
	struct cur c;
	int err = 0;

	if (remain < BLOCK_HDR_SIZE) {
		warn(r, "truncated at byte %llu: %llu bytes where block %llu should start",
		     (unsigned long long)*off, (unsigned long long)remain, (unsigned long long)n);
		return 0;
	}
	if (fseeko(r->f, (off_t)*off, SEEK_SET) || fread(&b, sizeof(b), 1, r->f) != 1) {
		warn(r, "cannot read block %llu at byte %llu", (unsigned long long)n,
		     (unsigned long long)*off);
		return 0;
	}
	if (b.magic != AI_RF_BLOCK_MAGIC ||
	    b.hdr_check != (uint32_t)adler32(adler32(0, NULL, 0), (const Bytef *)&b,
					     offsetof(struct rf_block, hdr_check))) {
		warn(r, "damaged block header at byte %llu (block %llu)", (unsigned long long)*off,
		     (unsigned long long)n);
		return 0;
	}
	if (b.stored_len > remain - BLOCK_HDR_SIZE) {
		warn(r, "truncated at byte %llu: block %llu declares %u bytes, %llu remain",
		     (unsigned long long)*off, (unsigned long long)n, b.stored_len,
		     (unsigned long long)(remain - BLOCK_HDR_SIZE));
		return 0;
	}
	if (b.raw_len > AI_RF_MAX_RAW || (!(b.flags & BLOCK_F_ZLIB) && b.stored_len != b.raw_len) ||
	    (b.flags & ~BLOCK_F_ALL)) {
		warn(r, "block %llu at byte %llu declares an impossible size (%u bytes, limit %u)",
		     (unsigned long long)n, (unsigned long long)*off, b.raw_len, AI_RF_MAX_RAW);
		return 0;
	}
	*off += BLOCK_HDR_SIZE + (uint64_t)b.stored_len;
	stored = malloc(b.stored_len ? b.stored_len : 1);
	if (!stored)
		return -ENOMEM;
	if (b.stored_len && fread(stored, b.stored_len, 1, r->f) != 1) {
		warn(r, "cannot read block %llu", (unsigned long long)n);
		free(stored);
		return 0;
	}
	if (b.adler != (uint32_t)adler32(adler32(0, NULL, 0), stored, b.stored_len)) {
		warn(r, "checksum mismatch in %s block %llu at byte %llu; block skipped",
		     block_name(b.type), (unsigned long long)n,
		     (unsigned long long)(*off - BLOCK_HDR_SIZE - b.stored_len));
		rf->blocks++;
		free(stored);
		return 1;
	}
	if (b.flags & BLOCK_F_ZLIB) {
		uLongf dlen = b.raw_len;

		raw = malloc(b.raw_len ? b.raw_len : 1);
		if (!raw) {
			free(stored);
			return -ENOMEM;
		}
		if (uncompress(raw, &dlen, stored, b.stored_len) != Z_OK || dlen != b.raw_len) {
			warn(r, "cannot decompress %s block %llu; block skipped",
			     block_name(b.type), (unsigned long long)n);
			rf->blocks++;
			free(stored);
			free(raw);
			return 1;
		}
		free(stored);
	} else {
		raw = stored;
	}
	c = (struct cur){ .p = raw, .len = b.raw_len };
	rf->blocks++;
	switch (b.type) {
	case AI_RF_BLOCK_PROC:
		err = parse_proc(r, &c, b.count);
		break;
	case AI_RF_BLOCK_OBJECT:
		err = parse_object(r, &c, b.count);
		break;
	case AI_RF_BLOCK_NAMES:
		err = parse_names(r, &c, b.count);
		break;
	case AI_RF_BLOCK_EVENTS:
		err = parse_events(r, raw, b.raw_len, b.count, b.flags & BLOCK_F_PACKED);
		break;
	case AI_RF_BLOCK_LOST:
		err = parse_lost(r, &c, b.count);
		break;
	case AI_RF_BLOCK_FOOTER:
		rf->blocks--; /* the footer does not list itself */
		err = parse_footer(r, &c, *off - BLOCK_HDR_SIZE - b.stored_len);
		free(raw);
		if (err == -EBADMSG) {
			warn(r, "malformed footer");
			return 0;
		}
		return err ? err : 0;
	default:
		break; /* a newer writer's block: skipped */
	}
	free(raw);
	if (err == -EBADMSG) {
		warn(r, "malformed %s block %llu; block skipped", block_name(b.type),
		     (unsigned long long)n);
		return 1;
	}
	return err ? err : 1;
}

static int cmp_name(const void *a, const void *b)
{
	const struct ai_rf_name *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int ai_recfile_fread(FILE *f, ai_rf_event_fn fn, void *ctx, struct ai_recfile **out, char *err,
		     size_t errlen)
{
	struct reader r = { .f = f, .fn = fn, .ctx = ctx };
	struct rf_header h;
	uint64_t off;
	off_t end;
	int ret;

	*out = NULL;
	if (fseeko(f, 0, SEEK_END) || (end = ftello(f)) < 0 || fseeko(f, 0, SEEK_SET)) {
		errf(err, errlen, "not a seekable file");
		return -ESPIPE;
	}
	r.size = (uint64_t)end;
	if (r.size < HEADER_SIZE || fread(&h, sizeof(h), 1, f) != 1 ||
	    memcmp(h.magic, AI_RF_MAGIC, sizeof(h.magic))) {
		errf(err, errlen, "not an async-inspect recording (bad magic)");
		return -EPROTO;
	}
	if (h.bom != AI_RF_BOM) {
		errf(err, errlen, "recording has a foreign byte order");
		return -EPROTO;
	}
	if (h.version < 1 || h.version > AI_RF_VERSION) {
		errf(err, errlen, "unsupported recording version %u (this build reads %u)",
		     h.version, AI_RF_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (h.header_size < HEADER_SIZE || h.header_size > r.size || h.header_size > 4096) {
		errf(err, errlen, "recording header declares %u bytes", h.header_size);
		return -EPROTO;
	}
	r.rf = calloc(1, sizeof(*r.rf));
	if (!r.rf) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r.rf->info = (struct ai_rf_info){
		.version = h.version,
		.flags = h.flags,
		.target_pid = h.target_pid,
		.ncpus = h.ncpus,
		.start_ns = h.start_ns,
		.start_real_ns = h.start_real_ns,
		.exit_status = -1,
	};
	off = h.header_size;
	while (off < r.size && !r.footer) {
		ret = read_block(&r, &off);
		if (ret < 0) {
			if (ret == -ENOMEM)
				errf(err, errlen, "out of memory");
			else
				errf(err, errlen, "stopped reading: %s", strerror(-ret));
			ai_recfile_free(r.rf);
			return ret;
		}
		if (ret == 0)
			break;
	}
	if (!r.footer && !r.rf->warning[0])
		snprintf(r.rf->warning, sizeof(r.rf->warning),
			 "no footer: the recording did not end cleanly (read %llu blocks)",
			 (unsigned long long)r.rf->blocks);
	if (r.rf->nnames)
		qsort(r.rf->names, r.rf->nnames, sizeof(*r.rf->names), cmp_name);
	*out = r.rf;
	return 0;
}

int ai_recfile_read(const char *path, ai_rf_event_fn fn, void *ctx, struct ai_recfile **out,
		    char *err, size_t errlen)
{
	char why[128];
	int ret = 0;
	FILE *f = ai_fopen_input(path, &ret, why, sizeof(why));

	*out = NULL;
	if (!f) {
		errf(err, errlen, "%s", why);
		return ret;
	}
	ret = ai_recfile_fread(f, fn, ctx, out, err, errlen);
	fclose(f);
	return ret;
}

void ai_recfile_free(struct ai_recfile *rf)
{
	if (!rf)
		return;
	for (size_t i = 0; i < rf->nprocs; i++) {
		free(rf->procs[i].comm);
		free(rf->procs[i].exe);
	}
	free(rf->procs);
	for (size_t i = 0; i < rf->nobjects; i++) {
		free(rf->objects[i].path);
		free_descs(rf->objects[i].descs, rf->objects[i].n);
	}
	free(rf->objects);
	for (size_t i = 0; i < rf->nnames; i++)
		free(rf->names[i].name);
	free(rf->names);
	free(rf->lost);
	free(rf);
}

const struct ai_desc *ai_recfile_desc(const struct ai_recfile *rf, uint32_t pid, uint64_t addr)
{
	for (size_t i = 0; i < rf->nobjects; i++) {
		const struct ai_rf_object *o = &rf->objects[i];
		size_t lo = 0, hi = o->n;
		uint64_t a;

		if (o->pid != pid || addr < o->bias)
			continue;
		a = addr - o->bias;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (o->descs[mid].addr == a)
				return &o->descs[mid];
			if (o->descs[mid].addr < a)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

const char *ai_recfile_name(const struct ai_recfile *rf, uint32_t pid, uint64_t addr)
{
	struct ai_rf_name key = { .pid = pid, .addr = addr };
	const struct ai_rf_name *n;

	if (!rf->nnames)
		return NULL;
	n = bsearch(&key, rf->names, rf->nnames, sizeof(key), cmp_name);
	return n ? n->name : NULL;
}

const struct ai_rf_proc *ai_recfile_proc(const struct ai_recfile *rf, uint32_t pid)
{
	for (size_t i = rf->nprocs; i-- > 0;) {
		if (rf->procs[i].pid == pid)
			return &rf->procs[i];
	}
	return NULL;
}
