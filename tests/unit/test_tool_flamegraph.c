// SPDX-License-Identifier: MIT
/* The flame-graph writer: folded parsing, merging by prefix, the SVG's frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flamegraph.h"

static char *svg_of(struct ai_flame *f, const char *title)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(ai_flame_write_svg(f, m, title), 0);
	fclose(m);
	return buf;
}

static void test_folded_merges_prefixes(void **state)
{
	struct ai_flame *f;
	char *svg;

	(void)state;
	assert_int_equal(ai_flame_new(&f), 0);
	assert_int_equal(ai_flame_add_folded(f, "main;work;crunch 7\n"), 0);
	assert_int_equal(ai_flame_add_folded(f, "main;work 3"), 0);
	assert_int_equal(ai_flame_add_folded(f, "main;idle 5"), 0);
	assert_int_equal(ai_flame_add_folded(f, "other 1"), 0);
	assert_int_equal(ai_flame_total(f), 16);
	svg = svg_of(f, "t");
	/* main holds 15 samples at depth 0, work 10 at depth 1 starting at 0, idle after it. */
	assert_non_null(strstr(svg, "data-name=\"main\" data-depth=\"0\" data-x=\"0\" "
				    "data-count=\"15\""));
	assert_non_null(strstr(svg, "data-name=\"work\" data-depth=\"1\" data-x=\"0\" "
				    "data-count=\"10\""));
	assert_non_null(strstr(svg, "data-name=\"crunch\" data-depth=\"2\" data-x=\"0\" "
				    "data-count=\"7\""));
	assert_non_null(strstr(svg, "data-name=\"idle\" data-depth=\"1\" data-x=\"10\" "
				    "data-count=\"5\""));
	assert_non_null(strstr(svg, "data-name=\"other\" data-depth=\"0\" data-x=\"15\" "
				    "data-count=\"1\""));
	assert_non_null(strstr(svg, "data-total=\"16\""));
	assert_non_null(strstr(svg, "<title>main (15 samples, 93.75%)</title>"));
	free(svg);
	ai_flame_free(f);
}

static void test_folded_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",	  "main", "main;work", "main 12x", " 5",
		"a;;b 3", ";a 3", "a; 3",      "a -3",	   "a 99999999999999999999999"
	};
	struct ai_flame *f;

	(void)state;
	assert_int_equal(ai_flame_new(&f), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ai_flame_add_folded(f, bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(ai_flame_total(f), 0);
	/* Frames may contain spaces; the count is after the last one. */
	assert_int_equal(ai_flame_add_folded(f, "[unknown] (libc.so.6+0x10);x y 4"), 0);
	assert_int_equal(ai_flame_total(f), 4);
	ai_flame_free(f);
}

static void test_add_and_escape(void **state)
{
	const char *a[] = { "task<T>", "fetch_posts@ex.c:41", "a&b\"'" };
	struct ai_flame *f;
	char *svg;

	(void)state;
	assert_int_equal(ai_flame_new(&f), 0);
	assert_int_equal(ai_flame_add(f, a, 3, 2), 0);
	assert_int_equal(ai_flame_add(f, a, 0, 2), -EINVAL);
	assert_int_equal(ai_flame_total(f), 2);
	svg = svg_of(f, "title <&>");
	assert_non_null(strstr(svg, "data-name=\"task&lt;T&gt;\""));
	assert_non_null(strstr(svg, "data-name=\"a&amp;b&quot;&apos;\" data-depth=\"2\""));
	assert_non_null(strstr(svg, "title &lt;&amp;&gt;"));
	assert_null(strstr(svg, "task<T>"));
	/* Exactly three frames, one per depth, each with the stack's count. */
	assert_non_null(strstr(svg, "data-name=\"fetch_posts@ex.c:41\" data-depth=\"1\" "
				    "data-x=\"0\" data-count=\"2\""));
	assert_null(strstr(svg, "data-count=\"0\""));
	{
		size_t frames = 0;

		for (const char *p = svg; (p = strstr(p, "<g class=\"f\"")); p++)
			frames++;
		assert_int_equal(frames, 3);
	}
	/* Self-contained: a script, no external references. */
	assert_non_null(strstr(svg, "<script type=\"text/ecmascript\"><![CDATA["));
	assert_null(strstr(svg, "href="));
	free(svg);
	ai_flame_free(f);
}

static void test_empty_graph(void **state)
{
	struct ai_flame *f;
	char *svg;

	(void)state;
	assert_int_equal(ai_flame_new(&f), 0);
	svg = svg_of(f, NULL);
	assert_non_null(strstr(svg, "no samples"));
	assert_null(strstr(svg, "class=\"f\""));
	free(svg);
	ai_flame_free(f);
	ai_flame_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_merges_prefixes),
		cmocka_unit_test(test_folded_rejects_malformed),
		cmocka_unit_test(test_add_and_escape),
		cmocka_unit_test(test_empty_graph),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
