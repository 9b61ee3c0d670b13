/* SPDX-License-Identifier: MIT */
/*
 * Nonblocking TCP futures on the executor's epoll reactor. Each future tries its system
 * call first; on EAGAIN it arms the reactor for the readiness it needs (the reactor
 * wakes the task once) and returns pending, then tries again on the next poll. A poll
 * for another reason (a sibling in a join) just tries again: that is always correct.
 *
 * frame.resume of these leaf futures: 0 = not waiting, 1 = waiting on the reactor
 * (wait_begin fired), 2 = complete.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

enum { NET_IDLE = 0, NET_WAITING = 1, NET_DONE = 2 };

static int parse_addr(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (!host || !*host)
		host = "0.0.0.0";
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return ASYNC_EINVAL;
	return 0;
}

int async_tcp_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, one = 1, err;

	err = parse_addr(host, port, &sa);
	if (err)
		return err;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, backlog > 0 ? backlog : SOMAXCONN) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (bound_port)
		*bound_port = ntohs(sa.sin_port);
	return fd;
}

/*
 * Waits for `events` on `fd`: arms the reactor and marks the frame waiting. Returns
 * ASYNC_PENDING, or ASYNC_READY with *result set when the reactor refused.
 */
static enum async_poll wait_fd(struct async_frame *frame, struct async_cx *cx, int fd,
			       uint32_t events, int *result)
{
	int err = async__reactor_arm(cx, fd, events);

	if (err == -ENOENT) {
		/*
		 * The registration is stale: an earlier socket with this number was closed
		 * without async_close on the executor's threads (so the epoll set lost it).
		 * Drop the stale registration and register the socket anew.
		 */
		async__reactor_forget(async_cx_exec(cx), fd);
		err = async__reactor_arm(cx, fd, events);
	}
	if (err) {
		*result = err;
		if (frame->resume == NET_WAITING)
			async__wait_end(cx, ASYNC_WAIT_IO, (uint64_t)fd, 0);
		frame->resume = NET_DONE;
		return ASYNC_READY;
	}
	if (frame->resume != NET_WAITING) {
		frame->resume = NET_WAITING;
		async__wait_begin(cx, ASYNC_WAIT_IO, (uint64_t)fd, 0);
	}
	return ASYNC_PENDING;
}

/* Marks the frame complete, ending the wait if one was recorded. */
static enum async_poll complete(struct async_frame *frame, struct async_cx *cx, int fd)
{
	if (frame->resume == NET_WAITING)
		async__wait_end(cx, ASYNC_WAIT_IO, (uint64_t)fd, 0);
	frame->resume = NET_DONE;
	return ASYNC_READY;
}

/* ---- accept --------------------------------------------------------------------------- */

void async_accept_init(struct async_accept *a, int listen_fd)
{
	a->frame = (struct async_frame){ 0 };
	a->listen_fd = listen_fd;
	a->fd = -1;
	a->result = 0;
}

enum async_poll async_accept_poll(struct async_accept *a, struct async_cx *cx)
{
	int fd;

	ASYNC_TRACE(a->frame);
	if (a->frame.resume == NET_DONE)
		return ASYNC_READY;
	for (;;) {
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			a->fd = fd;
			a->result = 0;
			return complete(&a->frame, cx, a->listen_fd);
		}
		/* A connection reset before we took it, or a signal: try the next one. */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return wait_fd(&a->frame, cx, a->listen_fd, EPOLLIN, &a->result);
		a->result = -errno;
		return complete(&a->frame, cx, a->listen_fd);
	}
}

/* ---- connect -------------------------------------------------------------------------- */

void async_connect_init(struct async_connect *c, const char *host, uint16_t port)
{
	c->frame = (struct async_frame){ 0 };
	memset(c->host, 0, sizeof(c->host));
	if (host)
		strncpy(c->host, host, sizeof(c->host) - 1);
	c->port = port;
	c->fd = -1;
	c->result = 0;
}

static enum async_poll connect_fail(struct async_connect *c, struct async_cx *cx, int err)
{
	int fd = c->fd;

	if (fd >= 0) {
		if (c->frame.resume == NET_WAITING)
			async__reactor_forget(async_cx_exec(cx), fd);
		close(fd);
	}
	c->fd = -1;
	c->result = err;
	return complete(&c->frame, cx, fd);
}

enum async_poll async_connect_poll(struct async_connect *c, struct async_cx *cx)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	socklen_t len;
	int err, rc;

	ASYNC_TRACE(c->frame);
	if (c->frame.resume == NET_DONE)
		return ASYNC_READY;
	if (c->fd < 0) {
		err = parse_addr(c->host, c->port, &sa);
		if (err)
			return connect_fail(c, cx, err);
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return connect_fail(c, cx, -errno);
		do
			rc = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
		while (rc && errno == EINTR);
		if (!rc) {
			c->result = 0;
			return complete(&c->frame, cx, c->fd);
		}
		if (errno != EINPROGRESS)
			return connect_fail(c, cx, -errno);
		return wait_fd(&c->frame, cx, c->fd, EPOLLOUT, &c->result);
	}

	/* In progress: finished once the socket is writable (or has failed). */
	pfd = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
	rc = poll(&pfd, 1, 0);
	if (rc < 0 && errno != EINTR)
		return connect_fail(c, cx, -errno);
	if (rc <= 0)
		return wait_fd(&c->frame, cx, c->fd, EPOLLOUT, &c->result);
	err = 0;
	len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		return connect_fail(c, cx, -err);
	c->result = 0;
	return complete(&c->frame, cx, c->fd);
}

void async_connect_drop(struct async_connect *c)
{
	if (!c || c->frame.resume == NET_DONE || c->fd < 0)
		return;
	async_close(c->fd);
	c->fd = -1;
}

/* ---- read / write --------------------------------------------------------------------- */

void async_read_init(struct async_read *r, int fd, void *buf, size_t len)
{
	r->frame = (struct async_frame){ 0 };
	r->fd = fd;
	r->buf = buf;
	r->len = len;
	r->result = 0;
}

enum async_poll async_read_poll(struct async_read *r, struct async_cx *cx)
{
	ssize_t n;
	int err;

	ASYNC_TRACE(r->frame);
	if (r->frame.resume == NET_DONE)
		return ASYNC_READY;
	do
		n = read(r->fd, r->buf, r->len);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		r->result = n;
		return complete(&r->frame, cx, r->fd);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		err = 0;
		if (wait_fd(&r->frame, cx, r->fd, EPOLLIN, &err) == ASYNC_PENDING)
			return ASYNC_PENDING;
		r->result = err;
		return ASYNC_READY;
	}
	r->result = -errno;
	return complete(&r->frame, cx, r->fd);
}

void async_write_init(struct async_write *w, int fd, const void *buf, size_t len)
{
	w->frame = (struct async_frame){ 0 };
	w->fd = fd;
	w->buf = buf;
	w->len = len;
	w->done = 0;
	w->result = 0;
}

/* send() without SIGPIPE on sockets; write() for anything else. */
static ssize_t write_some(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, buf, len);
	return n;
}

enum async_poll async_write_poll(struct async_write *w, struct async_cx *cx)
{
	ssize_t n;
	int err;

	ASYNC_TRACE(w->frame);
	if (w->frame.resume == NET_DONE)
		return ASYNC_READY;
	while (w->done < w->len) {
		n = write_some(w->fd, (const char *)w->buf + w->done, w->len - w->done);
		if (n >= 0) {
			w->done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			err = 0;
			if (wait_fd(&w->frame, cx, w->fd, EPOLLOUT, &err) == ASYNC_PENDING)
				return ASYNC_PENDING;
			w->result = err;
			return ASYNC_READY;
		}
		w->result = -errno;
		return complete(&w->frame, cx, w->fd);
	}
	w->result = (ssize_t)w->len;
	return complete(&w->frame, cx, w->fd);
}

int async_close(int fd)
{
	struct async_exec *exec = async__exec_current();

	if (fd < 0)
		return ASYNC_EINVAL;
	if (exec)
		async__reactor_forget(exec, fd);
	return close(fd) ? -errno : 0;
}
