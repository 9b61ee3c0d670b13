/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "common.h"
#include "foldedwait.h"

void ai_folded_wait_line(FILE *f, int32_t pid, const uint64_t *fn, uint32_t depth, uint64_t wait_ns,
			 ai_fw_name_fn name, void *ctx)
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

int ai_folded_wait_write(const char *path, const struct ai_chains *c, int32_t pid,
			 ai_fw_name_fn name, void *ctx)
{
	FILE *f;
	int err = 0;

	f = fopen(path, "we");
	if (!f)
		return ai_err("open", path, -errno);
	for (size_t i = 0; i < c->nchains; i++) {
		const struct ai_chain *ch = &c->chains[i];

		if (pid >= 0 && ch->pid != pid)
			continue;
		ai_folded_wait_line(f, ch->pid, (const uint64_t *)ch->v.fn,
				    ch->v.depth < ASYNC_RING_DEPTH ? ch->v.depth : ASYNC_RING_DEPTH,
				    ch->v.wait_ns, name, ctx);
	}
	if (ferror(f))
		err = ai_err("write", path, -EIO);
	if (fclose(f) && !err)
		err = ai_err("write", path, -errno);
	return err;
}
