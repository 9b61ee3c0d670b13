// SPDX-License-Identifier: MIT
/*
 * Process helpers on this very process: mappings, load bias, symbols, memory, and the
 * descriptor table and USDT notes the real linker made from ASYNC__DESC and STAP_PROBE.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "async/future.h"
#include "desc.h"
#include "names.h"
#include "proc.h"

volatile unsigned short libasync_unit_probe_semaphore __attribute__((section(".probes")));
int ai_test_marker = 4242;
const char ai_test_string[] = "hello from the test";

static const struct async_desc *a_call_site(void)
{
	ASYNC__DESC(d, ASYNC_DESC_CALL, "render_template");
	return &d;
}

static const struct async_desc *an_async_fn_poll(void)
{
	ASYNC__DESC(d, ASYNC_DESC_FUNCTION, 0);
	return &d;
}

static void fire_probe(int x)
{
	if (libasync_unit_probe_semaphore)
		STAP_PROBE1(libasync, unit_probe, x);
}

static void test_maps_and_memory(void **state)
{
	struct ai_map *maps;
	size_t n, with_path = 0;
	char buf[64], comm[32];
	int v = 0;

	(void)state;
	assert_int_equal(ai_proc_maps(getpid(), &maps, &n), 0);
	assert_true(n > 3);
	for (size_t i = 0; i < n; i++) {
		assert_true(maps[i].start < maps[i].end);
		with_path += maps[i].path != NULL;
	}
	assert_true(with_path > 0);
	ai_proc_maps_free(maps, n);
	ai_proc_maps_free(NULL, 0);
	assert_int_equal(ai_proc_maps(0x3fffffff, &maps, &n), -ESRCH);

	assert_int_equal(ai_proc_read(getpid(), (uintptr_t)&ai_test_marker, &v, sizeof(v)), 0);
	assert_int_equal(v, 4242);
	assert_int_equal(ai_proc_read(getpid(), 8, &v, sizeof(v)), -EFAULT);
	assert_int_equal(ai_proc_read_str(getpid(), (uintptr_t)ai_test_string, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "hello from the test");
	assert_int_equal(ai_proc_read_str(getpid(), (uintptr_t)ai_test_string, buf, 6), 0);
	assert_string_equal(buf, "hello");
	assert_int_equal(ai_proc_comm(getpid(), comm, sizeof(comm)), 0);
	assert_string_equal(comm, "test_tool_proc");
}

static void test_symbol_and_bias(void **state)
{
	char exe[PATH_MAX];
	uint64_t addr = 0, bias = 1;
	ssize_t len;

	(void)state;
	assert_int_equal(ai_proc_symbol(getpid(), "ai_test_marker", &addr), 0);
	assert_true(addr == (uintptr_t)&ai_test_marker);
	assert_int_equal(ai_proc_symbol(getpid(), "no_such_symbol_anywhere_xyz", &addr), -ENOENT);
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	assert_int_equal(ai_proc_load_bias(getpid(), exe, &bias), 0);
	/* a PIE is loaded somewhere above 0; the symbol's link address + bias is where it is */
	{
		struct ai_desc_table *t;
		const struct async_desc *d = a_call_site();

		assert_int_equal(ai_desc_table_load(exe, 0, &t), 0);
		assert_non_null(ai_desc_table_find(t, (uintptr_t)d - bias));
		ai_desc_table_free(t);
	}
}

static void test_proc_descs(void **state)
{
	const struct async_desc *call = a_call_site(), *fn = an_async_fn_poll();
	struct ai_proc_descs *p;
	const struct ai_desc *d;
	char loc[256];

	(void)state;
	assert_int_equal(ai_proc_descs_load(getpid(), &p), 0);
	d = ai_proc_descs_find(p, (uintptr_t)call);
	assert_non_null(d);
	assert_int_equal(d->kind, ASYNC_DESC_CALL);
	assert_string_equal(d->function, "a_call_site");
	assert_string_equal(d->callee, "render_template");
	assert_int_equal(d->line, call->line);
	assert_string_equal(d->file, call->file);
	assert_non_null(strstr(ai_desc_location(d, loc, sizeof(loc)), "test_tool_proc.c:"));
	d = ai_proc_descs_find(p, (uintptr_t)fn);
	assert_non_null(d);
	assert_string_equal(d->function, "an_async_fn"); /* "_poll" stripped */
	assert_null(d->callee);
	assert_null(ai_proc_descs_find(p, (uintptr_t)call + 8));
	assert_null(ai_proc_descs_find(p, 0));
	ai_proc_descs_free(p);
	ai_proc_descs_free(NULL);
}

static void test_probes(void **state)
{
	char path[PATH_MAX], exe[PATH_MAX];
	struct ai_usdt_probe *probes;
	size_t n, found = 0;
	uint64_t bias;
	ssize_t len;

	(void)state;
	fire_probe(1);
	assert_int_equal(ai_proc_find_libasync(getpid(), path, sizeof(path)), 0);
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[len] = '\0';
	assert_non_null(strstr(path, exe));
	assert_int_equal(strncmp(path, "/proc/", 6), 0);
	assert_int_equal(ai_proc_load_bias(getpid(), path, &bias), 0);
	assert_int_equal(ai_usdt_probes_load(exe, &probes, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(probes[i].name, "unit_probe"))
			continue;
		found++;
		assert_string_equal(probes[i].provider, "libasync");
		assert_true(probes[i].semaphore + bias ==
			    (uintptr_t)&libasync_unit_probe_semaphore);
		assert_true(strlen(probes[i].args) > 0);
	}
	assert_int_equal(found, 1);
	ai_usdt_probes_free(probes, n);

	pid_t *pids;
	size_t npids, me = 0;

	assert_int_equal(ai_proc_scan_libasync(&pids, &npids), 0);
	for (size_t i = 0; i < npids; i++)
		me += pids[i] == getpid();
	assert_int_equal(me, 1);
	free(pids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_and_memory),
		cmocka_unit_test(test_symbol_and_bias),
		cmocka_unit_test(test_proc_descs),
		cmocka_unit_test(test_probes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
