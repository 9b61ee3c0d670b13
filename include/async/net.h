/* SPDX-License-Identifier: MIT */
/* Nonblocking TCP on the executor's epoll reactor. */
#ifndef ASYNC_NET_H
#define ASYNC_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"

/*
 * Listens on host:port (IPv4 dotted quad; port 0 picks one). Returns the listening
 * socket (nonblocking, close-on-exec) or a negative errno. `bound_port` may be NULL.
 */
int async_tcp_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port);

struct async_accept {
	struct async_frame frame;
	int listen_fd;
	int fd; /* the accepted socket (nonblocking) when result is 0 */
	int result;
};
void async_accept_init(struct async_accept *a, int listen_fd);
enum async_poll async_accept_poll(struct async_accept *a, struct async_cx *cx);

struct async_connect {
	struct async_frame frame;
	char host[64];
	uint16_t port;
	int fd; /* the connected socket when result is 0 */
	int result;
};
void async_connect_init(struct async_connect *c, const char *host, uint16_t port);
enum async_poll async_connect_poll(struct async_connect *c, struct async_cx *cx);
/* Closes a socket opened but not yet connected. */
void async_connect_drop(struct async_connect *c);

/* Reads at most `len` bytes; result is the byte count (0 at end of stream) or -errno. */
struct async_read {
	struct async_frame frame;
	int fd;
	void *buf;
	size_t len;
	ssize_t result;
};
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
void async_write_init(struct async_write *w, int fd, const void *buf, size_t len);
enum async_poll async_write_poll(struct async_write *w, struct async_cx *cx);

/* Forgets a descriptor's reactor registration and closes it. */
int async_close(int fd);

#endif /* ASYNC_NET_H */
