// SPDX-License-Identifier: MIT
// fuzz-sources: user/recfile.c user/outfile.c
/*
 * libFuzzer target for the recording reader (user/recfile.c): any input must give an
 * error or a (possibly partial) result, never a crash, a leak or an unbounded
 * allocation. Seeds in tests/fuzz/corpus/fuzz_recfile/ are small real recordings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "recfile.h"

/*
 * Random bytes almost never carry valid checksums, which would keep the fuzzer out of
 * the block parsers: every input is also read once more with its block checksums fixed.
 */
static void fix_checksums(uint8_t *p, size_t size)
{
	size_t off = 64;

	while (off + 32 <= size) {
		uint32_t stored, sum;

		memcpy(&stored, p + off + 8, 4);
		if (stored > size - off - 32)
			stored = (uint32_t)(size - off - 32);
		sum = (uint32_t)adler32(adler32(0, NULL, 0), p + off + 32, stored);
		memcpy(p + off + 20, &sum, 4);
		sum = (uint32_t)adler32(adler32(0, NULL, 0), p + off, 28);
		memcpy(p + off + 28, &sum, 4);
		off += 32 + (size_t)stored;
	}
}

static int on_event(void *ctx, const struct ai_rec_hdr *ev)
{
	uint64_t *sum = ctx;

	/* touch every byte the reader says is there */
	for (size_t i = 0; i < ev->size; i++)
		*sum += ((const uint8_t *)ev)[i];
	return 0;
}

static void read_one(const uint8_t *data, size_t size)
{
	struct ai_recfile *rf = NULL;
	uint64_t sum = 0;
	char err[256];
	FILE *f;

	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return;
	if (!ai_recfile_fread(f, on_event, &sum, &rf, err, sizeof(err))) {
		for (size_t i = 0; i < rf->nobjects; i++) {
			const struct ai_rf_object *o = &rf->objects[i];

			for (size_t k = 0; k < o->n; k++)
				ai_recfile_desc(rf, o->pid, o->descs[k].addr + o->bias);
		}
		for (size_t i = 0; i < rf->nnames; i++)
			ai_recfile_name(rf, rf->names[i].pid, rf->names[i].addr);
		ai_recfile_free(rf);
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (!size)
		return 0;
	read_one(data, size);
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_checksums(copy, size);
	read_one(copy, size);
	free(copy);
	return 0;
}
