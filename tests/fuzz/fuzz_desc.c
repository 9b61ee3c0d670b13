// SPDX-License-Identifier: MIT
// fuzz-sources: user/desc.c user/proc.c user/common.c user/outfile.c user/cli.c
/*
 * libFuzzer target for the descriptor-section reader (user/desc.c): any input must give
 * an error or a table whose every string is readable, never a crash, a leak or an
 * unbounded allocation. The USDT note parser runs on the same input. Seeds in
 * tests/fuzz/corpus/fuzz_desc/ are small real ELF objects (tests/fuzz/gen_desc_seeds.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ai_desc_table *t;
	struct ai_usdt_probe *p;
	size_t n, sum = 0;
	char loc[128];
	/* libelf wants a mutable image; the fuzzer's buffer is const */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int allow_empty = 0; allow_empty < 2; allow_empty++) {
		if (ai_desc_table_load_mem(copy, size, "fuzz", allow_empty, &t))
			continue;
		for (size_t i = 0; i < t->n; i++) {
			const struct ai_desc *d = &t->descs[i];

			sum += strlen(d->function) + strlen(d->file) +
			       (d->callee ? strlen(d->callee) : 0);
			ai_desc_location(d, loc, sizeof(loc));
			if (ai_desc_table_find(t, d->addr) != d)
				abort(); /* addresses are unique and sorted */
		}
		ai_desc_table_free(t);
	}
	if (!ai_usdt_probes_load_mem(copy, size, &p, &n)) {
		for (size_t i = 0; i < n; i++)
			sum += strlen(p[i].provider) + strlen(p[i].name) + strlen(p[i].args);
		ai_usdt_probes_free(p, n);
	}
	free(copy);
	return sum == (size_t)-1;
}
