/* SPDX-License-Identifier: MIT */
/*
 * struct async_chan_abi at the start of every channel (include/async/abi.h): magic,
 * senders, receiver, len, capacity, the OBJECT descriptor and the tasks at either end,
 * kept current by every operation, as async-inspect reads them from another process.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "exec_modes.h"

static const struct async_chan_abi *abi_of(const struct async_chan *ch)
{
	return (const struct async_chan_abi *)ch;
}

#define assert_chan(ch, senders_, receiver_, len_)                     \
	do {                                                           \
		assert_int_equal(abi_of(ch)->magic, ASYNC_CHAN_MAGIC); \
		assert_int_equal(abi_of(ch)->senders, (senders_));     \
		assert_int_equal(abi_of(ch)->receiver, (receiver_));   \
		assert_int_equal(abi_of(ch)->len, (len_));             \
		assert_int_equal(async_chan_len(ch), abi_of(ch)->len); \
	} while (0)

static void test_fields(void **state)
{
	struct async_chan *jobs = NULL;
	int line = __LINE__ + 3, v = 7, out;

	(void)state;
	assert_int_equal(async_chan_new(3, sizeof(int), &jobs), 0);
	const struct async_desc *d = (const void *)(uintptr_t)abi_of(jobs)->desc;

	assert_non_null(d);
	assert_int_equal(d->magic, ASYNC_DESC_MAGIC);
	assert_int_equal(d->kind, ASYNC_DESC_OBJECT);
	assert_string_equal(d->callee, "&jobs");
	assert_string_equal(d->function, "test_fields");
	assert_string_equal(d->file, __FILE__);
	assert_int_equal(d->line, line);
	assert_int_equal(abi_of(jobs)->capacity, 3);
	assert_chan(jobs, 1, 1, 0);

	async_chan_sender_clone(jobs);
	async_chan_sender_clone(jobs);
	assert_chan(jobs, 3, 1, 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(async_chan_try_send(jobs, &v), 0);
		assert_chan(jobs, 3, 1, i);
	}
	assert_int_equal(async_chan_try_send(jobs, &v), ASYNC_EAGAIN);
	assert_chan(jobs, 3, 1, 3);
	assert_int_equal(async_chan_try_recv(jobs, &out), 0);
	assert_chan(jobs, 3, 1, 2);
	async_chan_sender_drop(jobs);
	async_chan_sender_drop(jobs);
	assert_chan(jobs, 1, 1, 2);
	/* receiver gone: queued items discarded */
	async_chan_receiver_drop(jobs);
	assert_chan(jobs, 1, 0, 0);
	assert_int_equal(abi_of(jobs)->capacity, 3);
	async_chan_sender_drop(jobs); /* frees it */

	/* the sender side closes first: the receiver drains, the count says 0 */
	assert_int_equal(async_chan_new(1, 0, &jobs), 0);
	assert_int_equal(abi_of(jobs)->capacity, 1);
	assert_int_equal(async_chan_try_send(jobs, NULL), 0);
	async_chan_sender_drop(jobs);
	assert_chan(jobs, 0, 1, 1);
	assert_int_equal(async_chan_try_recv(jobs, NULL), 0);
	assert_chan(jobs, 0, 1, 0);
	async_chan_receiver_drop(jobs);

	/* len is 32 bits in the record: larger capacities are refused */
	if (SIZE_MAX > UINT32_MAX) {
		jobs = NULL;
		assert_int_equal(async_chan_new((size_t)UINT32_MAX + 1, 0, &jobs), ASYNC_EINVAL);
		assert_null(jobs);
	}
}

/*
 * Through waits: a producer fills a capacity-2 channel and waits with a third item;
 * the observer, after a pause that leaves the producer waiting, checks the fields, receives once
 * (the waiting sender's item moves into the ring: len stays 2), then drains and drops.
 */
struct producer {
	struct async_frame frame;
	struct async_chan *ch;
	int item;
	int i;
	int failed; /* sends that did not complete with 0 */
	struct async_send send;
};

static enum async_poll producer_poll(struct producer *p, struct async_cx *cx)
{
	ASYNC_BEGIN(p);
	for (p->i = 0; p->i < 3; p->i++) {
		p->item = p->i;
		async_send_init(&p->send, p->ch, &p->item);
		ASYNC_AWAIT(p, cx, async_send, &p->send);
		p->failed += p->send.result != 0;
	}
	async_chan_sender_drop(p->ch);
	ASYNC_RETURN(p);
}

struct observer {
	struct async_frame frame;
	struct async_chan *ch;
	struct async_join *pj;
	struct async_sleep pause;
	struct async_recv recv;
	int out;
	int got;
	uint32_t len_full, len_after, senders_end;
	uint32_t producer_wait;
	uint64_t send_task_full, recv_task_before, recv_task_end, my_id;
};

static enum async_poll observer_poll(struct observer *o, struct async_cx *cx)
{
	ASYNC_BEGIN(o);
	async_sleep_init(&o->pause, 20 * ASYNC_MSEC);
	ASYNC_AWAIT(o, cx, async_sleep, &o->pause);
	o->len_full = abi_of(o->ch)->len;
	o->send_task_full = abi_of(o->ch)->send_task;
	o->recv_task_before = abi_of(o->ch)->recv_task;
	o->my_id = async_cx_task_id(cx);
	o->producer_wait = ((const struct async_task_abi *)(const void *)o->pj->task)->wait_kind;
	assert_int_equal(async_chan_try_recv(o->ch, &o->out), 0);
	o->len_after = abi_of(o->ch)->len;
	for (;;) {
		async_recv_init(&o->recv, o->ch, &o->out);
		ASYNC_AWAIT(o, cx, async_recv, &o->recv);
		if (o->recv.result)
			break;
		o->got++;
	}
	o->senders_end = abi_of(o->ch)->senders;
	o->recv_task_end = abi_of(o->ch)->recv_task;
	async_chan_receiver_drop(o->ch);
	ASYNC_RETURN(o);
}

static void test_fields_with_waits(void **state)
{
	struct async_exec *e = mode_exec(state);
	struct producer p = { 0 };
	struct observer o = { 0 };
	struct async_join pj = { 0 };

	assert_int_equal(async_chan_new(2, sizeof(int), &p.ch), 0);
	o.ch = p.ch;
	o.pj = &pj;
	assert_int_equal(async_spawn(e, "producer", ASYNC_POLL_FN(producer_poll), &p, NULL, &pj),
			 0);
	assert_int_equal(async_spawn(e, "observer", ASYNC_POLL_FN(observer_poll), &o, NULL, NULL),
			 0);
	assert_int_equal(async_exec_run(e), 0);
	assert_int_equal(o.len_full, 2);
	assert_int_equal(o.producer_wait, ASYNC_WAIT_CHAN_SEND);
	assert_int_equal(o.len_after, 2); /* the waiting sender's item took the freed slot */
	assert_int_equal(o.got, 2);
	assert_int_equal(p.failed, 0);
	assert_int_equal(o.senders_end, 0);
	/* the ends by task id: the producer waiting on the full channel, no receiving task
	 * until the observer's first async receive (try_recv names none) */
	assert_int_equal(o.send_task_full, async_join_task_id(&pj));
	assert_int_equal(o.recv_task_before, 0);
	assert_int_equal(o.recv_task_end, o.my_id);
	async_join_drop(&pj);
	async_exec_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		BOTH_MODES(test_fields_with_waits),
	};

	return RUN_AT_UPTIMES(tests);
}
