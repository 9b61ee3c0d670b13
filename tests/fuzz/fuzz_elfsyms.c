// SPDX-License-Identifier: MIT
// fuzz-sources: user/symbolize.c user/proc.c user/common.c user/desc.c user/outfile.c
// fuzz-sources: user/cli.c
/*
 * libFuzzer target for the symbolizer's ELF reader (user/symbolize.c): the objects a
 * profiled process maps (and the vDSO image read from its memory) are untrusted input.
 * Any input must give an error or a table whose lookups return readable names, never a
 * crash, a leak or an unbounded allocation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ai_elf_syms *e;
	uint8_t *copy = malloc(size ? size : 1); /* libelf wants a mutable image */
	size_t sum = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (!ai_elf_syms_load_mem(copy, size, &e)) {
		for (uint64_t off = 0; off < 0x10000; off += 0x400) {
			uint64_t vaddr, delta;
			const char *name;

			if (ai_elf_syms_off_to_vaddr(e, off, &vaddr))
				vaddr = off;
			name = ai_elf_syms_find(e, vaddr, &delta);
			if (name)
				sum += strlen(name) + delta;
		}
		sum += ai_elf_syms_count(e);
		ai_elf_syms_free(e);
	}
	free(copy);
	return sum == 1 ? 1 : 0; /* keeps `sum` alive; libFuzzer ignores the value */
}
