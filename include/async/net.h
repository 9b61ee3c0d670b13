/* SPDX-License-Identifier: MIT */
/*
 * Nonblocking TCP on the executor's epoll reactor. Sockets are nonblocking and
 * close-on-exec; a future that would block arms the reactor and is polled again once
 * the socket is ready (while it waits, the task's record says ASYNC_WAIT_IO on the
 * fd). Errors are negative errno values (ASYNC_ECONNREFUSED, ASYNC_EADDRINUSE, ...).
 * Close sockets used with these futures with async_close. Futures holding no resource
 * of their own (accept, read, write) need no drop: just stop polling them.
 * The reactor keeps one waiting task per socket and direction: read (or accept) a
 * socket from one task at a time, and write it from one task at a time.
 */
#ifndef ASYNC_NET_H
#define ASYNC_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"

/*
 * Listens on host:port (IPv4 dotted quad, NULL or "" for any; port 0 picks one).
 * Returns the listening socket (nonblocking, close-on-exec, SO_REUSEADDR) or a negative
 * errno: ASYNC_EINVAL for a host that is not a dotted quad. `bound_port` (may be NULL)
 * receives the port bound. `backlog` <= 0 means SOMAXCONN.
 */
int async_tcp_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port);

struct async_accept {
	struct async_frame frame;
	int listen_fd;
	int fd; /* the accepted socket (nonblocking) when result is 0 */
	int result;
};
/* Accepts one connection: ready with `result` 0 and `fd`, or a negative errno. */
void async_accept_init(struct async_accept *a, int listen_fd);
enum async_poll async_accept_poll(struct async_accept *a, struct async_cx *cx);

struct async_connect {
	struct async_frame frame;
	char host[64];
	uint16_t port;
	int fd; /* the connected socket when result is 0 */
	int result;
};
/*
 * Connects to host:port (IPv4 dotted quad, at most 63 characters). Ready with `result`
 * 0 and `fd` connected, or a negative errno (ASYNC_ECONNREFUSED, ASYNC_EINVAL for a bad
 * address, ...) with `fd` -1.
 */
void async_connect_init(struct async_connect *c, const char *host, uint16_t port);
enum async_poll async_connect_poll(struct async_connect *c, struct async_cx *cx);
/* Closes a socket opened but not yet connected (after completion: nothing). Accepts NULL. */
void async_connect_drop(struct async_connect *c);

/* Reads at most `len` bytes; result is the byte count (0 at end of stream) or -errno. */
struct async_read {
	struct async_frame frame;
	int fd;
	void *buf;
	size_t len;
	ssize_t result;
};
/* Prepares a read of at most `len` bytes of `fd` into `buf`. */
void async_read_init(struct async_read *r, int fd, void *buf, size_t len);
enum async_poll async_read_poll(struct async_read *r, struct async_cx *cx);

/* Writes all `len` bytes; result is `len` or -errno. */
struct async_write {
	struct async_frame frame;
	int fd;
	const void *buf;
	size_t len;
	size_t done;
	ssize_t result;
};
/*
 * Prepares a write of `len` bytes: it completes when all are written (`done` counts
 * them as they go) or on the first error (a closed peer is ASYNC_EPIPE, no SIGPIPE).
 */
void async_write_init(struct async_write *w, int fd, const void *buf, size_t len);
enum async_poll async_write_poll(struct async_write *w, struct async_cx *cx);

/*
 * Forgets a descriptor's reactor registration (on the executor whose thread calls it)
 * and closes it. Returns 0 or a negative errno (ASYNC_EINVAL for a negative fd).
 * Called on another thread it just closes; the registration left behind is replaced
 * when a later socket with the same number waits on the reactor.
 */
int async_close(int fd);

#endif /* ASYNC_NET_H */
