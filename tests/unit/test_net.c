/* SPDX-License-Identifier: MIT */
/* TCP on the reactor: an echo server and many clients over 127.0.0.1, errors. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec_modes.h"

/* ---- the echo server: one task per connection ---------------------------------------- */

struct echo_conn {
	struct async_frame frame;
	int fd;
	char buf[4096];
	struct async_read rd;
	struct async_write wr;
	int *errors;
};

static enum async_poll echo_conn_poll(struct echo_conn *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	for (;;) {
		async_read_init(&c->rd, c->fd, c->buf, sizeof(c->buf));
		ASYNC_AWAIT(c, cx, async_read, &c->rd);
		if (c->rd.result <= 0)
			break;
		async_write_init(&c->wr, c->fd, c->buf, (size_t)c->rd.result);
		ASYNC_AWAIT(c, cx, async_write, &c->wr);
		if (c->wr.result != c->rd.result) {
			__atomic_fetch_add(c->errors, 1, __ATOMIC_SEQ_CST);
			break;
		}
	}
	if (c->rd.result < 0)
		__atomic_fetch_add(c->errors, 1, __ATOMIC_SEQ_CST);
	async_close(c->fd);
	ASYNC_RETURN(c);
}

static void echo_conn_free(struct echo_conn *c)
{
	free(c);
}

struct server {
	struct async_frame frame;
	int listen_fd;
	int accepts; /* connections to accept before it stops */
	int accepted;
	int errors;
	struct async_accept acc;
};

static enum async_poll server_poll(struct server *s, struct async_cx *cx)
{
	struct echo_conn *c;

	ASYNC_BEGIN(s);
	while (s->accepted < s->accepts) {
		async_accept_init(&s->acc, s->listen_fd);
		ASYNC_AWAIT(s, cx, async_accept, &s->acc);
		if (s->acc.result) {
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_SEQ_CST);
			break;
		}
		s->accepted++;
		c = calloc(1, sizeof(*c));
		if (c) {
			c->fd = s->acc.fd;
			c->errors = &s->errors;
		}
		if (!c || async_spawn_cx(cx, "echo_conn", ASYNC_POLL_FN(echo_conn_poll), c,
					 ASYNC_DROP_FN(echo_conn_free), NULL)) {
			free(c);
			async_close(s->acc.fd);
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_SEQ_CST);
		}
	}
	async_close(s->listen_fd);
	ASYNC_RETURN(s);
}

/* Writes the whole message, then shuts down the sending side. */
struct writer {
	struct async_frame frame;
	int fd;
	const unsigned char *buf;
	size_t len;
	ssize_t result;
	struct async_write wr;
};

static enum async_poll writer_poll(struct writer *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	async_write_init(&w->wr, w->fd, w->buf, w->len);
	ASYNC_AWAIT(w, cx, async_write, &w->wr);
	w->result = w->wr.result;
	shutdown(w->fd, SHUT_WR);
	ASYNC_RETURN(w);
}

/* Reads until end of stream (or more than `len` bytes). */
struct reader {
	struct async_frame frame;
	int fd;
	unsigned char *buf;
	size_t len;
	size_t got;
	ssize_t last;
	struct async_read rd;
};

static enum async_poll reader_poll(struct reader *r, struct async_cx *cx)
{
	ASYNC_BEGIN(r);
	for (;;) {
		async_read_init(&r->rd, r->fd, r->buf + r->got, r->len + 1 - r->got);
		ASYNC_AWAIT(r, cx, async_read, &r->rd);
		r->last = r->rd.result;
		if (r->rd.result <= 0)
			break;
		r->got += (size_t)r->rd.result;
		if (r->got > r->len)
			break;
	}
	ASYNC_RETURN(r);
}

/* Connects, then writes and reads back at once (join_all): the echo must match. */
struct client {
	struct async_frame frame;
	uint16_t port;
	size_t len;
	unsigned char *out, *in;
	int ok;
	struct async_connect conn;
	struct writer w;
	struct reader r;
	struct async_branch br[2];
	struct async_join_all both;
};

static enum async_poll client_poll(struct client *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	async_connect_init(&c->conn, "127.0.0.1", c->port);
	ASYNC_AWAIT(c, cx, async_connect, &c->conn);
	if (c->conn.result)
		ASYNC_DONE(c);
	c->w = (struct writer){ .fd = c->conn.fd, .buf = c->out, .len = c->len };
	c->r = (struct reader){ .fd = c->conn.fd, .buf = c->in, .len = c->len };
	c->br[0] = (struct async_branch){ ASYNC_POLL_FN(writer_poll), &c->w };
	c->br[1] = (struct async_branch){ ASYNC_POLL_FN(reader_poll), &c->r };
	async_join_all_init(&c->both, c->br, 2);
	ASYNC_AWAIT(c, cx, async_join_all, &c->both);
	c->ok = c->w.result == (ssize_t)c->len && c->r.last == 0 && c->r.got == c->len &&
		!memcmp(c->in, c->out, c->len);
	async_close(c->conn.fd);
	ASYNC_RETURN(c);
}

static void run_echo(void **state, unsigned nclients, size_t len)
{
	struct async_exec *e = mode_exec(state);
	struct server s = { 0 };
	struct client *c = calloc(nclients, sizeof(*c));
	uint16_t port = 0;

	assert_non_null(c);
	s.listen_fd = async_tcp_listen("127.0.0.1", 0, 128, &port);
	assert_true(s.listen_fd >= 0);
	assert_true(port != 0);
	s.accepts = (int)nclients;
	assert_int_equal(async_spawn(e, "server", ASYNC_POLL_FN(server_poll), &s, NULL, NULL), 0);
	for (unsigned i = 0; i < nclients; i++) {
		c[i].port = port;
		c[i].len = len;
		c[i].out = malloc(len);
		c[i].in = malloc(len + 1);
		assert_non_null(c[i].out);
		assert_non_null(c[i].in);
		for (size_t k = 0; k < len; k++)
			c[i].out[k] = (unsigned char)(k * 31 + i * 7 + (k >> 8));
		assert_int_equal(
		    async_spawn(e, "client", ASYNC_POLL_FN(client_poll), &c[i], NULL, NULL), 0);
	}
	alarm(120);
	assert_int_equal(async_exec_run(e), 0);
	alarm(0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.accepted, (int)nclients);
	for (unsigned i = 0; i < nclients; i++) {
		assert_int_equal(c[i].conn.result, 0);
		assert_int_equal(c[i].ok, 1);
		free(c[i].out);
		free(c[i].in);
	}
	async_exec_free(e);
	free(c);
}

static void test_echo(void **state)
{
	run_echo(state, 48, 48 * 1024);
}

/* Far more than the socket buffers hold: writes and reads wait on the reactor. */
static void test_echo_large(void **state)
{
	run_echo(state, 3, 8 << 20);
}

/* ---- errors ---------------------------------------------------------------------------- */

struct refused {
	struct async_frame frame;
	uint16_t port;
	struct async_connect conn;
	struct async_connect bad;
};

static enum async_poll refused_poll(struct refused *r, struct async_cx *cx)
{
	ASYNC_BEGIN(r);
	async_connect_init(&r->conn, "127.0.0.1", r->port);
	ASYNC_AWAIT(r, cx, async_connect, &r->conn);
	async_connect_init(&r->bad, "not-an-address", 80);
	ASYNC_AWAIT(r, cx, async_connect, &r->bad);
	ASYNC_RETURN(r);
}

static void test_connect_refused(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct refused r = { 0 };
	int fd;

	/* A port that was just free: bind, learn it, close. Nothing listens there now. */
	fd = async_tcp_listen("127.0.0.1", 0, 1, &r.port);
	assert_true(fd >= 0);
	assert_int_equal(async_close(fd), 0);
	assert_int_equal(async_spawn(e, "refused", ASYNC_POLL_FN(refused_poll), &r, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(r.conn.result, ASYNC_ECONNREFUSED);
	assert_int_equal(r.conn.fd, -1);
	assert_int_equal(r.bad.result, ASYNC_EINVAL);
	async_connect_drop(&r.conn); /* complete: nothing to close */
	async_connect_drop(NULL);
	async_exec_free(e);
}

/* A connect dropped while in progress closes its socket. */
struct dropped_connect {
	struct async_frame frame;
	uint16_t port;
	struct async_connect conn;
	int first_poll; /* what the first poll returned */
	int fd_seen;
	int fd_open_after_drop;
};

static enum async_poll dropped_connect_poll(struct dropped_connect *d, struct async_cx *cx)
{
	ASYNC_TRACE(d->frame);
	async_connect_init(&d->conn, "127.0.0.1", d->port);
	d->first_poll = async_connect_poll(&d->conn, cx);
	d->fd_seen = d->conn.fd;
	if (d->first_poll == ASYNC_PENDING) {
		async_connect_drop(&d->conn);
		d->fd_open_after_drop = fcntl(d->fd_seen, F_GETFD) != -1;
	} else if (d->conn.result == 0) {
		async_close(d->conn.fd);
	}
	return ASYNC_READY;
}

static void test_connect_drop(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct dropped_connect d = { 0 };
	int lfd;

	lfd = async_tcp_listen("127.0.0.1", 0, 8, &d.port);
	assert_true(lfd >= 0);
	assert_int_equal(
	    async_spawn(e, "dropped", ASYNC_POLL_FN(dropped_connect_poll), &d, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	/* Nonblocking TCP connect reports EINPROGRESS even on loopback. */
	assert_int_equal(d.first_poll, ASYNC_PENDING);
	assert_true(d.fd_seen >= 0);
	assert_int_equal(d.fd_open_after_drop, 0);
	assert_int_equal(d.conn.fd, -1);
	async_connect_drop(&d.conn); /* again: nothing left to close */
	assert_int_equal(async_close(lfd), 0);
	async_exec_free(e);
}

/*
 * A socket closed outside the executor's threads (here: by main, between two runs)
 * leaves its reactor registration behind; a new socket that gets the same number
 * must still work.
 */
struct accept_one {
	struct async_frame frame;
	int lfd;
	struct async_accept acc;
};

static enum async_poll accept_one_poll(struct accept_one *a, struct async_cx *cx)
{
	ASYNC_BEGIN(a);
	async_accept_init(&a->acc, a->lfd);
	ASYNC_AWAIT(a, cx, async_accept, &a->acc);
	if (a->acc.result == 0)
		async_close(a->acc.fd);
	ASYNC_RETURN(a);
}

struct connect_one {
	struct async_frame frame;
	uint16_t port;
	struct async_sleep sleep;
	struct async_connect conn;
};

static enum async_poll connect_one_poll(struct connect_one *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	/* Let the accept arm the reactor first. */
	async_sleep_init(&c->sleep, 5 * ASYNC_MSEC);
	ASYNC_AWAIT(c, cx, async_sleep, &c->sleep);
	async_connect_init(&c->conn, "127.0.0.1", c->port);
	ASYNC_AWAIT(c, cx, async_connect, &c->conn);
	if (c->conn.result == 0)
		async_close(c->conn.fd);
	ASYNC_RETURN(c);
}

static void test_fd_reuse_after_outside_close(void **state)
{
	struct async_exec *e = mode_exec(state);
	int first_fd = -1;

	for (int round = 0; round < 2; round++) {
		struct accept_one a = { 0 };
		struct connect_one c = { 0 };

		a.lfd = async_tcp_listen("127.0.0.1", 0, 8, &c.port);
		assert_true(a.lfd >= 0);
		if (round == 0)
			first_fd = a.lfd;
		else
			assert_int_equal(a.lfd, first_fd); /* the same number again */
		assert_int_equal(
		    async_spawn(e, "accept", ASYNC_POLL_FN(accept_one_poll), &a, NULL, NULL), 0);
		assert_int_equal(
		    async_spawn(e, "connect", ASYNC_POLL_FN(connect_one_poll), &c, NULL, NULL), 0);
		assert_int_equal(async_exec_run(e), 0);
		assert_int_equal(a.acc.result, 0);
		assert_int_equal(c.conn.result, 0);
		assert_int_equal(async_close(a.lfd), 0); /* on main, outside the executor */
	}
	async_exec_free(e);
}

static void test_listen_errors(void **state)
{
	int fd, fd2;
	uint16_t port;

	(void)state;
	assert_int_equal(async_tcp_listen("256.1.1.1", 0, 1, NULL), ASYNC_EINVAL);
	assert_int_equal(async_tcp_listen("localhost", 0, 1, NULL), ASYNC_EINVAL);
	fd = async_tcp_listen("127.0.0.1", 0, 1, &port);
	assert_true(fd >= 0);
	fd2 = async_tcp_listen("127.0.0.1", port, 1, NULL);
	assert_int_equal(fd2, ASYNC_EADDRINUSE);
	assert_int_equal(async_close(fd), 0);
	assert_int_equal(async_close(-1), ASYNC_EINVAL);
}

/* A read waiting on the reactor, dropped by a select whose other branch won. */
struct read_timeout {
	struct async_frame frame;
	int fds[2];
	char buf[16];
	struct async_read rd;
	struct async_sleep sleep;
	struct async_branch br[2];
	struct async_select sel;
	size_t winner;
	ssize_t second_read;
};

static enum async_poll read_timeout_poll(struct read_timeout *t, struct async_cx *cx)
{
	ASYNC_BEGIN(t);
	async_read_init(&t->rd, t->fds[0], t->buf, sizeof(t->buf));
	async_sleep_init(&t->sleep, 10 * ASYNC_MSEC);
	t->br[0] = (struct async_branch){ ASYNC_POLL_FN(async_read_poll), &t->rd };
	t->br[1] = (struct async_branch){ ASYNC_POLL_FN(async_sleep_poll), &t->sleep };
	async_select_init(&t->sel, t->br, 2);
	ASYNC_AWAIT(t, cx, async_select, &t->sel);
	t->winner = t->sel.winner;
	async_sleep_drop(&t->sleep);
	/* The socket is still usable: data sent now is read. */
	if (send(t->fds[1], "hi", 2, 0) != 2)
		ASYNC_DONE(t);
	async_read_init(&t->rd, t->fds[0], t->buf, sizeof(t->buf));
	ASYNC_AWAIT(t, cx, async_read, &t->rd);
	t->second_read = t->rd.result;
	async_close(t->fds[0]);
	async_close(t->fds[1]);
	ASYNC_RETURN(t);
}

static void test_read_select_timeout(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct read_timeout t = { 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, t.fds),
			 0);
	assert_int_equal(
	    async_spawn(e, "read_timeout", ASYNC_POLL_FN(read_timeout_poll), &t, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(t.winner, 1);
	assert_int_equal(t.second_read, 2);
	assert_memory_equal(t.buf, "hi", 2);
	async_exec_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH_MODES(test_echo),
		BOTH_MODES(test_echo_large),
		BOTH_MODES(test_connect_refused),
		BOTH_MODES(test_connect_drop),
		BOTH_MODES(test_fd_reuse_after_outside_close),
		cmocka_unit_test(test_listen_errors),
		BOTH_MODES(test_read_select_timeout),
	};

	return RUN_AT_UPTIMES(tests);
}
