/* SPDX-License-Identifier: MIT */
/*
 * deadlock: tasks that wait on each other in a cycle and never finish.
 *
 * Default: transfer and audit each take one of two async mutexes, sleep a little while
 * holding it, then await the other one, in opposite orders. Both hang; the runtime idles
 * and the process stays alive until it is killed, for `async-inspect deadlock -p PID`.
 *
 * --three: a cycle through JoinHandles. settle holds the ledger lock and awaits the
 * JoinHandle of reconcile; reconcile awaits the JoinHandle of post_entry; post_entry
 * awaits the ledger lock that settle holds.
 *
 * Once the cycle has formed, a watcher task prints one line ("deadlock: ready ...").
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <async/async.h>

#include "opts.h"

struct bank {
	struct async_mutex accounts;
	struct async_mutex ledger;
	uint64_t hold_ns;
};

static struct bank bank;

/* ---- two tasks, two locks, opposite order ---------------------------------------------- */

/* async fn lock_both(first, second): lock first, hold it a while, then lock second. */
struct lock_both {
	struct async_frame frame;
	struct async_mutex *first;
	struct async_mutex *second;
	struct async_lock lock1;
	struct async_sleep hold;
	struct async_lock lock2;
};

static enum async_poll lock_both_poll(struct lock_both *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock1, f->first);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock1);
	async_sleep_init(&f->hold, bank.hold_ns);
	ASYNC_AWAIT(f, cx, async_sleep, &f->hold);
	async_lock_init(&f->lock2, f->second);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock2); /* never completes */
	async_mutex_unlock(f->second, cx);
	async_mutex_unlock(f->first, cx);
	ASYNC_RETURN(f);
}

/* async fn transfer(): accounts, then ledger. */
struct transfer {
	struct async_frame frame;
	struct lock_both locks;
};

static enum async_poll transfer_poll(struct transfer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	f->locks.first = &bank.accounts;
	f->locks.second = &bank.ledger;
	ASYNC_AWAIT(f, cx, lock_both, &f->locks);
	ASYNC_RETURN(f);
}

/* async fn audit(): ledger, then accounts. */
struct audit {
	struct async_frame frame;
	struct lock_both locks;
};

static enum async_poll audit_poll(struct audit *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	f->locks.first = &bank.ledger;
	f->locks.second = &bank.accounts;
	ASYNC_AWAIT(f, cx, lock_both, &f->locks);
	ASYNC_RETURN(f);
}

/* ---- three tasks: settle -> join(reconcile) -> join(post_entry) -> ledger lock -------- */

/* async fn post_entry(): waits for the ledger lock settle holds. */
struct post_entry {
	struct async_frame frame;
	struct async_lock lock;
};

static enum async_poll post_entry_poll(struct post_entry *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock, &bank.ledger);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	async_mutex_unlock(&bank.ledger, cx);
	ASYNC_RETURN(f);
}

/* async fn reconcile(): spawns post_entry and awaits its JoinHandle. */
struct reconcile {
	struct async_frame frame;
	struct post_entry entry;
	struct async_join join;
	int err;
};

static enum async_poll reconcile_poll(struct reconcile *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	f->err = async_spawn_cx(cx, "post_entry", ASYNC_POLL_FN(post_entry_poll), &f->entry, NULL,
				&f->join);
	if (f->err < 0)
		ASYNC_DONE(f);
	ASYNC_AWAIT(f, cx, async_join, &f->join);
	async_join_drop(&f->join);
	ASYNC_RETURN(f);
}

/* async fn settle(): holds the ledger lock while it awaits reconcile's JoinHandle. */
struct settle {
	struct async_frame frame;
	struct async_lock lock;
	struct reconcile reconcile;
	struct async_join join;
	int err;
};

static enum async_poll settle_poll(struct settle *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_lock_init(&f->lock, &bank.ledger);
	ASYNC_AWAIT(f, cx, async_lock, &f->lock);
	f->err = async_spawn_cx(cx, "reconcile", ASYNC_POLL_FN(reconcile_poll), &f->reconcile, NULL,
				&f->join);
	if (f->err < 0) {
		async_mutex_unlock(&bank.ledger, cx);
		ASYNC_DONE(f);
	}
	ASYNC_AWAIT(f, cx, async_join, &f->join);
	async_join_drop(&f->join);
	async_mutex_unlock(&bank.ledger, cx);
	ASYNC_RETURN(f);
}

/* ---- the watcher: prints one line once the cycle has formed --------------------------- */

struct watcher {
	struct async_frame frame;
	bool three;
	struct async_sleep tick;
};

static bool cycle_formed(const struct watcher *w)
{
	unsigned accounts = __atomic_load_n(&bank.accounts.waiters, __ATOMIC_ACQUIRE);
	unsigned ledger = __atomic_load_n(&bank.ledger.waiters, __ATOMIC_ACQUIRE);

	return w->three ? ledger == 1 : accounts == 1 && ledger == 1;
}

static enum async_poll watcher_poll(struct watcher *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	while (!cycle_formed(w)) {
		async_sleep_init(&w->tick, 5 * ASYNC_MSEC);
		ASYNC_AWAIT(w, cx, async_sleep, &w->tick);
	}
	printf("deadlock: ready, %s (pid %d)\n",
	       w->three ? "settle -> reconcile -> post_entry -> settle" : "transfer <-> audit",
	       (int)getpid());
	fflush(stdout);
	ASYNC_RETURN(w);
}

static void usage(void)
{
	printf("Usage: deadlock [--three] [--hold-ms MS] [--threads T]\n"
	       "\n"
	       "Starts tasks that wait on each other in a cycle; they never finish and the\n"
	       "process stays alive (idle) until it is killed. Prints one line once the\n"
	       "cycle has formed.\n"
	       "\n"
	       "  -3, --three       three tasks, a cycle through two JoinHandles and a mutex\n"
	       "                    (default: two tasks locking two mutexes in opposite order)\n"
	       "  -H, --hold-ms MS  how long each task holds its first lock before taking the\n"
	       "                    second (default 10)\n"
	       "  -t, --threads T   worker threads (default: one per CPU)\n"
	       "  -h, --help        this text\n"
	       "\n"
	       "EXAMPLES\n"
	       "  deadlock & sleep 1; sudo async-inspect deadlock -p $!\n"
	       "  deadlock --three & sleep 1; sudo async-inspect graph -p $!\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "three", no_argument, NULL, '3' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct async_exec_opts opts = { 0 };
	struct watcher watcher = { 0 };
	struct transfer transfer = { 0 };
	struct audit audit = { 0 };
	struct settle settle = { 0 };
	struct async_exec *exec;
	int c, err;

	ex_prog = "deadlock";
	bank.hold_ns = 10 * ASYNC_MSEC;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":3H:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case '3':
			watcher.three = true;
			break;
		case 'H':
			bank.hold_ns = ex_parse_uint("--hold-ms", optarg, 0, 60000) * ASYNC_MSEC;
			break;
		default: /* -t, -h and bad options */
			ex_common_option(argv, c, &opts, usage);
		}
	}
	ex_no_operands(argc, argv);

	async_mutex_init(&bank.accounts);
	async_mutex_init(&bank.ledger);
	exec = ex_exec_new(&opts);
	if (watcher.three) {
		err = async_spawn(exec, "settle", ASYNC_POLL_FN(settle_poll), &settle, NULL, NULL);
	} else {
		err = async_spawn(exec, "transfer", ASYNC_POLL_FN(transfer_poll), &transfer, NULL,
				  NULL);
		if (!err)
			err = async_spawn(exec, "audit", ASYNC_POLL_FN(audit_poll), &audit, NULL,
					  NULL);
	}
	if (!err)
		err =
		    async_spawn(exec, "watcher", ASYNC_POLL_FN(watcher_poll), &watcher, NULL, NULL);
	if (err < 0)
		ex_fail("spawn tasks", err);
	/* Returns only if the cycle were ever broken: the tasks wait forever. */
	err = async_exec_run(exec);
	async_exec_free(exec);
	if (err < 0)
		ex_fail("run executor", err);
	return 0;
}
