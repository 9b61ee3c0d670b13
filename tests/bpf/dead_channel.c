/* SPDX-License-Identifier: MIT */
/*
 * A task that waits on a channel nothing can fill (or drain) any more, for
 * tests/bpf/test_deadlock_channel.sh. libasync wakes every waiter when a channel
 * closes, so such a task needs a lost wake-up: here a hand-written "select" that polls
 * its channel operation on its first poll only and afterwards just checks a flag (it
 * forgot to re-poll that branch), so the wake that the close sends is swallowed.
 *
 *   dead_channel          `dispatcher` waits to receive from `jobs`; `producer` drops
 *                         the only sender without sending: 0 senders, nothing queued
 *   dead_channel --send   `reporter` waits to send into the full `reports`; `collector`
 *                         drops the receiver without receiving: the receiver is gone
 *   dead_channel --healthy `consumer` waits to receive from `events` (a live sender
 *                         sends one item every 2 s) and `drainer` receives from a
 *                         closed channel until ASYNC_EPIPE: nothing is stuck
 *
 * Prints "ready (pid N)" once the state is in place; runs until killed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <async/async.h>

static struct async_chan *jobs, *reports, *events, *done_chan;
static bool stop_requested; /* never set: the flag the buggy select watches */

static void ready(void)
{
	printf("ready (pid %d)\n", (int)getpid());
	fflush(stdout);
}

/* ---- the stuck receive ----------------------------------------------------------------- */

struct dispatcher {
	struct async_frame frame;
	struct async_recv recv;
	int job;
	int polls;
};

static enum async_poll dispatcher_poll(struct dispatcher *f, struct async_cx *cx)
{
	ASYNC_TRACE(f->frame);
	if (f->polls++ == 0) { /* first poll: start the receive */
		async_recv_init(&f->recv, jobs, &f->job);
		return async_recv_poll(&f->recv, cx);
	}
	/* BUG: the receive is never polled again; the close's wake lands here */
	if (f->polls == 2)
		ready();
	return stop_requested ? ASYNC_READY : ASYNC_PENDING;
}

struct producer {
	struct async_frame frame;
	struct async_sleep pause;
};

static enum async_poll producer_poll(struct producer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->pause, 50 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	async_chan_sender_drop(jobs); /* the last sender: the channel closes */
	ASYNC_RETURN(f);
}

/* ---- the stuck send -------------------------------------------------------------------- */

struct reporter {
	struct async_frame frame;
	struct async_send send;
	int report;
	int polls;
};

static enum async_poll reporter_poll(struct reporter *f, struct async_cx *cx)
{
	ASYNC_TRACE(f->frame);
	if (f->polls++ == 0) { /* first poll: `reports` is full, the send waits */
		f->report = 2;
		async_send_init(&f->send, reports, &f->report);
		return async_send_poll(&f->send, cx);
	}
	if (f->polls == 2)
		ready();
	return stop_requested ? ASYNC_READY : ASYNC_PENDING;
}

struct collector {
	struct async_frame frame;
	struct async_sleep pause;
};

static enum async_poll collector_poll(struct collector *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	async_sleep_init(&f->pause, 50 * ASYNC_MSEC);
	ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	async_chan_receiver_drop(reports); /* never received anything */
	ASYNC_RETURN(f);
}

/* ---- healthy --------------------------------------------------------------------------- */

struct ticker {
	struct async_frame frame;
	struct async_sleep pause;
	struct async_send send;
	int tick;
};

static enum async_poll ticker_poll(struct ticker *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_send_init(&f->send, events, &f->tick);
		ASYNC_AWAIT(f, cx, async_send, &f->send);
		f->tick++;
		async_sleep_init(&f->pause, 2000 * ASYNC_MSEC);
		ASYNC_AWAIT(f, cx, async_sleep, &f->pause);
	}
	ASYNC_RETURN(f);
}

struct consumer {
	struct async_frame frame;
	struct async_recv recv;
	int event;
	int got;
};

static enum async_poll consumer_poll(struct consumer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_recv_init(&f->recv, events, &f->event);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
		if (f->recv.result)
			break;
		if (f->got++ == 0)
			ready();
	}
	ASYNC_RETURN(f);
}

struct drainer {
	struct async_frame frame;
	struct async_recv recv;
	int item;
	int got;
};

static enum async_poll drainer_poll(struct drainer *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	do {
		async_recv_init(&f->recv, done_chan, &f->item);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
		f->got += f->recv.result == 0;
	} while (!f->recv.result);
	async_chan_receiver_drop(done_chan);
	ASYNC_RETURN(f);
}

int main(int argc, char **argv)
{
	static struct dispatcher dispatcher;
	static struct producer producer;
	static struct reporter reporter;
	static struct collector collector;
	static struct ticker ticker;
	static struct consumer consumer;
	static struct drainer drainer;
	struct async_exec_opts opts = { .workers = 1 };
	const char *mode = argc > 1 ? argv[1] : "";
	struct async_exec *exec;
	int item = 1, err;

	if (argc > 2 || (*mode && strcmp(mode, "--send") && strcmp(mode, "--healthy"))) {
		fprintf(stderr, "usage: dead_channel [--send | --healthy]\n");
		return 2;
	}
	err = async_exec_new(&opts, &exec);
	if (err)
		goto out;
	if (!*mode) {
		err = async_chan_new(4, sizeof(int), &jobs);
		if (!err)
			err = async_spawn(exec, "dispatcher", ASYNC_POLL_FN(dispatcher_poll),
					  &dispatcher, NULL, NULL);
		if (!err)
			err = async_spawn(exec, "producer", ASYNC_POLL_FN(producer_poll), &producer,
					  NULL, NULL);
	} else if (!strcmp(mode, "--send")) {
		err = async_chan_new(1, sizeof(int), &reports);
		if (!err)
			err = async_chan_try_send(reports, &item); /* full */
		if (!err)
			err = async_spawn(exec, "reporter", ASYNC_POLL_FN(reporter_poll), &reporter,
					  NULL, NULL);
		if (!err)
			err = async_spawn(exec, "collector", ASYNC_POLL_FN(collector_poll),
					  &collector, NULL, NULL);
	} else {
		err = async_chan_new(1, sizeof(int), &events);
		if (!err)
			err = async_chan_new(2, sizeof(int), &done_chan);
		if (!err)
			err = async_chan_try_send(done_chan, &item);
		if (!err) {
			async_chan_sender_drop(done_chan); /* closed, one item left to drain */
			err = async_spawn(exec, "drainer", ASYNC_POLL_FN(drainer_poll), &drainer,
					  NULL, NULL);
		}
		if (!err)
			err = async_spawn(exec, "consumer", ASYNC_POLL_FN(consumer_poll), &consumer,
					  NULL, NULL);
		if (!err)
			err = async_spawn(exec, "ticker", ASYNC_POLL_FN(ticker_poll), &ticker, NULL,
					  NULL);
	}
	if (!err)
		err = async_exec_run(exec);
out:
	fprintf(stderr, "dead_channel: %s\n", async_strerror(err));
	return 1;
}
