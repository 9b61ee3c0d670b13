/* SPDX-License-Identifier: MIT */
/*
 * http_server: an HTTP/1.1 server on 127.0.0.1 with keep-alive, one task per connection.
 *
 *	async fn handle_request(id) -> Response {
 *		let user = db_get_user(id).await;
 *		let perms = check_permissions(&user).await;
 *		let data = fetch_data(&user, perms).await;
 *		Response::ok(render_json(user, perms, data))
 *	}
 *
 * GET /users/ID runs handle_request; each of its three steps awaits --io-us of
 * simulated I/O on the runtime's timers. Other paths get 404, other methods 405, a
 * malformed request 400 and the connection is closed. Requests may be pipelined; every
 * buffer is bounded (a request head larger than IN_CAP gets 431).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <async/async.h>

#include "opts.h"

#define IN_CAP	8192 /* request head + body must fit */
#define OUT_CAP 1024 /* one response */

static uint64_t io_ns = 1 * ASYNC_MSEC;

/* ---- the "database" --------------------------------------------------------------------- */

struct user_row {
	uint64_t id;
	char name[32];
	bool admin;
};

struct user_data {
	unsigned posts;
	unsigned followers;
};

/* async fn db_get_user(id) -> UserRow */
struct db_get_user {
	struct async_frame frame;
	uint64_t id;
	struct async_sleep io;
	struct user_row out;
};

static void db_get_user_init(struct db_get_user *f, uint64_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
}

static enum async_poll db_get_user_poll(struct db_get_user *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->io, io_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->io);
	f->out.id = f->id;
	snprintf(f->out.name, sizeof(f->out.name), "user-%" PRIu64, f->id);
	f->out.admin = f->id % 10 == 0;
	ASYNC_RETURN(f);
}

/* async fn check_permissions(&user) -> Perms */
struct check_permissions {
	struct async_frame frame;
	const struct user_row *user;
	struct async_sleep io;
	unsigned out; /* bit 0 read, bit 1 write */
};

static void check_permissions_init(struct check_permissions *f, const struct user_row *user)
{
	memset(f, 0, sizeof(*f));
	f->user = user;
}

static enum async_poll check_permissions_poll(struct check_permissions *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->io, io_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->io);
	f->out = f->user->admin ? 3 : 1;
	ASYNC_RETURN(f);
}

/* async fn fetch_data(&user, perms) -> UserData */
struct fetch_data {
	struct async_frame frame;
	const struct user_row *user;
	unsigned perms;
	struct async_sleep io;
	struct user_data out;
};

static void fetch_data_init(struct fetch_data *f, const struct user_row *user, unsigned perms)
{
	memset(f, 0, sizeof(*f));
	f->user = user;
	f->perms = perms;
}

static enum async_poll fetch_data_poll(struct fetch_data *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->io, io_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->io);
	f->out.posts = (unsigned)(f->user->id % 97);
	f->out.followers = (unsigned)(f->user->id * 7 % 1000);
	ASYNC_RETURN(f);
}

/* A plain function called from async code (ASYNC_CALL puts it in the call graph). */
static int render_json(char *buf, size_t cap, const struct user_row *u, unsigned perms,
		       const struct user_data *d)
{
	return snprintf(buf, cap,
			"{\"id\":%" PRIu64 ",\"name\":\"%s\",\"role\":\"%s\",\"posts\":%u,"
			"\"followers\":%u}\n",
			u->id, u->name, perms & 2 ? "admin" : "member", d->posts, d->followers);
}

/* async fn handle_request(id) -> Response (the JSON body) */
struct handle_request {
	struct async_frame frame;
	uint64_t id;
	struct db_get_user db;
	struct check_permissions perms;
	struct fetch_data data;
	char body[256];
	int body_len;
};

static void handle_request_init(struct handle_request *f, uint64_t id)
{
	f->frame = (struct async_frame){ 0 };
	f->id = id;
	f->body_len = 0;
}

static enum async_poll handle_request_poll(struct handle_request *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	db_get_user_init(&f->db, f->id);
	ASYNC_AWAIT(f, cx, db_get_user, &f->db);
	check_permissions_init(&f->perms, &f->db.out);
	ASYNC_AWAIT(f, cx, check_permissions, &f->perms);
	fetch_data_init(&f->data, &f->db.out, f->perms.out);
	ASYNC_AWAIT(f, cx, fetch_data, &f->data);
	f->body_len = ASYNC_CALL(render_json, f->body, sizeof(f->body), &f->db.out, f->perms.out,
				 &f->data.out);
	ASYNC_RETURN(f);
}

static void handle_request_drop(struct handle_request *f)
{
	async_sleep_drop(&f->db.io);
	async_sleep_drop(&f->perms.io);
	async_sleep_drop(&f->data.io);
}

/* ---- HTTP/1.1 parsing --------------------------------------------------------------------- */

enum parse_result { PARSE_INCOMPLETE, PARSE_OK, PARSE_BAD, PARSE_TOO_LARGE, PARSE_UNSUPPORTED };

enum route { ROUTE_USER, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

struct request {
	size_t len; /* head + body bytes */
	enum route route;
	uint64_t id;
	bool keep_alive;
};

/* The next line in [p, end): its length without CR LF; *next after the LF. -1 if none. */
static long next_line(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', end - p);
	long len;

	if (!lf)
		return -1;
	*next = lf + 1;
	len = lf - p;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

static bool is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

static bool header_is(const char *name, size_t name_len, const char *want)
{
	return strlen(want) == name_len && !strncasecmp(name, want, name_len);
}

static void trim(const char **v, size_t *len)
{
	while (*len && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

/* Parses GET /users/<1-19 digits>[?query]; anything else is ROUTE_NOT_FOUND. */
static enum route route_target(const char *t, size_t len, uint64_t *id)
{
	static const char prefix[] = "/users/";
	size_t n = sizeof(prefix) - 1, digits = 0;
	uint64_t v = 0;

	if (len <= n || memcmp(t, prefix, n))
		return ROUTE_NOT_FOUND;
	while (n < len && t[n] >= '0' && t[n] <= '9') {
		if (++digits > 19)
			return ROUTE_NOT_FOUND;
		v = v * 10 + (uint64_t)(t[n++] - '0');
	}
	if (!digits || (n < len && t[n] != '?'))
		return ROUTE_NOT_FOUND;
	*id = v;
	return ROUTE_USER;
}

/* One request at the start of buf[0, len). */
static enum parse_result parse_request(const char *buf, size_t len, struct request *req)
{
	const char *p = buf, *end = buf + len, *next, *sp1, *sp2, *line;
	bool http10, have_length = false;
	uint64_t body = 0;
	long n;

	memset(req, 0, sizeof(*req));
	/* Tolerate empty lines before a request line (RFC 9112 2.2). */
	while ((n = next_line(p, end, &next)) == 0)
		p = next;
	if (n < 0)
		return len - (p - buf) >= IN_CAP / 2 ? PARSE_TOO_LARGE : PARSE_INCOMPLETE;
	line = p;
	sp1 = memchr(line, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', line + n - sp1 - 1) : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || sp1[1] != '/')
		return PARSE_BAD;
	for (const char *c = line; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return PARSE_BAD;
	if (line + n - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return PARSE_BAD;
	http10 = sp2[8] == '0';
	req->keep_alive = !http10;
	if (sp1 - line == 3 && !memcmp(line, "GET", 3))
		req->route = route_target(sp1 + 1, sp2 - sp1 - 1, &req->id);
	else
		req->route = ROUTE_BAD_METHOD;

	/* Header fields until the empty line. */
	for (p = next;;) {
		const char *colon, *value;
		size_t name_len, value_len;

		n = next_line(p, end, &next);
		if (n < 0)
			return PARSE_INCOMPLETE;
		if (n == 0)
			break;
		if (*p == ' ' || *p == '\t') /* obsolete line folding */
			return PARSE_BAD;
		colon = memchr(p, ':', n);
		if (!colon || colon == p)
			return PARSE_BAD;
		for (const char *c = p; c < colon; c++)
			if (!is_token_char(*c))
				return PARSE_BAD;
		name_len = colon - p;
		value = colon + 1;
		value_len = p + n - value;
		trim(&value, &value_len);
		if (header_is(p, name_len, "content-length")) {
			uint64_t v = 0;

			if (!value_len || value_len > 9 || have_length)
				return value_len > 9 ? PARSE_TOO_LARGE : PARSE_BAD;
			for (size_t i = 0; i < value_len; i++) {
				if (value[i] < '0' || value[i] > '9')
					return PARSE_BAD;
				v = v * 10 + (uint64_t)(value[i] - '0');
			}
			body = v;
			have_length = true;
		} else if (header_is(p, name_len, "transfer-encoding")) {
			return PARSE_UNSUPPORTED;
		} else if (header_is(p, name_len, "connection")) {
			if (value_len == 5 && !strncasecmp(value, "close", 5))
				req->keep_alive = false;
			else if (value_len == 10 && !strncasecmp(value, "keep-alive", 10))
				req->keep_alive = true;
		}
		p = next;
	}
	if ((size_t)(next - buf) + body > IN_CAP)
		return PARSE_TOO_LARGE;
	if ((size_t)(next - buf) + body > len)
		return PARSE_INCOMPLETE;
	req->len = (size_t)(next - buf) + body;
	return PARSE_OK;
}

/* ---- one task per connection ---------------------------------------------------------------- */

struct connection {
	struct async_frame frame;
	int fd;
	bool close_after;
	struct request req;
	size_t in_len;
	size_t out_len;
	struct async_read read;
	struct async_write write;
	struct handle_request handler;
	char in[IN_CAP];
	char out[OUT_CAP];
};

static void respond(struct connection *c, int status, const char *reason, const char *body,
		    int body_len)
{
	int n = snprintf(c->out, sizeof(c->out),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\n%s%s\r\n",
			 status, reason, body_len, status == 405 ? "Allow: GET\r\n" : "",
			 c->close_after ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n + (size_t)body_len > sizeof(c->out)) {
		n = 0; /* cannot happen with the bodies below; answer nothing and close */
		c->close_after = true;
	} else {
		memcpy(c->out + n, body, body_len);
		n += body_len;
	}
	c->out_len = (size_t)n;
}

static void respond_error(struct connection *c, int status, const char *reason)
{
	char body[96];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", reason);

	respond(c, status, reason, body, n);
}

static enum async_poll connection_poll(struct connection *c, struct async_cx *cx)
{
	enum parse_result r;

	ASYNC_BEGIN(c);
	for (;;) {
		r = parse_request(c->in, c->in_len, &c->req);
		if (r == PARSE_INCOMPLETE && c->in_len == sizeof(c->in))
			r = PARSE_TOO_LARGE;
		if (r == PARSE_INCOMPLETE) {
			async_read_init(&c->read, c->fd, c->in + c->in_len,
					sizeof(c->in) - c->in_len);
			ASYNC_AWAIT(c, cx, async_read, &c->read);
			if (c->read.result <= 0)
				break; /* peer closed, or a read error */
			c->in_len += (size_t)c->read.result;
			continue;
		}
		if (r != PARSE_OK) {
			c->close_after = true;
			if (r == PARSE_TOO_LARGE)
				respond_error(c, 431, "Request Header Fields Too Large");
			else if (r == PARSE_UNSUPPORTED)
				respond_error(c, 501, "Not Implemented");
			else
				respond_error(c, 400, "Bad Request");
		} else {
			c->close_after = !c->req.keep_alive;
			memmove(c->in, c->in + c->req.len, c->in_len - c->req.len);
			c->in_len -= c->req.len;
			if (c->req.route == ROUTE_USER) {
				handle_request_init(&c->handler, c->req.id);
				ASYNC_AWAIT(c, cx, handle_request, &c->handler);
				respond(c, 200, "OK", c->handler.body, c->handler.body_len);
			} else if (c->req.route == ROUTE_BAD_METHOD) {
				respond_error(c, 405, "Method Not Allowed");
			} else {
				respond_error(c, 404, "Not Found");
			}
		}
		async_write_init(&c->write, c->fd, c->out, c->out_len);
		ASYNC_AWAIT(c, cx, async_write, &c->write);
		if (c->write.result < 0 || c->close_after)
			break;
	}
	ASYNC_RETURN(c);
}

static void connection_drop(struct connection *c)
{
	handle_request_drop(&c->handler);
	async_close(c->fd);
	free(c);
}

/* ---- the accept loop ---------------------------------------------------------------------- */

struct acceptor {
	struct async_frame frame;
	int listen_fd;
	struct async_accept accept;
	struct async_sleep backoff;
	uint64_t connections;
};

static int serve_connection(struct async_cx *cx, int fd)
{
	struct connection *c = calloc(1, sizeof(*c));
	int err;

	if (!c) {
		async_close(fd);
		return ASYNC_ENOMEM;
	}
	c->fd = fd;
	err = async_spawn_cx(cx, "connection", ASYNC_POLL_FN(connection_poll), c,
			     ASYNC_DROP_FN(connection_drop), NULL);
	if (err < 0) {
		async_close(fd);
		free(c);
	}
	return err;
}

static enum async_poll acceptor_poll(struct acceptor *a, struct async_cx *cx)
{
	ASYNC_BEGIN(a);
	for (;;) {
		async_accept_init(&a->accept, a->listen_fd);
		ASYNC_AWAIT(a, cx, async_accept, &a->accept);
		if (a->accept.result == 0 && ASYNC_CALL(serve_connection, cx, a->accept.fd) == 0) {
			a->connections++;
			continue;
		}
		/* Out of descriptors or memory: back off a little instead of spinning. */
		async_sleep_init(&a->backoff, 10 * ASYNC_MSEC);
		ASYNC_AWAIT(a, cx, async_sleep, &a->backoff);
	}
	ASYNC_RETURN(a);
}

static void usage(void)
{
	printf("Usage: http_server [--port P] [--threads T] [--io-us US]\n"
	       "\n"
	       "Serves GET /users/ID as JSON on 127.0.0.1 with HTTP/1.1 keep-alive, one task per\n"
	       "connection. Each request runs handle_request, which awaits db_get_user,\n"
	       "check_permissions and fetch_data, each US microseconds of simulated I/O.\n"
	       "Prints \"listening on 127.0.0.1:PORT\" once ready; runs until killed.\n"
	       "\n"
	       "  -p, --port P      TCP port (default 8080; 0 picks a free one)\n"
	       "  -t, --threads T   worker threads (default: one per CPU)\n"
	       "  -u, --io-us US    simulated I/O per step in microseconds (default 1000)\n"
	       "  -h, --help        this text\n"
	       "\n"
	       "EXAMPLES\n"
	       "  http_server --port 8080 & curl http://127.0.0.1:8080/users/42\n"
	       "  wrk -t2 -c32 -d3s http://127.0.0.1:8080/users/1\n"
	       "  sudo async-inspect trace -p $(pgrep http_server) -d 5\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "io-us", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct async_exec_opts opts = { 0 };
	struct acceptor acceptor = { 0 };
	struct async_exec *exec;
	uint16_t port = 8080, bound = 0;
	char what[64];
	int c, err;

	ex_prog = "http_server";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:t:u:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = (uint16_t)ex_parse_uint("--port", optarg, 0, 65535);
			break;
		case 'u':
			io_ns = ex_parse_uint("--io-us", optarg, 0, 10000000) * ASYNC_USEC;
			break;
		default: /* -t, -h and bad options */
			ex_common_option(argv, c, &opts, usage);
		}
	}
	ex_no_operands(argc, argv);

	signal(SIGPIPE, SIG_IGN); /* a peer that hangs up shows as EPIPE from write */
	err = async_tcp_listen("127.0.0.1", port, 512, &bound);
	if (err < 0) {
		snprintf(what, sizeof(what), "listen on 127.0.0.1:%u", port);
		ex_fail(what, err);
	}
	acceptor.listen_fd = err;
	exec = ex_exec_new(&opts);
	printf("listening on 127.0.0.1:%u\n", bound);
	fflush(stdout);
	err = async_block_on(exec, "acceptor", ASYNC_POLL_FN(acceptor_poll), &acceptor);
	async_exec_free(exec);
	if (err < 0)
		ex_fail("serve", err);
	return 0;
}
