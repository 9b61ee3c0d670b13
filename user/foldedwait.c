/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/types.h>

#include "common.h"
#include "foldedwait.h"
#include "../bpf/trace.h"

void ai_folded_wait_line(FILE *f, int32_t pid, const uint64_t *fn, uint32_t depth,
			 uint64_t wait_ns, ai_fw_name_fn name, void *ctx)
{
	char buf[256];
	int n = 0;

	if (!wait_ns)
		return;
	for (uint32_t i = 0; i < depth; i++) {
		if (!fn[i])
			continue;
		/* folded stacks separate frames with ';' and end with ' COUNT' */
		const char *s = name(ctx, pid, fn[i], buf, sizeof(buf));

		fputs(n++ ? ";" : "", f);
		for (; *s; s++)
			fputc(*s == ';' || *s == ' ' ? '_' : *s, f);
	}
	if (n)
		fprintf(f, " %" PRIu64 "\n", wait_ns);
}

int ai_folded_wait_write_map(const char *path, int map_fd, int ncpus, int32_t pid,
			     ai_fw_name_fn name, void *ctx)
{
	struct trace_stack_key key, next;
	struct trace_stack *vals;
	bool started = false;
	FILE *f;
	int err = 0;

	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return ai_err("allocate", "buffers", -ENOMEM);
	f = fopen(path, "we");
	if (!f) {
		err = ai_err("open", path, -errno);
		goto cleanup;
	}
	while (!bpf_map_get_next_key(map_fd, started ? &key : NULL, &next)) {
		uint64_t ns = 0;
		uint64_t fn[ASYNC_RING_DEPTH];

		key = next;
		started = true;
		if ((pid >= 0 && (int32_t)key.pid != pid) || bpf_map_lookup_elem(map_fd, &key, vals))
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++)
			ns += vals[cpu].wait_ns;
		memcpy(fn, key.fn, sizeof(fn));
		ai_folded_wait_line(f, (int32_t)key.pid, fn,
				    key.depth < ASYNC_RING_DEPTH ? key.depth : ASYNC_RING_DEPTH, ns,
				    name, ctx);
	}
	if (ferror(f))
		err = ai_err("write", path, -EIO);
	if (fclose(f) && !err)
		err = ai_err("write", path, -errno);
cleanup:
	free(vals);
	return err;
}
