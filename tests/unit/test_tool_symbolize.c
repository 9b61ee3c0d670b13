// SPDX-License-Identifier: MIT
/* The ELF symbolizer, on this very process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize.h"

__attribute__((noinline)) int symbolize_marker_function(int x)
{
	return x * 3 + 1;
}

static void test_own_function(void **state)
{
	struct ai_symbolizer *s;
	char buf[256];
	uintptr_t a = (uintptr_t)symbolize_marker_function;

	(void)state;
	assert_int_equal(ai_symbolizer_new(getpid(), &s), 0);
	assert_int_equal(ai_symbolize(s, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "symbolize_marker_function");
	/* An address inside the function, not only its start. */
	assert_int_equal(ai_symbolize(s, a + 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "symbolize_marker_function");
	ai_symbolizer_free(s);
	ai_symbolizer_free(NULL);
}

static void test_libc_function(void **state)
{
	struct ai_symbolizer *s;
	char buf[256];

	(void)state;
	assert_int_equal(ai_symbolizer_new(getpid(), &s), 0);
	assert_int_equal(ai_symbolize(s, (uintptr_t)&strtoull, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "strtoul"));
	ai_symbolizer_free(s);
}

static void test_unknown(void **state)
{
	struct ai_symbolizer *s;
	char buf[256];

	(void)state;
	assert_int_equal(ai_symbolizer_new(getpid(), &s), 0);
	assert_int_equal(ai_symbolize(s, 0x1000, buf, sizeof(buf)), -EFAULT);
	assert_string_equal(buf, "[unknown] (0x1000)");
	ai_symbolizer_free(s);
	assert_int_equal(ai_symbolizer_new(999999999, &s), -ESRCH);
	assert_null(s);
}

static void test_elf_file(void **state)
{
	struct ai_elf_syms *e;
	char path[] = "/tmp/test_sym_XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(ai_elf_syms_load("/proc/self/exe", &e), 0);
	assert_true(ai_elf_syms_count(e) > 10);
	ai_elf_syms_free(e);
	assert_int_equal(ai_elf_syms_load("/nonexistent/file", &e), -ENOENT);
	assert_null(e);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an elf file at all\n", 23), 23);
	close(fd);
	assert_int_equal(ai_elf_syms_load(path, &e), -ENOEXEC);
	unlink(path);
	ai_elf_syms_free(NULL);
}

/* The vDSO has no file; its image is parsed from memory. */
static void test_vdso_image(void **state)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	unsigned long long start = 0, end = 0;
	struct ai_elf_syms *e;
	char line[512];
	FILE *f;

	(void)state;
	if (!base)
		skip();
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[vdso]"))
			sscanf(line, "%llx-%llx", &start, &end);
	}
	fclose(f);
	assert_int_equal(start, base);
	assert_int_equal(ai_elf_syms_load_mem((const void *)base, end - start, &e), 0);
	assert_true(ai_elf_syms_count(e) > 0);
	ai_elf_syms_free(e);
	assert_int_equal(ai_elf_syms_load_mem("nope", 4, &e), -ENOEXEC);
	assert_null(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function), cmocka_unit_test(test_libc_function),
		cmocka_unit_test(test_unknown),	     cmocka_unit_test(test_elf_file),
		cmocka_unit_test(test_vdso_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
