// SPDX-License-Identifier: MIT
/* Shared tool helpers: number parsing, duration formatting, errors, -- CMD children. */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_true(ai_parse_u64("0", &v));
	assert_int_equal(v, 0);
	assert_true(ai_parse_u64("1234", &v));
	assert_int_equal(v, 1234);
	assert_true(ai_parse_u64("18446744073709551615", &v));
	assert_true(v == UINT64_MAX);
	assert_true(ai_parse_u64("10k", &v));
	assert_int_equal(v, 10000);
	assert_true(ai_parse_u64("3K", &v));
	assert_int_equal(v, 3000);
	assert_true(ai_parse_u64("2M", &v));
	assert_int_equal(v, 2000000);
	assert_true(ai_parse_u64("1G", &v));
	assert_int_equal(v, 1000000000);
	v = 99;
	assert_false(ai_parse_u64("18446744073709551616", &v));
	assert_false(ai_parse_u64("18446744073709552G", &v));
	assert_false(ai_parse_u64("", &v));
	assert_false(ai_parse_u64(NULL, &v));
	assert_false(ai_parse_u64("-1", &v));
	assert_false(ai_parse_u64("+1", &v));
	assert_false(ai_parse_u64(" 1", &v));
	assert_false(ai_parse_u64("1 ", &v));
	assert_false(ai_parse_u64("12x", &v));
	assert_false(ai_parse_u64("1kk", &v));
	assert_false(ai_parse_u64("0x10", &v));
	assert_int_equal(v, 99); /* untouched on error */
}

static void test_fmt_duration(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(ai_fmt_duration(0, b, sizeof(b)), "0ns");
	assert_string_equal(ai_fmt_duration(42, b, sizeof(b)), "42ns");
	assert_string_equal(ai_fmt_duration(999, b, sizeof(b)), "999ns");
	assert_string_equal(ai_fmt_duration(1000, b, sizeof(b)), "1us");
	assert_string_equal(ai_fmt_duration(3000, b, sizeof(b)), "3us");
	assert_string_equal(ai_fmt_duration(1500, b, sizeof(b)), "1.5us");
	assert_string_equal(ai_fmt_duration(250000000, b, sizeof(b)), "250ms");
	assert_string_equal(ai_fmt_duration(1500000000, b, sizeof(b)), "1.5s");
	assert_string_equal(ai_fmt_duration(999960, b, sizeof(b)), "1ms");
	assert_string_equal(ai_fmt_duration(3600000000000ull, b, sizeof(b)), "3600s");
	/* a short buffer truncates, never overflows */
	assert_string_equal(ai_fmt_duration(1500000000, b, 3), "1.");
}

static char *capture_stderr(void (*fn)(void))
{
	char *out = NULL;
	size_t len = 0;
	FILE *tmp = tmpfile();
	int saved = dup(2);

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	assert_true(getdelim(&out, &len, '\0', tmp) >= 0);
	fclose(tmp);
	return out;
}

static void emit_err(void)
{
	assert_int_equal(ai_err("open", "/x/y", -ENOENT), -ENOENT);
}

static void emit_errorf(void)
{
	ai_errorf("bad %s %d", "thing", 3);
	ai_warnf("careful");
}

static void emit_bad_pid(void)
{
	assert_int_equal(ai_check_pid(0x3fffffff), -ESRCH);
	assert_int_equal(ai_check_pid(-5), -EINVAL);
	assert_int_equal(ai_check_pid(getpid()), 0);
}

static void test_errors(void **state)
{
	char *s;

	(void)state;
	s = capture_stderr(emit_err);
	assert_string_equal(s, "async-inspect: failed to open '/x/y': No such file or directory\n");
	free(s);
	s = capture_stderr(emit_errorf);
	assert_string_equal(s, "async-inspect: bad thing 3\nasync-inspect: warning: careful\n");
	free(s);
	s = capture_stderr(emit_bad_pid);
	assert_string_equal(s,
			    "async-inspect: failed to find process '1073741823': No such process\n"
			    "async-inspect: failed to find process '-5': Invalid argument\n");
	free(s);
}

/* Drops the effective capabilities in `drop` (bit numbers) of this process. */
static void drop_caps(const int *drop, int n)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	assert_int_equal(syscall(SYS_capget, &hdr, data), 0);
	for (int i = 0; i < n; i++)
		data[drop[i] / 32].effective &= ~(1u << (drop[i] % 32));
	assert_int_equal(syscall(SYS_capset, &hdr, data), 0);
}

static const int *drop_set;
static int drop_n;

static void emit_privileges(void)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		drop_caps(drop_set, drop_n);
		_exit(ai_check_bpf_privileges() == -EPERM ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_privileges(void **state)
{
	static const int none[] = { 21 /* SYS_ADMIN */, 38 /* PERFMON */, 39 /* BPF */ };
	static const int no_perfmon[] = { 21, 38 };
	char *s;

	(void)state;
	if (geteuid() != 0) {
		skip(); /* the unprivileged path is what runs here; root checks the rest */
		return;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		assert_int_equal(ai_check_bpf_privileges(), 0);
	drop_set = none;
	drop_n = 3;
	s = capture_stderr(emit_privileges);
	assert_string_equal(s, "async-inspect: failed to load BPF programs: need root or "
			       "CAP_BPF+CAP_PERFMON (try sudo)\n");
	free(s);
	drop_set = no_perfmon;
	drop_n = 2;
	s = capture_stderr(emit_privileges);
	assert_string_equal(s, "async-inspect: failed to load BPF programs: need root or "
			       "CAP_BPF+CAP_PERFMON (CAP_PERFMON is missing; try sudo)\n");
	free(s);
}

static int wait_exit(struct ai_child *c)
{
	int status = -1;

	for (int i = 0; i < 5000; i++) {
		int r = ai_child_reap(c, &status);

		assert_true(r >= 0);
		if (r == 1)
			return status;
		usleep(1000);
	}
	fail_msg("child did not exit");
	return -1;
}

static void test_child(void **state)
{
	char *ok[] = { "sh", "-c", "exit 3", NULL };
	char *missing[] = { "/nonexistent/async-inspect-cmd", NULL };
	char *sig[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct ai_child c;
	int status;

	(void)state;
	/* the child waits for ai_child_start(): nothing runs before */
	assert_int_equal(ai_child_spawn(ok, &c), 0);
	assert_true(c.pid > 0);
	usleep(20000);
	assert_int_equal(ai_child_reap(&c, &status), 0);
	assert_int_equal(ai_child_start(&c), 0);
	assert_int_equal(wait_exit(&c), 3);

	assert_int_equal(ai_child_spawn(missing, &c), 0);
	assert_int_equal(ai_child_start(&c), 0);
	assert_int_equal(wait_exit(&c), 127);

	assert_int_equal(ai_child_spawn(sig, &c), 0);
	assert_int_equal(ai_child_start(&c), 0);
	assert_int_equal(wait_exit(&c), 128 + 15);

	/* the tracer gave up before starting it: it exits without running the command */
	assert_int_equal(ai_child_spawn(ok, &c), 0);
	close(c.go_fd);
	c.go_fd = -1;
	assert_int_equal(wait_exit(&c), 127);

	assert_int_equal(ai_child_spawn((char *[]){ NULL }, &c), -EINVAL);
}

static void test_now(void **state)
{
	uint64_t a, b;

	(void)state;
	a = ai_now_ns();
	usleep(2000);
	b = ai_now_ns();
	assert_true(b - a >= 2000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64), cmocka_unit_test(test_fmt_duration),
		cmocka_unit_test(test_errors),	  cmocka_unit_test(test_child),
		cmocka_unit_test(test_now),	  cmocka_unit_test(test_privileges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
