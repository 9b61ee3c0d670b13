// SPDX-License-Identifier: MIT
/*
 * Debug builds check the task state word and reference counts where they change
 * (ASYNC_ASSERT): a reference dropped twice aborts with the condition and its place
 * instead of freeing the task a second time.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

static void test_refcount_underflow_aborts(void **state)
{
	int pipefd[2], status;
	char buf[256] = "";
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		static struct async_task t; /* no reference left */

		dup2(pipefd[1], 2);
		async__task_release(&t);
		_exit(0); /* not reached in a debug build */
	}
	close(pipefd[1]);
	assert_true(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	assert_non_null(strstr(buf, "libasync: assertion failed: old != 0 (runtime/exec.c:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refcount_underflow_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
