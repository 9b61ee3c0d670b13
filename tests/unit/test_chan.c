/* SPDX-License-Identifier: MIT */
/* The bounded mpsc channel: backpressure, order, close, receiver drop, many producers. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec_modes.h"

/* ---- non-async API ------------------------------------------------------------------- */

static void test_try_ops(void **state)
{
	struct async_chan *ch = NULL;
	int v, out;

	(void)state;
	assert_int_equal(async_chan_new(0, sizeof(int), &ch), ASYNC_EINVAL);
	assert_null(ch);
	assert_int_equal(async_chan_new(SIZE_MAX / 2, 4, &ch), ASYNC_EINVAL);
	assert_int_equal(async_chan_new(3, sizeof(int), &ch), 0);
	assert_non_null(ch);
	assert_int_equal(async_chan_try_recv(ch, &out), ASYNC_EAGAIN);
	for (v = 0; v < 3; v++)
		assert_int_equal(async_chan_try_send(ch, &v), 0);
	assert_int_equal(async_chan_len(ch), 3);
	assert_int_equal(async_chan_try_send(ch, &v), ASYNC_EAGAIN);
	assert_int_equal(async_chan_try_recv(ch, &out), 0);
	assert_int_equal(out, 0);
	v = 10;
	assert_int_equal(async_chan_try_send(ch, &v), 0); /* wraps around the ring */
	for (int want = 1; want < 3; want++) {
		assert_int_equal(async_chan_try_recv(ch, &out), 0);
		assert_int_equal(out, want);
	}
	/* Closing keeps what is queued: the receiver drains it, then sees EPIPE. */
	async_chan_sender_drop(ch);
	assert_int_equal(async_chan_try_recv(ch, &out), 0);
	assert_int_equal(out, 10);
	assert_int_equal(async_chan_try_recv(ch, &out), ASYNC_EPIPE);
	async_chan_receiver_drop(ch); /* frees it (ASan sees a leak otherwise) */

	/* Receiver gone: sends fail, queued items are discarded. */
	assert_int_equal(async_chan_new(2, sizeof(int), &ch), 0);
	async_chan_sender_clone(ch);
	assert_int_equal(async_chan_try_send(ch, &v), 0);
	async_chan_receiver_drop(ch);
	assert_int_equal(async_chan_try_send(ch, &v), ASYNC_EPIPE);
	async_chan_sender_drop(ch);
	async_chan_sender_drop(ch);

	async_chan_sender_drop(NULL);
	async_chan_receiver_drop(NULL);
	assert_int_equal(async_chan_len(NULL), 0);
}

/* ---- backpressure: with capacity C and no receive, exactly C sends complete ----------- */

#define BP_CAP	 4
#define BP_SENDS 10

struct bp_producer {
	struct async_frame frame;
	struct async_chan *ch;
	int i;
	int item;
	int completed;
	int last_result;
	struct async_send send;
};

static enum async_poll bp_producer_poll(struct bp_producer *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	for (p->i = 0; p->i < BP_SENDS; p->i++) {
		p->item = p->i;
		async_send_init(&p->send, p->ch, &p->item);
		ASYNC_AWAIT(p, cx, async_send, &p->send);
		p->last_result = p->send.result;
		if (p->send.result)
			break;
		__atomic_fetch_add(&p->completed, 1, __ATOMIC_SEQ_CST);
	}
	async_chan_sender_drop(p->ch);
	ASYNC_RETURN(p);
}

struct bp_observer {
	struct async_frame frame;
	struct bp_producer *p;
	struct async_sleep sleep;
	int completed_then;
	size_t len_then;
	uint32_t wait_kind_then;
	uint64_t wait_obj_then;
	struct async_join *pjoin;
};

static enum async_poll bp_observer_poll(struct bp_observer *o, struct async_cx *cx)
{
	const struct async_task_abi *t;

	ASYNC_BEGIN(o);
	/* Give the producer every chance to overrun. */
	async_sleep_init(&o->sleep, 50 * ASYNC_MSEC);
	ASYNC_AWAIT(o, cx, async_sleep, &o->sleep);
	o->completed_then = __atomic_load_n(&o->p->completed, __ATOMIC_SEQ_CST);
	o->len_then = async_chan_len(o->p->ch);
	t = (const void *)o->pjoin->task;
	o->wait_kind_then = t->wait_kind;
	o->wait_obj_then = t->wait_obj;
	async_chan_receiver_drop(o->p->ch); /* wakes the producer with EPIPE */
	ASYNC_RETURN(o);
}

static void test_backpressure(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct bp_producer p = { 0 };
	struct bp_observer o = { 0 };
	struct async_join pj = { 0 };

	assert_int_equal(async_chan_new(BP_CAP, sizeof(int), &p.ch), 0);
	o.p = &p;
	o.pjoin = &pj;
	assert_int_equal(async_spawn(e, "producer", ASYNC_POLL_FN(bp_producer_poll), &p, NULL, &pj),
			 0);
	assert_int_equal(
	    async_spawn(e, "observer", ASYNC_POLL_FN(bp_observer_poll), &o, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(o.completed_then, BP_CAP);
	assert_int_equal(o.len_then, BP_CAP);
	assert_int_equal(o.wait_kind_then, ASYNC_WAIT_CHAN_SEND);
	assert_int_equal(o.wait_obj_then, (uint64_t)(uintptr_t)p.ch);
	assert_int_equal(p.completed, BP_CAP);
	assert_int_equal(p.last_result, ASYNC_EPIPE);
	async_join_drop(&pj);
	async_exec_free(e);
}

/* ---- many producers, one consumer: order per producer, exact sum, close --------------- */

struct producer {
	struct async_frame frame;
	struct async_chan *ch;
	uint32_t id;
	uint32_t n;
	uint32_t i;
	uint64_t item;
	int errors;
	struct async_send send;
};

static enum async_poll producer_poll(struct producer *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	for (p->i = 0; p->i < p->n; p->i++) {
		p->item = (uint64_t)p->id << 32 | p->i;
		async_send_init(&p->send, p->ch, &p->item);
		ASYNC_AWAIT(p, cx, async_send, &p->send);
		if (p->send.result)
			p->errors++;
	}
	async_chan_sender_drop(p->ch); /* the last one closes the channel */
	ASYNC_RETURN(p);
}

#define MAX_PRODUCERS 8

struct consumer {
	struct async_frame frame;
	struct async_chan *ch;
	uint64_t item;
	uint64_t sum;
	uint64_t count;
	uint32_t next[MAX_PRODUCERS]; /* next sequence number expected per producer */
	int out_of_order;
	int end_result;
	struct async_recv recv;
};

static enum async_poll consumer_poll(struct consumer *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	for (;;) {
		async_recv_init(&c->recv, c->ch, &c->item);
		ASYNC_AWAIT(c, cx, async_recv, &c->recv);
		if (c->recv.result) {
			c->end_result = c->recv.result;
			break;
		}
		if ((c->item >> 32) >= MAX_PRODUCERS ||
		    (uint32_t)c->item != c->next[c->item >> 32]++)
			c->out_of_order++;
		c->sum += (uint32_t)c->item;
		c->count++;
	}
	async_chan_receiver_drop(c->ch);
	ASYNC_RETURN(c);
}

static void run_mpsc(void **state, unsigned producers, uint32_t per, size_t cap)
{
	struct async_exec *e = mode_exec(state);
	struct producer *p = calloc(producers, sizeof(*p));
	struct consumer c = { 0 };
	struct async_chan *ch;
	uint64_t want = (uint64_t)producers * ((uint64_t)per * (per - 1) / 2);

	assert_non_null(p);
	assert_int_equal(async_chan_new(cap, sizeof(uint64_t), &ch), 0);
	c.ch = ch;
	assert_int_equal(async_spawn(e, "consumer", ASYNC_POLL_FN(consumer_poll), &c, NULL, NULL),
			 0);
	/* every sender handle exists before the first producer can run (and drop its own:
	 * on a multi-threaded executor it starts at once), or the channel could close early */
	for (unsigned i = 1; i < producers; i++)
		async_chan_sender_clone(ch);
	for (unsigned i = 0; i < producers; i++) {
		p[i].ch = ch;
		p[i].id = i;
		p[i].n = per;
		assert_int_equal(
		    async_spawn(e, "producer", ASYNC_POLL_FN(producer_poll), &p[i], NULL, NULL), 0);
	}
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(c.count, (uint64_t)producers * per);
	assert_int_equal(c.sum, want);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(c.end_result, ASYNC_EPIPE);
	for (unsigned i = 0; i < producers; i++) {
		assert_int_equal(p[i].errors, 0);
		assert_int_equal(c.next[i], per);
	}
	async_exec_free(e);
	free(p);
}

static void test_order(void **state)
{
	run_mpsc(state, 1, 5000, 8);
}

static void test_mpsc_sum(void **state)
{
	run_mpsc(state, MAX_PRODUCERS, 5000, 16);
	run_mpsc(state, MAX_PRODUCERS, 2000, 1); /* capacity 1: every send hands off */
}

/* ---- close while the receiver waits; receiver drop while senders wait ----------------- */

struct closer {
	struct async_frame frame;
	struct async_chan *ch;
	struct async_sleep sleep;
	int which; /* 0: drop the sender, 1: drop the receiver */
};

static enum async_poll closer_poll(struct closer *c, struct async_cx *cx)
{
	ASYNC_BEGIN(c);
	async_sleep_init(&c->sleep, 20 * ASYNC_MSEC);
	ASYNC_AWAIT(c, cx, async_sleep, &c->sleep);
	if (c->which == 0)
		async_chan_sender_drop(c->ch);
	else
		async_chan_receiver_drop(c->ch);
	ASYNC_RETURN(c);
}

struct waiting_recv {
	struct async_frame frame;
	struct async_chan *ch;
	int item;
	int result;
	struct async_recv recv;
};

static enum async_poll waiting_recv_poll(struct waiting_recv *w, struct async_cx *cx)
{
	ASYNC_BEGIN(w);
	async_recv_init(&w->recv, w->ch, &w->item);
	ASYNC_AWAIT(w, cx, async_recv, &w->recv);
	w->result = w->recv.result;
	async_chan_receiver_drop(w->ch);
	ASYNC_RETURN(w);
}

static void test_close_wakes_receiver(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct waiting_recv w = { .result = 1 };
	struct closer c = { .which = 0 };

	assert_int_equal(async_chan_new(2, sizeof(int), &w.ch), 0);
	c.ch = w.ch;
	assert_int_equal(async_spawn(e, "recv", ASYNC_POLL_FN(waiting_recv_poll), &w, NULL, NULL),
			 0);
	assert_int_equal(async_spawn(e, "closer", ASYNC_POLL_FN(closer_poll), &c, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(w.result, ASYNC_EPIPE);
	async_exec_free(e);
}

struct blocked_sender {
	struct async_frame frame;
	struct async_chan *ch;
	int item;
	int results[3];
	int i;
	struct async_send send;
};

static enum async_poll blocked_sender_poll(struct blocked_sender *b, struct async_cx *cx)
{
	ASYNC_BEGIN(b);
	for (b->i = 0; b->i < 3; b->i++) {
		async_send_init(&b->send, b->ch, &b->item);
		ASYNC_AWAIT(b, cx, async_send, &b->send);
		b->results[b->i] = b->send.result;
	}
	async_chan_sender_drop(b->ch);
	ASYNC_RETURN(b);
}

static void test_receiver_drop_fails_senders(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct blocked_sender b = { 0 };
	struct closer c = { .which = 1 };

	assert_int_equal(async_chan_new(1, sizeof(int), &b.ch), 0);
	c.ch = b.ch;
	assert_int_equal(
	    async_spawn(e, "sender", ASYNC_POLL_FN(blocked_sender_poll), &b, NULL, NULL), 0);
	assert_int_equal(async_spawn(e, "closer", ASYNC_POLL_FN(closer_poll), &c, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(b.results[0], 0);	     /* into the ring */
	assert_int_equal(b.results[1], ASYNC_EPIPE); /* waited, then the receiver went away */
	assert_int_equal(b.results[2], ASYNC_EPIPE); /* fails at once */
	async_exec_free(e);
}

/* ---- drops of send/recv futures in every state, inside one task ----------------------- */

struct drops {
	struct async_frame frame;
	struct async_chan *ch;
	int a, b, c, out;
	struct async_send s1, s2, s3;
	struct async_recv r1, r2;
	int step_fail;
};

#define CHECK(d, step, cond)                     \
	do {                                     \
		if (!(cond) && !(d)->step_fail)  \
			(d)->step_fail = (step); \
	} while (0)

static enum async_poll drops_poll(struct drops *d, struct async_cx *cx)
{
	ASYNC_TRACE(d->frame);
	d->a = 1;
	d->b = 2;
	d->c = 3;
	CHECK(d, 1, async_chan_new(1, sizeof(int), &d->ch) == 0);
	/* A waiting receive, dropped while waiting. */
	async_recv_init(&d->r1, d->ch, &d->out);
	CHECK(d, 2, async_recv_poll(&d->r1, cx) == ASYNC_PENDING);
	async_recv_drop(&d->r1);
	/* Woken for an item, dropped before taking it: the next receive gets it. */
	async_recv_init(&d->r1, d->ch, &d->out);
	async_recv_init(&d->r2, d->ch, &d->out);
	CHECK(d, 3, async_recv_poll(&d->r1, cx) == ASYNC_PENDING);
	CHECK(d, 4, async_recv_poll(&d->r2, cx) == ASYNC_PENDING);
	CHECK(d, 5, async_chan_try_send(d->ch, &d->a) == 0);
	async_recv_drop(&d->r1);
	CHECK(d, 6, async_recv_poll(&d->r2, cx) == ASYNC_READY);
	CHECK(d, 7, d->r2.result == 0 && d->out == 1);
	async_recv_drop(&d->r2); /* complete: nothing to do */
	/* Full: two senders wait; the first is dropped while waiting. */
	async_send_init(&d->s1, d->ch, &d->a);
	CHECK(d, 8, async_send_poll(&d->s1, cx) == ASYNC_READY && d->s1.result == 0);
	async_send_init(&d->s2, d->ch, &d->b);
	async_send_init(&d->s3, d->ch, &d->c);
	CHECK(d, 9, async_send_poll(&d->s2, cx) == ASYNC_PENDING);
	CHECK(d, 10, async_send_poll(&d->s3, cx) == ASYNC_PENDING);
	async_send_drop(&d->s2);
	CHECK(d, 11, d->s2.result == ASYNC_ECANCELED);
	/* Taking the item moves s3's item into the ring: s3 is complete. */
	CHECK(d, 12, async_chan_try_recv(d->ch, &d->out) == 0 && d->out == 1);
	CHECK(d, 13, async_chan_len(d->ch) == 1);
	CHECK(d, 14, async_send_poll(&d->s3, cx) == ASYNC_READY && d->s3.result == 0);
	CHECK(d, 15, async_chan_try_recv(d->ch, &d->out) == 0 && d->out == 3);
	/* A sender handed off but dropped before its poll: its item was still sent. */
	CHECK(d, 16, async_chan_try_send(d->ch, &d->a) == 0);
	async_send_init(&d->s2, d->ch, &d->b);
	CHECK(d, 17, async_send_poll(&d->s2, cx) == ASYNC_PENDING);
	CHECK(d, 18, async_chan_try_recv(d->ch, &d->out) == 0 && d->out == 1);
	async_send_drop(&d->s2);
	CHECK(d, 19, d->s2.result == 0);
	CHECK(d, 20, async_chan_try_recv(d->ch, &d->out) == 0 && d->out == 2);
	/* A sender still waiting when the receiver goes away. */
	CHECK(d, 21, async_chan_try_send(d->ch, &d->a) == 0);
	async_send_init(&d->s3, d->ch, &d->c);
	CHECK(d, 22, async_send_poll(&d->s3, cx) == ASYNC_PENDING);
	async_chan_receiver_drop(d->ch);
	CHECK(d, 23, async_send_poll(&d->s3, cx) == ASYNC_READY && d->s3.result == ASYNC_EPIPE);
	async_send_drop(&d->s3);
	async_send_drop(NULL);
	async_recv_drop(NULL);
	async_chan_sender_drop(d->ch); /* last handle: freed */
	return ASYNC_READY;
}

static void test_future_drops(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct drops d = { 0 };

	assert_int_equal(async_spawn(e, "drops", ASYNC_POLL_FN(drops_poll), &d, NULL, NULL), 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(d.step_fail, 0);
	async_exec_free(e);
}

/* ---- a receive woken for an item but dropped passes the wake-up on ------------------ */

struct late_recv {
	struct async_frame frame;
	struct async_chan *ch;
	int item;
	int result;
	struct async_recv recv;
};

static enum async_poll late_recv_poll(struct late_recv *l, struct async_cx *cx)
{
	ASYNC_BEGIN(l);
	async_recv_init(&l->recv, l->ch, &l->item);
	ASYNC_AWAIT(l, cx, async_recv, &l->recv);
	l->result = l->recv.result;
	ASYNC_RETURN(l);
}

struct first_recv {
	struct async_frame frame;
	struct async_chan *ch;
	int item;
	struct async_recv recv;
	struct late_recv late;
	struct async_join join;
	struct async_sleep sleep;
	struct async_branch br[2];
	struct async_select sel;
	size_t winner;
};

static enum async_poll first_recv_poll(struct first_recv *f, struct async_cx *cx)
{
	const struct async_task_abi *t;

	ASYNC_BEGIN(f);
	/* Our receive queues first, the other task's second. */
	async_recv_init(&f->recv, f->ch, &f->item);
	if (async_recv_poll(&f->recv, cx) != ASYNC_PENDING)
		ASYNC_DONE(f);
	f->late.ch = f->ch;
	f->late.result = 1;
	if (async_spawn_cx(cx, "late", ASYNC_POLL_FN(late_recv_poll), &f->late, NULL, &f->join))
		ASYNC_DONE(f);
	for (;;) {
		t = (const void *)f->join.task;
		if (__atomic_load_n(&t->wait_kind, __ATOMIC_ACQUIRE) == ASYNC_WAIT_CHAN_RECV)
			break;
		ASYNC_YIELD(f, cx);
	}
	/* The item wakes our receive, which we drop unseen: the other one must be woken. */
	f->item = 5;
	async_chan_try_send(f->ch, &f->item);
	async_recv_drop(&f->recv);
	async_sleep_init(&f->sleep, 2 * ASYNC_SEC);
	f->br[0] = (struct async_branch){ ASYNC_POLL_FN(async_join_poll), &f->join };
	f->br[1] = (struct async_branch){ ASYNC_POLL_FN(async_sleep_poll), &f->sleep };
	async_select_init(&f->sel, f->br, 2);
	ASYNC_AWAIT(f, cx, async_select, &f->sel);
	f->winner = f->sel.winner;
	async_sleep_drop(&f->sleep);
	if (f->winner != 0) /* not woken: unblock it so the executor can finish */
		async_chan_sender_drop(f->ch);
	async_join_drop(&f->join);
	ASYNC_RETURN(f);
}

static void test_recv_drop_passes_wakeup(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct first_recv f = { 0 };

	assert_int_equal(async_chan_new(2, sizeof(int), &f.ch), 0);
	assert_int_equal(async_spawn(e, "first", ASYNC_POLL_FN(first_recv_poll), &f, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(f.winner, 0);
	assert_int_equal(f.late.result, 0);
	assert_int_equal(f.late.item, 5);
	if (f.winner == 0)
		async_chan_sender_drop(f.ch);
	async_chan_receiver_drop(f.ch);
	async_exec_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_try_ops),
		BOTH_MODES(test_backpressure),
		BOTH_MODES(test_order),
		BOTH_MODES(test_mpsc_sum),
		BOTH_MODES(test_close_wakes_receiver),
		BOTH_MODES(test_receiver_drop_fails_senders),
		BOTH_MODES(test_future_drops),
		BOTH_MODES(test_recv_drop_passes_wakeup),
	};

	alarm(120); /* a lost wake-up hangs a test: fail instead of blocking the suite */
	return RUN_AT_UPTIMES(tests);
}
