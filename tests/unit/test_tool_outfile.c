// SPDX-License-Identifier: MIT
/*
 * Output files: a new file renamed into place, never through a symlink, never written
 * into an existing file; devices and FIFOs in place; nothing left behind on failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "outfile.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/ai-outfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static size_t count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

static void test_new_file(void **state)
{
	struct ai_outfile o;
	char path[128], buf[64];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/new.rec", dir);
	assert_int_equal(ai_out_open(&o, path, AI_OUT_PRIVATE), 0);
	fputs("hello", o.f);
	/* not there until finished */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ai_out_finish(&o, true), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "hello");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(), 1);
	unlink(path);
}

static void test_replaces_never_writes_into(void **state)
{
	char path[128], other[128], buf[64];
	struct ai_outfile o;
	struct stat before, after;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/theirs", dir);
	snprintf(other, sizeof(other), "%s/theirs.link", dir);
	f = fopen(path, "w");
	fputs("their data", f);
	fclose(f);
	/* a second name for their file: it must keep their data */
	assert_int_equal(link(path, other), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(ai_out_open(&o, path, AI_OUT_PUBLIC), 0);
	fputs("ours", o.f);
	assert_int_equal(ai_out_finish(&o, true), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "ours");
	slurp(other, buf, sizeof(buf));
	assert_string_equal(buf, "their data");
	unlink(path);
	unlink(other);
}

static void test_symlink_refused(void **state)
{
	char path[128], victim[128], buf[64];
	struct ai_outfile o;
	FILE *f;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/out.svg", dir);
	f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(ai_out_open(&o, path, AI_OUT_PUBLIC), -ELOOP);
	assert_int_equal(ai_out_check(path), -ELOOP);
	slurp(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious");
	/* a dangling link is refused too (it would create the file it points to) */
	unlink(path);
	snprintf(victim, sizeof(victim), "%s/created", dir);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(ai_out_open(&o, path, AI_OUT_PUBLIC), -ELOOP);
	assert_int_equal(access(victim, F_OK), -1);
	assert_int_equal(count_entries(), 2);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	unlink(path);
	unlink(victim);
}

static void test_discard_and_errors(void **state)
{
	struct ai_outfile o;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/gone", dir);
	assert_int_equal(ai_out_open(&o, path, AI_OUT_PUBLIC), 0);
	fputs("x", o.f);
	assert_int_equal(ai_out_finish(&o, false), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ai_out_check(path), 0);
	assert_int_equal(count_entries(), 0);
	assert_int_equal(ai_out_open(&o, dir, AI_OUT_PUBLIC), -EISDIR);
	assert_int_equal(ai_out_open(&o, "/nonexistent-dir/x", AI_OUT_PUBLIC), -ENOENT);
	assert_int_equal(ai_out_open(&o, "", AI_OUT_PUBLIC), -ENOENT);
	/* devices in place: /dev/null takes it, /dev/full reports the write error */
	assert_int_equal(ai_out_open(&o, "/dev/null", AI_OUT_PUBLIC), 0);
	fputs("x", o.f);
	assert_int_equal(ai_out_finish(&o, true), 0);
	assert_int_equal(ai_out_open(&o, "/dev/full", AI_OUT_PUBLIC), 0);
	fputs("x", o.f);
	assert_int_equal(ai_out_finish(&o, true), -ENOSPC);
	assert_int_equal(count_entries(), 0);
}

static void test_stream(void **state)
{
	char path[128], other[128], victim[128], buf[64];
	struct ai_outfile o;
	struct stat before, after;
	FILE *f;

	(void)state;
	/* a new file at the path itself, readable while written */
	snprintf(path, sizeof(path), "%s/s.rec", dir);
	assert_int_equal(ai_out_open_stream(&o, path, AI_OUT_PRIVATE), 0);
	fputs("part", o.f);
	fflush(o.f);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "part");
	assert_int_equal(ai_out_finish(&o, true), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_mode & 0777, 0600);
	/* someone else's file there: replaced by a new one, theirs keeps its data */
	snprintf(other, sizeof(other), "%s/s.link", dir);
	assert_int_equal(link(path, other), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(ai_out_open_stream(&o, path, AI_OUT_PRIVATE), 0);
	fputs("new", o.f);
	assert_int_equal(ai_out_finish(&o, true), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	slurp(other, buf, sizeof(buf));
	assert_string_equal(buf, "part");
	/* a symlink: refused, its target untouched */
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	unlink(path);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(ai_out_open_stream(&o, path, AI_OUT_PRIVATE), -ELOOP);
	slurp(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious");
	unlink(path);
	unlink(other);
	unlink(victim);
	assert_int_equal(count_entries(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_file),
		cmocka_unit_test(test_replaces_never_writes_into),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_discard_and_errors),
		cmocka_unit_test(test_stream),
	};

	umask(022);
	return cmocka_run_group_tests(tests, setup, teardown);
}
