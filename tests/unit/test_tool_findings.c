/* SPDX-License-Identifier: MIT */
/*
 * diagnose's findings (user/findings.c) on synthetic snapshot series: each kind is found
 * where the evidence is certain and not where a healthy program would show the same
 * picture (a task that moved, a waker still alive, a consumer idle on an empty channel,
 * a population that completes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "findings.h"

#define MS   1000000ull
#define FN_A 0xa000
#define AT_A 0xa010
#define FN_B 0xb000
#define AT_B 0xb010

struct spec {
	uint64_t id;
	uint32_t state;
	uint64_t since;
	uint32_t kind;
	uint64_t wait_for, peer;
	uint32_t wakers;
	uint64_t fn, at;
};

static struct ai_snap_task mk(const struct spec *s)
{
	struct ai_snap_task t;

	memset(&t, 0, sizeof(t));
	t.abi.magic = ASYNC_TASK_MAGIC;
	t.abi.id = s->id;
	t.abi.state = s->state;
	t.abi.state_since_ns = s->since;
	t.abi.spawn_ns = s->since;
	t.abi.polls = 1;
	t.abi.wait_kind = s->kind;
	t.abi.wakers = s->wakers;
	t.wait_for = s->wait_for;
	t.chan_peer = s->peer;
	t.abi.fn = s->fn ? s->fn : FN_A;
	t.chain[0].fn = t.abi.fn;
	t.chain[0].at = s->at ? s->at : AT_A;
	t.chain_len = 1;
	return t;
}

/* A snapshot at `taken` of the tasks in specs (ids ascending). */
static struct ai_snapshot *snap(uint64_t taken, const struct spec *specs, size_t n)
{
	struct ai_snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->tasks = calloc(n ? n : 1, sizeof(*s->tasks));
	assert_non_null(s->tasks);
	for (size_t i = 0; i < n; i++)
		s->tasks[i] = mk(&specs[i]);
	s->ntasks = n;
	s->taken_ns = taken;
	s->consistent = true;
	return s;
}

static void run(struct ai_snapshot **s, size_t n, struct ai_findings *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(ai_findings_from_snapshots((const struct ai_snapshot *const *)s, n, f), 0);
	for (size_t i = 0; i < n; i++)
		ai_snapshot_free(s[i]);
}

#define IDLE ASYNC_TASK_IDLE

static void test_deadlock_through_mutexes_and_channels(void **state)
{
	/* 1 and 2 wait for each other's mutex; 3 sends to a full channel read by 4, which
	 * awaits 3's JoinHandle; 5 waits on a mutex held by 1 (a tail, not in the cycle) */
	const struct spec a[] = {
		{ 1, IDLE, 100 * MS, ASYNC_WAIT_MUTEX, 2, 0, 1 },
		{ 2, IDLE, 100 * MS, ASYNC_WAIT_MUTEX, 1, 0, 1 },
		{ 3, IDLE, 120 * MS, ASYNC_WAIT_CHAN_SEND, 0, 4, 1, FN_B, AT_B },
		{ 4, IDLE, 120 * MS, ASYNC_WAIT_JOIN, 3, 0, 1, FN_B, AT_B },
		{ 5, IDLE, 130 * MS, ASYNC_WAIT_MUTEX, 1, 0, 1 },
	};
	struct ai_snapshot *s[2] = { snap(1000 * MS, a, 5), snap(2000 * MS, a, 5) };
	struct ai_findings f;

	(void)state;
	run(s, 2, &f);
	/* two cycles; 5's chain runs into the first: that is the deadlock, not a stall */
	assert_int_equal(f.n, 2);
	assert_int_equal(f.v[0].kind, AI_FINDING_DEADLOCK);
	assert_int_equal(f.v[1].kind, AI_FINDING_DEADLOCK);
	assert_int_equal(f.v[0].count, 2);
	assert_int_equal(f.v[0].ntask_ids, 2);
	assert_int_equal(f.v[0].stuck_ns, 1900 * MS);
	assert_int_equal(f.v[0].task_ids[0] + f.v[0].task_ids[1], 1 + 2);
	assert_int_equal(f.v[1].task_ids[0] + f.v[1].task_ids[1], 3 + 4);
	assert_int_equal(f.v[1].fn, FN_B);
	ai_findings_free(&f);
}

static void test_deadlock_needs_an_unmoved_cycle(void **state)
{
	const struct spec a[] = {
		{ 1, IDLE, 100 * MS, ASYNC_WAIT_MUTEX, 2, 0, 1 },
		{ 2, IDLE, 100 * MS, ASYNC_WAIT_MUTEX, 1, 0, 1 },
	};
	const struct spec b[] = {
		{ 1, IDLE, 100 * MS, ASYNC_WAIT_MUTEX, 2, 0, 1 },
		{ 2, IDLE, 1500 * MS, ASYNC_WAIT_MUTEX, 1, 0, 1 }, /* it moved meanwhile */
	};
	struct ai_snapshot *s[2] = { snap(1000 * MS, a, 2), snap(2000 * MS, b, 2) };
	struct ai_findings f;

	(void)state;
	run(s, 2, &f);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);
}

static void test_lost_wakeups_grouped(void **state)
{
	/* 1-3 lost at one await point; 4 has a live waker (a timer, a plain thread); 5 lost
	 * but at another point; 6 lost in the last snapshot only (it just went idle) */
	const struct spec a[] = {
		{ 1, IDLE, 10 * MS, 0, 0, 0, 0 },
		{ 2, IDLE, 20 * MS, 0, 0, 0, 0 },
		{ 3, IDLE, 30 * MS, 0, 0, 0, 0 },
		{ 4, IDLE, 10 * MS, 0, 0, 0, 1 },
		{ 5, IDLE, 10 * MS, 0, 0, 0, 0, FN_B, AT_B },
		{ 6, ASYNC_TASK_RUNNING, 10 * MS },
	};
	const struct spec b[] = {
		{ 1, IDLE, 10 * MS, 0, 0, 0, 0 },
		{ 2, IDLE, 20 * MS, 0, 0, 0, 0 },
		{ 3, IDLE, 30 * MS, 0, 0, 0, 0 },
		{ 4, IDLE, 10 * MS, 0, 0, 0, 1 },
		{ 5, IDLE, 10 * MS, 0, 0, 0, 0, FN_B, AT_B },
		{ 6, IDLE, 900 * MS, 0, 0, 0, 0 },
	};
	struct ai_snapshot *s[2] = { snap(500 * MS, a, 6), snap(1000 * MS, b, 6) };
	struct ai_findings f;

	(void)state;
	run(s, 2, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.v[0].kind, AI_FINDING_LOST_WAKE);
	assert_int_equal(f.v[0].count, 3);
	assert_int_equal(f.v[0].fn, FN_A);
	assert_int_equal(f.v[0].at, AT_A);
	assert_int_equal(f.v[0].stuck_ns, 990 * MS);
	assert_int_equal(f.v[0].ntask_ids, 3);
	assert_int_equal(f.v[1].kind, AI_FINDING_LOST_WAKE);
	assert_int_equal(f.v[1].count, 1);
	assert_int_equal(f.v[1].task_ids[0], 5);
	ai_findings_free(&f);
}

static void test_orphan_lock_and_late_bug(void **state)
{
	/* 1 waits for a mutex held by 9, which is gone; 2 waits for one held by 3, alive;
	 * 4 became lost only after the first snapshot (the bug began in the window) */
	const struct spec a[] = {
		{ 1, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 9, 0, 1 },
		{ 2, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1, FN_B, AT_B },
		{ 3, ASYNC_TASK_RUNNING, 10 * MS },
		{ 4, ASYNC_TASK_RUNNING, 10 * MS },
	};
	const struct spec b[] = {
		{ 1, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 9, 0, 1 },
		{ 2, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1, FN_B, AT_B },
		{ 3, ASYNC_TASK_RUNNING, 10 * MS },
		{ 4, IDLE, 1500 * MS, 0, 0, 0, 0, FN_B, AT_B },
	};
	struct ai_snapshot *s[3] = { snap(1000 * MS, a, 4), snap(2000 * MS, b, 4),
				     snap(3000 * MS, b, 4) };
	struct ai_findings f;

	(void)state;
	run(s, 3, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.v[0].kind, AI_FINDING_LOST_WAKE);
	assert_int_equal(f.v[0].task_ids[0], 4);
	assert_int_equal(f.v[0].stuck_ns, 1500 * MS);
	assert_int_equal(f.v[1].kind, AI_FINDING_ORPHAN_LOCK);
	assert_int_equal(f.v[1].task_ids[0], 1);
	assert_int_equal(f.v[1].root_id, 9);
	assert_string_equal(ai_finding_kind_name(f.v[1].kind), "orphan-lock");
	ai_findings_free(&f);
}

static void test_stall_chain_named_after_its_root(void **state)
{
	/* 1 and 2 wait for a mutex held by 3, which sleeps (waits for no task);
	 * 4 sends on a full channel read by 5, which waits for the mutex 3 holds too;
	 * 6 is a consumer idle on an empty channel whose one sender (7) sleeps: healthy */
	const struct spec a[] = {
		{ 1, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1 },
		{ 2, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1 },
		{ 3, IDLE, 5 * MS, ASYNC_WAIT_TIMER, 0, 0, 1, FN_B, AT_B },
		{ 4, IDLE, 10 * MS, ASYNC_WAIT_CHAN_SEND, 0, 5, 1 },
		{ 5, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1 },
		{ 6, IDLE, 10 * MS, ASYNC_WAIT_CHAN_RECV, 0, 7, 1 },
		{ 7, IDLE, 10 * MS, ASYNC_WAIT_TIMER, 0, 0, 1 },
	};
	struct ai_snapshot *s[3] = { snap(1000 * MS, a, 7), snap(2000 * MS, a, 7),
				     snap(3000 * MS, a, 7) };
	struct ai_findings f;

	(void)state;
	run(s, 3, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.v[0].kind, AI_FINDING_STALL);
	assert_int_equal(f.v[0].root_id, 3);
	assert_int_equal(f.v[0].count, 4); /* 1, 2, 4 (through 5) and 5 */
	assert_int_equal(f.v[0].fn, FN_B);
	assert_int_equal(f.v[0].at, AT_B);
	assert_int_equal(f.v[0].stuck_ns, 2995 * MS);
	assert_int_equal(f.v[0].ntask_ids, 2); /* the first chain: 1 -> 3 */
	assert_int_equal(f.v[0].task_ids[0], 1);
	assert_int_equal(f.v[0].task_ids[1], 3);
	ai_findings_free(&f);
}

static void test_stall_needs_the_root_to_wait(void **state)
{
	/* the holder runs (a long poll, or just busy): that is not a stall chain */
	const struct spec a[] = {
		{ 1, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 2, 0, 1 },
		{ 2, ASYNC_TASK_RUNNING, 10 * MS },
	};
	struct ai_snapshot *s[2] = { snap(1000 * MS, a, 2), snap(2000 * MS, a, 2) };
	struct ai_findings f;

	(void)state;
	run(s, 2, &f);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);
}

/* n tasks of (FN_B, AT_B) with ids from `first`, idle since `since` */
static struct spec *population(uint64_t first, size_t n, uint64_t since)
{
	struct spec *v = calloc(n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct spec){ first + i, IDLE, since, ASYNC_WAIT_IO, 0, 0, 1, FN_B, AT_B };
	return v;
}

static void test_leak_grows_without_completing(void **state)
{
	struct spec *p = population(1, 30, 100 * MS);
	struct ai_snapshot *s[3] = { snap(1000 * MS, p, 10), snap(2000 * MS, p, 20),
				     snap(3000 * MS, p, 30) };
	struct ai_findings f;

	(void)state;
	run(s, 3, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.v[0].kind, AI_FINDING_LEAK);
	assert_int_equal(f.v[0].count, 30);
	assert_int_equal(f.v[0].first_count, 10);
	assert_int_equal(f.v[0].window_ns, 2000 * MS);
	assert_int_equal(f.v[0].stuck_ns, 2900 * MS); /* the oldest's age */
	assert_int_equal(f.v[0].task_ids[0], 1);
	ai_findings_free(&f);
	free(p);
}

static void test_leak_that_begins_in_the_window(void **state)
{
	struct spec *p = population(1, 40, 100 * MS);
	struct ai_snapshot *s[5] = { snap(1000 * MS, p, 0), snap(1250 * MS, p, 0),
				     snap(1500 * MS, p, 12), snap(1750 * MS, p, 25),
				     snap(2000 * MS, p, 40) };
	struct ai_findings f;

	(void)state;
	run(s, 5, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.v[0].kind, AI_FINDING_LEAK);
	assert_int_equal(f.v[0].first_count, 0);
	assert_int_equal(f.v[0].window_ns, 750 * MS); /* from the last snapshot without */
	ai_findings_free(&f);
	free(p);
}

static void test_no_leak_when_tasks_complete_or_growth_is_small(void **state)
{
	/* a pool that grows while its oldest complete (ids 1-5 gone in the middle) */
	struct spec *p = population(1, 40, 100 * MS);
	struct ai_snapshot *s[3] = { snap(1000 * MS, p, 10), snap(2000 * MS, p + 5, 20),
				     snap(3000 * MS, p + 5, 35) };
	struct ai_findings f;

	(void)state;
	run(s, 3, &f);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);

	/* steady connections: 32 then 36 (growth under the minimum) */
	s[0] = snap(1000 * MS, p, 32);
	s[1] = snap(2000 * MS, p, 36);
	run(s, 2, &f);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);

	/* a burst of 16 new connections, then none: it stopped growing */
	s[0] = snap(1000 * MS, p, 16);
	s[1] = snap(2000 * MS, p, 32);
	s[2] = snap(3000 * MS, p, 32);
	run(s, 3, &f);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);
	free(p);
}

static void test_ranked_and_errors(void **state)
{
	const struct spec a[] = {
		{ 1, IDLE, 10 * MS, 0, 0, 0, 0, FN_B, AT_B }, /* lost */
		{ 2, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 3, 0, 1 },
		{ 3, IDLE, 10 * MS, ASYNC_WAIT_MUTEX, 2, 0, 1 }, /* deadlock */
	};
	struct ai_snapshot *s[2] = { snap(1000 * MS, a, 3), snap(2000 * MS, a, 3) };
	struct ai_findings f = { 0 };

	(void)state;
	assert_int_equal(ai_findings_from_snapshots((const struct ai_snapshot *const *)s, 1, &f),
			 -EINVAL);
	run(s, 2, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.v[0].kind, AI_FINDING_DEADLOCK);
	assert_int_equal(f.v[1].kind, AI_FINDING_LOST_WAKE);
	assert_string_equal(ai_finding_kind_name(f.v[1].kind), "lost-wakeup");
	ai_findings_free(&f);
	ai_findings_free(NULL);
}

static struct ai_long_poll lp(uint64_t task, uint64_t at, uint32_t line, uint64_t cpu_ms,
			      uint64_t blocked_ms, uint64_t preempted_ms)
{
	return (struct ai_long_poll){ .task_id = task,
				      .fn = FN_A,
				      .at = at,
				      .after_line = line,
				      .on_cpu_ns = cpu_ms * MS,
				      .blocked_ns = blocked_ms * MS,
				      .preempted_ns = preempted_ms * MS,
				      .wall_ns = (cpu_ms + blocked_ms + preempted_ms) * MS,
				      .syscall = blocked_ms ? 35 : -1 };
}

static void test_blocking_grouped_by_site_and_preemption_apart(void **state)
{
	const struct ai_long_poll polls[] = {
		lp(1, 0, 40, 1, 50, 0), /* blocked in a sleep after the await at line 40 */
		lp(2, 0, 40, 2, 80, 5), /* the same site, longer */
		lp(3, 0, 70, 30, 0, 0), /* computing after line 70 */
		lp(4, 0, 90, 1, 2, 60), /* long only because it was preempted */
		lp(5, 0, 90, 1, 2, 60), lp(6, 0, 0, 5, 0, 0), /* not long at all */
	};
	struct ai_cpu_quota q = { .quota_us = 20000, .period_us = 100000, .throttled_ns = 9 * MS };
	struct ai_findings f = { 0 };

	(void)state;
	assert_int_equal(ai_findings_from_polls(polls, 6, 10 * MS, 1000 * MS, 2, &q, &f), 0);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.v[0].kind, AI_FINDING_BLOCKING);
	assert_int_equal(f.v[0].count, 2);
	assert_int_equal(f.v[0].after_line, 40);
	assert_int_equal(f.v[0].stuck_ns, 87 * MS); /* the longest poll, and its split: */
	assert_int_equal(f.v[0].blocked_ns, 80 * MS);
	assert_int_equal(f.v[0].on_cpu_ns, 2 * MS);
	assert_int_equal(f.v[0].syscall, 35);
	assert_int_equal(f.v[1].kind, AI_FINDING_BLOCKING);
	assert_int_equal(f.v[1].after_line, 70);
	assert_int_equal(f.v[1].on_cpu_ns, 30 * MS);
	/* 120 ms preempted is 6% of two workers' second: worth a finding of its own */
	assert_int_equal(f.v[2].kind, AI_FINDING_PREEMPTION);
	assert_int_equal(f.v[2].count, 2);
	assert_int_equal(f.v[2].preempted_ns, 120 * MS);
	assert_int_equal(f.v[2].quota_us, 20000);
	assert_int_equal(f.v[2].throttled_ns, 9 * MS);
	ai_findings_free(&f);

	/* over ten seconds the same preemption is 0.6%: nothing to report */
	assert_int_equal(ai_findings_from_polls(polls + 3, 2, 10 * MS, 10000 * MS, 2, NULL, &f), 0);
	assert_int_equal(f.n, 0);
	ai_findings_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadlock_through_mutexes_and_channels),
		cmocka_unit_test(test_deadlock_needs_an_unmoved_cycle),
		cmocka_unit_test(test_lost_wakeups_grouped),
		cmocka_unit_test(test_orphan_lock_and_late_bug),
		cmocka_unit_test(test_stall_chain_named_after_its_root),
		cmocka_unit_test(test_stall_needs_the_root_to_wait),
		cmocka_unit_test(test_leak_grows_without_completing),
		cmocka_unit_test(test_leak_that_begins_in_the_window),
		cmocka_unit_test(test_no_leak_when_tasks_complete_or_growth_is_small),
		cmocka_unit_test(test_ranked_and_errors),
		cmocka_unit_test(test_blocking_grouped_by_site_and_preemption_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
