/* SPDX-License-Identifier: MIT */
/*
 * fetch_user: the feature brief's example, as libasync state machines.
 *
 *	async fn fetch_user(id: u64) -> User {
 *		let profile = fetch_profile(id).await;
 *		let posts = fetch_posts(id).await;
 *		User { profile, posts }
 *	}
 *
 * main spawns --users tasks named "fetch_user" and joins them. fetch_profile and
 * fetch_posts each await one simulated I/O (a timer of --io-ms). With --io-ms > 0 every
 * fetch_user task is polled exactly three times: pending at fetch_profile's I/O, pending
 * at fetch_posts' I/O, ready. --forever repeats the round until the process is killed,
 * for attaching a tracer by PID.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <async/async.h>

#include "opts.h"

struct profile {
	uint64_t id;
	char name[24];
};

struct posts {
	uint64_t user_id;
	unsigned count;
};

struct user {
	struct profile profile;
	struct posts posts;
};

/* ---- async fn fetch_profile(id) -> Profile ------------------------------------------- */

struct fetch_profile {
	struct async_frame frame;
	uint64_t id;
	uint64_t io_ns;
	struct async_sleep io; /* the simulated request */
	struct profile out;
};

static void fetch_profile_init(struct fetch_profile *f, uint64_t id, uint64_t io_ns)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->io_ns = io_ns;
}

static enum async_poll fetch_profile_poll(struct fetch_profile *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->io, f->io_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->io);
	f->out.id = f->id;
	snprintf(f->out.name, sizeof(f->out.name), "user-%" PRIu64, f->id);
	ASYNC_RETURN(f);
}

/* ---- async fn fetch_posts(id) -> Posts ---------------------------------------------- */

struct fetch_posts {
	struct async_frame frame;
	uint64_t id;
	uint64_t io_ns;
	struct async_sleep io;
	struct posts out;
};

static void fetch_posts_init(struct fetch_posts *f, uint64_t id, uint64_t io_ns)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->io_ns = io_ns;
}

static enum async_poll fetch_posts_poll(struct fetch_posts *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->io, f->io_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->io);
	f->out.user_id = f->id;
	f->out.count = (unsigned)(f->id % 7) + 1;
	ASYNC_RETURN(f);
}

/* ---- async fn fetch_user(id) -> User ------------------------------------------------ */

struct fetch_user {
	struct async_frame frame;
	uint64_t id;
	uint64_t io_ns;
	struct fetch_profile profile; /* awaited one after the other */
	struct fetch_posts posts;
	struct user out;
};

static void fetch_user_init(struct fetch_user *f, uint64_t id, uint64_t io_ns)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->io_ns = io_ns;
}

static enum async_poll fetch_user_poll(struct fetch_user *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	fetch_profile_init(&f->profile, f->id, f->io_ns);
	ASYNC_AWAIT(f, cx, fetch_profile, &f->profile);
	fetch_posts_init(&f->posts, f->id, f->io_ns);
	ASYNC_AWAIT(f, cx, fetch_posts, &f->posts);
	f->out = (struct user){ f->profile.out, f->posts.out };
	ASYNC_RETURN(f);
}

/* Cleanup when a task ends early (aborted): no timer may outlive its future. */
static void fetch_user_drop(struct fetch_user *f)
{
	async_sleep_drop(&f->profile.io);
	async_sleep_drop(&f->posts.io);
}

/* ---- async fn main(): spawn every fetch_user, join them, check what they returned --- */

struct main {
	struct async_frame frame;
	uint64_t users;
	uint64_t io_ns;
	bool forever;
	struct fetch_user *futures; /* one per user, alive until joined */
	struct async_join *joins;
	uint64_t i;
	uint64_t rounds;
	int err; /* first failure, negative errno */
};

/* A joined user must carry what fetch_user built for it. */
static bool user_ok(const struct user *u, uint64_t id)
{
	char name[24];

	snprintf(name, sizeof(name), "user-%" PRIu64, id);
	return u->profile.id == id && !strcmp(u->profile.name, name) && u->posts.user_id == id &&
	       u->posts.count == (unsigned)(id % 7) + 1;
}

static enum async_poll main_poll(struct main *m, struct async_cx *cx)
{
	int err;

	ASYNC_BEGIN(m);
	do {
		for (m->i = 0; m->i < m->users; m->i++) {
			fetch_user_init(&m->futures[m->i], m->i + 1, m->io_ns);
			err = async_spawn_cx(cx, "fetch_user", ASYNC_POLL_FN(fetch_user_poll),
					     &m->futures[m->i], ASYNC_DROP_FN(fetch_user_drop),
					     &m->joins[m->i]);
			if (err < 0) {
				m->err = err;
				break;
			}
		}
		m->users = m->i; /* join what was spawned */
		for (m->i = 0; m->i < m->users; m->i++) {
			ASYNC_AWAIT(m, cx, async_join, &m->joins[m->i]);
			if (m->joins[m->i].result < 0 && !m->err)
				m->err = m->joins[m->i].result;
			else if (!user_ok(&m->futures[m->i].out, m->i + 1) && !m->err)
				m->err = ASYNC_EIO;
			async_join_drop(&m->joins[m->i]);
		}
		m->rounds++;
	} while (m->forever && !m->err);
	ASYNC_RETURN(m);
}

static void usage(void)
{
	printf("Usage: fetch_user [--users N] [--io-ms M] [--threads T] [--forever]\n"
	       "\n"
	       "Spawns N tasks named fetch_user; each awaits fetch_profile then fetch_posts,\n"
	       "each of which awaits M ms of simulated I/O on the runtime's timers. Exits 0\n"
	       "once every user has been fetched and checked, with one summary line on\n"
	       "stderr (stdout stays empty).\n"
	       "\n"
	       "  -n, --users N     tasks per round (default 100)\n"
	       "  -m, --io-ms M     simulated I/O per request in ms (default 10; 0 = none)\n"
	       "  -t, --threads T   worker threads (default: one per CPU)\n"
	       "  -f, --forever     repeat rounds until killed (prints nothing per round)\n"
	       "  -h, --help        this text\n"
	       "\n"
	       "EXAMPLES\n"
	       "  fetch_user --users 200 --io-ms 5\n"
	       "  fetch_user --forever & sudo async-inspect trace -p $!\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "users", required_argument, NULL, 'n' },
		{ "io-ms", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "forever", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct async_exec_opts opts = { 0 };
	struct main m = { .users = 100, .io_ns = 10 * ASYNC_MSEC };
	struct async_exec *exec;
	uint64_t t0, elapsed;
	int c, err;

	ex_prog = "fetch_user";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:m:t:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			m.users = ex_parse_uint("--users", optarg, 1, 10000000);
			break;
		case 'm':
			m.io_ns = ex_parse_uint("--io-ms", optarg, 0, 3600000) * ASYNC_MSEC;
			break;
		case 'f':
			m.forever = true;
			break;
		default: /* -t, -h and bad options */
			ex_common_option(argv, c, &opts, usage);
		}
	}
	ex_no_operands(argc, argv);

	m.futures = calloc(m.users, sizeof(*m.futures));
	m.joins = calloc(m.users, sizeof(*m.joins));
	if (!m.futures || !m.joins)
		ex_fail("allocate tasks", ASYNC_ENOMEM);
	exec = ex_exec_new(&opts);

	t0 = async_now_ns();
	err = async_block_on(exec, "main", ASYNC_POLL_FN(main_poll), &m);
	elapsed = async_now_ns() - t0;
	async_exec_free(exec);
	if (!err)
		err = m.err;
	if (err < 0) {
		fprintf(stderr, "fetch_user: failed to fetch users: %s\n", async_strerror(err));
		return 1;
	}
	/* On stderr: stdout stays clean for tools that wrap the program (trace --json -- ...). */
	fprintf(stderr, "fetched %" PRIu64 " users in %.1f ms\n", m.users, elapsed / 1e6);
	free(m.futures);
	free(m.joins);
	return 0;
}
