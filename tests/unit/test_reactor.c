/* SPDX-License-Identifier: MIT */
/* The reactor: one-shot readiness wake-ups, re-arming, forget, and wakes from threads. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "exec_modes.h"
#include "core.h"

/* Reads `want` bytes from a nonblocking fd, arming EPOLLIN whenever it would block. */
struct reader {
	struct async_frame frame;
	int fd;
	size_t want, got;
	char buf[64];
	int polls;
	int arms;
};

static enum async_poll reader_poll(struct reader *r, struct async_cx *cx)
{
	r->polls++;
	while (r->got < r->want) {
		ssize_t n = read(r->fd, r->buf + r->got, r->want - r->got);

		if (n > 0) {
			__atomic_store_n(&r->got, r->got + (size_t)n, __ATOMIC_RELEASE);
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		assert_int_equal(async__reactor_arm(cx, r->fd, EPOLLIN), 0);
		__atomic_store_n(&r->arms, r->arms + 1, __ATOMIC_RELEASE);
		return ASYNC_PENDING;
	}
	return ASYNC_READY;
}

/* Writes one byte each time the reader has consumed the previous one. */
struct writer {
	struct async_frame frame;
	struct async_sleep sleep;
	struct reader *r;
	int fd, i, count;
};

static enum async_poll writer_poll(struct writer *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	for (w->i = 0; w->i < w->count; w->i++) {
		/* wait until the reader has taken every byte so far */
		do {
			async_sleep_init(&w->sleep, 1 * ASYNC_MSEC);
			ASYNC_AWAIT(w, cx, async_sleep, &w->sleep);
		} while (__atomic_load_n(&w->r->got, __ATOMIC_ACQUIRE) < (size_t)w->i);
		assert_int_equal(write(w->fd, "x", 1), 1);
	}
	ASYNC_RETURN(w);
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void test_read_wakeups(void **state)
{
	struct async_exec *exec = mode_exec(state);
	int p[2];
	struct reader r = { .want = 4 };
	struct writer w = { .count = 4, .r = &r };

	make_pipe(p);
	r.fd = p[0];
	w.fd = p[1];
	assert_int_equal(async_spawn(exec, "reader", ASYNC_POLL_FN(reader_poll), &r, NULL, NULL),
			 0);
	assert_int_equal(async_spawn(exec, "writer", ASYNC_POLL_FN(writer_poll), &w, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(r.got, 4);
	/* each byte arrives after the last was read: one arm and one wake-up per byte */
	assert_int_equal(r.arms, 4);
	assert_int_equal(r.polls, 5);
	async__reactor_forget(exec, p[0]);
	async__reactor_forget(exec, p[0]); /* twice: nothing left */
	async__reactor_forget(exec, -1);
	close(p[0]);
	close(p[1]);
	async_exec_free(exec);
}

struct late {
	int fd;
	struct reader *r;
};

static void *late_write(void *arg)
{
	struct late *l = arg;
	int fd = l->fd;

	/* once the reader waits on the fd (armed), from a thread outside the runtime */
	while (!__atomic_load_n(&l->r->arms, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(5000);
	if (write(fd, "abcd", 4) != 4)
		return (void *)1;
	return NULL;
}

static void test_wake_from_thread(void **state)
{
	struct async_exec *exec = mode_exec(state);
	int p[2];
	struct reader r = { .want = 4 };
	pthread_t th;

	make_pipe(p);
	r.fd = p[0];
	assert_int_equal(async_spawn(exec, "reader", ASYNC_POLL_FN(reader_poll), &r, NULL, NULL),
			 0);
	struct late l = { .fd = p[1], .r = &r };

	assert_int_equal(pthread_create(&th, NULL, late_write, &l), 0);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.got, 4);
	assert_int_equal(r.polls, 2);
	assert_memory_equal(r.buf, "abcd", 4);
	async__reactor_forget(exec, p[0]);
	close(p[0]);
	close(p[1]);
	async_exec_free(exec);
}

/* Already readable when armed: woken at once (no lost readiness). */
static void test_ready_before_arm(void **state)
{
	struct async_exec *exec = mode_exec(state);
	int p[2];
	struct reader r = { .want = 2 };

	make_pipe(p);
	r.fd = p[0];
	assert_int_equal(write(p[1], "a", 1), 1);
	assert_int_equal(async_spawn(exec, "reader", ASYNC_POLL_FN(reader_poll), &r, NULL, NULL),
			 0);
	assert_int_equal(write(p[1], "b", 1), 1);
	assert_int_equal(async_exec_run(exec), 0);
	assert_int_equal(r.got, 2);
	async__reactor_forget(exec, p[0]);
	close(p[0]);
	close(p[1]);
	async_exec_free(exec);
}

/* A task pending on an fd when the executor is freed: its waker is released (ASan). */
struct armer {
	struct async_frame frame;
	int fd;
};

static enum async_poll armer_poll(struct armer *a, struct async_cx *cx)
{
	assert_int_equal(async__reactor_arm(cx, a->fd, EPOLLIN), 0);
	assert_int_equal(async__reactor_arm(cx, a->fd, EPOLLIN), 0); /* re-arm: same waker */
	async_exec_stop(async_cx_exec(cx));
	return ASYNC_PENDING;
}

static void test_arm_errors_and_free(void **state)
{
	struct async_exec *exec = mode_exec(state);
	int p[2];
	struct armer a;

	make_pipe(p);
	a.fd = p[0];
	assert_int_equal(async_spawn(exec, "armer", ASYNC_POLL_FN(armer_poll), &a, NULL, NULL), 0);
	assert_int_equal(async_exec_run(exec), 0);
	async_exec_free(exec);
	close(p[0]);
	close(p[1]);
}

struct bad_arm {
	struct async_frame frame;
	int rc_neg, rc_events, rc_closed;
};

static enum async_poll bad_arm_poll(struct bad_arm *b, struct async_cx *cx)
{
	b->rc_neg = async__reactor_arm(cx, -1, EPOLLIN);
	b->rc_events = async__reactor_arm(cx, 0, 0);
	b->rc_closed = async__reactor_arm(cx, 1000, EPOLLIN);
	return ASYNC_READY;
}

static void test_arm_invalid(void **state)
{
	struct async_exec *exec = mode_exec(state);
	struct bad_arm b = { 0 };

	assert_int_equal(async_block_on(exec, "bad", ASYNC_POLL_FN(bad_arm_poll), &b), 0);
	assert_int_equal(b.rc_neg, ASYNC_EINVAL);
	assert_int_equal(b.rc_events, ASYNC_EINVAL);
	assert_int_equal(b.rc_closed, -EBADF);
	async_exec_free(exec);
}

/* An fd closed without forget whose number comes back: arming it still works. */
static void test_reuse_without_forget(void **state)
{
	struct async_exec *exec = mode_exec(state);
	int first = -1;

	for (int round = 0; round < 2; round++) {
		int p[2];
		struct reader r = { .want = 2 };
		struct writer w = { .count = 2, .r = &r };

		make_pipe(p);
		if (round == 0)
			first = p[0];
		else
			assert_int_equal(p[0], first);
		r.fd = p[0];
		w.fd = p[1];
		assert_int_equal(
		    async_spawn(exec, "reader", ASYNC_POLL_FN(reader_poll), &r, NULL, NULL), 0);
		assert_int_equal(
		    async_spawn(exec, "writer", ASYNC_POLL_FN(writer_poll), &w, NULL, NULL), 0);
		assert_int_equal(async_exec_run(exec), 0);
		assert_int_equal(r.got, 2);
		assert_int_equal(r.polls, 3);
		close(p[0]); /* no async__reactor_forget */
		close(p[1]);
	}
	async_exec_free(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_read_wakeups),	   BOTH_MODES(test_wake_from_thread),
		BOTH_MODES(test_ready_before_arm), BOTH_MODES(test_arm_errors_and_free),
		BOTH_MODES(test_arm_invalid),	   BOTH_MODES(test_reuse_without_forget),
	};

	return RUN_AT_UPTIMES(tests);
}
