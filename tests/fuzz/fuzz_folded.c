// SPDX-License-Identifier: MIT
// fuzz-sources: user/flamegraph.c
/*
 * libFuzzer target for the folded-stack parser and the SVG writer (user/flamegraph.c):
 * each input line is a folded stack or garbage; whatever was accepted must render.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ai_flame *f;
	char *text = malloc(size + 1), *line, *save = NULL;
	FILE *out;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ai_flame_new(&f)) {
		free(text);
		return 0;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ai_flame_add_folded(f, line);
	out = fopen("/dev/null", "w");
	if (out) {
		ai_flame_write_svg(f, out, "fuzz");
		fclose(out);
	}
	ai_flame_free(f);
	free(text);
	return 0;
}
