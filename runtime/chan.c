/* SPDX-License-Identifier: MIT */
/*
 * The bounded mpsc channel: a ring buffer of `capacity` fixed-size items under a
 * spinlock, with FIFO queues of waiting senders and receivers.
 *
 * Backpressure is exact: at most `capacity` items are ever queued. A sender that finds
 * the ring full queues its waiter (pointing at its item); when the receiver takes an
 * item it moves the longest-waiting sender's item into the freed slot and wakes that
 * sender, whose send is then complete. So senders complete in FIFO order and no slot
 * can be taken by a sender that arrived later (no barging). A sender that puts an item
 * wakes the longest-waiting receive, which then takes an item from the ring.
 *
 * Invariant: senders wait only while the ring is full and the receiver is alive.
 *
 * The channel starts with struct async_chan_abi (include/async/abi.h): the sender count,
 * whether the receiver is alive, the queued length, the capacity and the OBJECT
 * descriptor, kept current with plain stores under the lock, so a tool reading the
 * process (async-inspect deadlock) can tell that nothing can wake a task waiting on it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "waitq.h"

struct async_chan {
	/* first: magic, senders (handles alive), receiver (1 while alive), len (items
	 * queued), capacity (items), desc (where async_chan_new named it) */
	struct async_chan_abi abi;
	int lock;
	unsigned refs;		     /* handles alive, plus drops still waking waiters */
	size_t item_size;	     /* bytes */
	size_t head;		     /* index of the oldest item */
	struct async__waitq sendq;   /* senders waiting for room (ring full) */
	struct async__waitq recvq;   /* receives waiting for an item */
	struct async__waiter *spare; /* a retired waiter, reused by the next wait */
	unsigned char *ring;
	unsigned char storage[];
};

int async__chan_new(size_t capacity, size_t item_size, const struct async_desc *desc,
		    struct async_chan **out)
{
	struct async_chan *ch;
	size_t bytes;

	if (!out)
		return ASYNC_EINVAL;
	*out = NULL;
	if (!capacity || capacity > UINT32_MAX ||
	    __builtin_mul_overflow(capacity, item_size, &bytes) || bytes > SIZE_MAX - sizeof(*ch))
		return ASYNC_EINVAL;
	ch = calloc(1, sizeof(*ch) + bytes);
	if (!ch)
		return ASYNC_ENOMEM;
	ch->refs = 2; /* one sender, the receiver */
	ch->abi.magic = ASYNC_CHAN_MAGIC;
	ch->abi.senders = 1;
	ch->abi.receiver = 1;
	ch->abi.capacity = capacity;
	ch->abi.desc = (uint64_t)(uintptr_t)desc;
	ch->item_size = item_size;
	ch->ring = ch->storage;
	*out = ch;
	return 0;
}

static inline unsigned char *slot(struct async_chan *ch, size_t i)
{
	size_t idx = ch->head + i;

	if (idx >= ch->abi.capacity)
		idx -= ch->abi.capacity;
	return ch->ring + idx * ch->item_size;
}

/* Appends an item to the ring (which has room). Under ch->lock. */
static inline void ring_put(struct async_chan *ch, const void *item)
{
	if (ch->item_size)
		memcpy(slot(ch, ch->abi.len), item, ch->item_size);
	ch->abi.len++;
}

/*
 * Takes the oldest item (the ring is not empty) and refills the freed slot from the
 * longest-waiting sender, whose waker it returns in *sender. Under ch->lock.
 */
static inline void ring_take(struct async_chan *ch, void *item, struct async_waker *sender)
{
	struct async__waiter *w;

	if (ch->item_size)
		memcpy(item, slot(ch, 0), ch->item_size);
	ch->head = ch->head + 1 == ch->abi.capacity ? 0 : ch->head + 1;
	ch->abi.len--;
	w = async__waitq_pop(&ch->sendq, ASYNC__GRANTED, sender);
	if (w)
		ring_put(ch, w->item);
}

/* An item was put: the longest-waiting receive should look. Under ch->lock. */
static inline void notify_receiver(struct async_chan *ch, struct async_waker *recv)
{
	async__waitq_pop(&ch->recvq, ASYNC__GRANTED, recv);
}

/* Wakes every waiter of `q`, marking them `state`; takes and drops ch->lock per waiter. */
static void wake_all(struct async_chan *ch, struct async__waitq *q, int state)
{
	for (;;) {
		struct async_waker waker = { 0 };
		bool popped;

		async__spin_lock(&ch->lock);
		popped = async__waitq_pop(q, state, &waker) != NULL;
		async__spin_unlock(&ch->lock);
		if (!popped)
			break;
		async_waker_wake(&waker);
	}
}

/* Names the task at one end of the channel (a store only when it changes). */
static inline void chan_note_task(__u64 *end, const struct async_cx *cx)
{
	uint64_t id = async_cx_task_id(cx);

	if (__atomic_load_n(end, __ATOMIC_RELAXED) != id)
		__atomic_store_n(end, id, __ATOMIC_RELAXED);
}

/* Releases one handle's reference; the last one frees the channel. */
static void chan_put(struct async_chan *ch)
{
	bool last;

	async__spin_lock(&ch->lock);
	last = --ch->refs == 0;
	async__spin_unlock(&ch->lock);
	if (last) {
		free(ch->spare);
		free(ch);
	}
}

void async_chan_sender_clone(struct async_chan *ch)
{
	if (!ch)
		return;
	async__spin_lock(&ch->lock);
	ch->abi.senders++;
	ch->refs++;
	async__spin_unlock(&ch->lock);
}

void async_chan_sender_drop(struct async_chan *ch)
{
	bool last;

	if (!ch)
		return;
	async__spin_lock(&ch->lock);
	last = --ch->abi.senders == 0;
	async__spin_unlock(&ch->lock);
	if (last) /* closed: waiting receives see ASYNC_EPIPE once the ring is empty */
		wake_all(ch, &ch->recvq, ASYNC__CLOSED);
	chan_put(ch);
}

void async_chan_receiver_drop(struct async_chan *ch)
{
	if (!ch)
		return;
	async__spin_lock(&ch->lock);
	ch->abi.receiver = 0;
	ch->abi.len = 0; /* queued items are discarded */
	async__spin_unlock(&ch->lock);
	wake_all(ch, &ch->sendq, ASYNC__CLOSED);
	wake_all(ch, &ch->recvq, ASYNC__CLOSED);
	chan_put(ch);
}

size_t async_chan_len(struct async_chan *ch)
{
	size_t len;

	if (!ch)
		return 0;
	async__spin_lock(&ch->lock);
	len = ch->abi.len;
	async__spin_unlock(&ch->lock);
	return len;
}

int async_chan_try_send(struct async_chan *ch, const void *item)
{
	struct async_waker recv = { 0 };
	int err = 0;

	if (!ch)
		return ASYNC_EINVAL;
	async__spin_lock(&ch->lock);
	if (!ch->abi.receiver) {
		err = ASYNC_EPIPE;
	} else if (ch->abi.len == ch->abi.capacity) {
		err = ASYNC_EAGAIN;
	} else {
		ring_put(ch, item);
		notify_receiver(ch, &recv);
	}
	async__spin_unlock(&ch->lock);
	if (recv.task)
		async_waker_wake(&recv);
	return err;
}

int async_chan_try_recv(struct async_chan *ch, void *item)
{
	struct async_waker sender = { 0 };
	int err = 0;

	if (!ch)
		return ASYNC_EINVAL;
	async__spin_lock(&ch->lock);
	if (ch->abi.len)
		ring_take(ch, item, &sender);
	else if (!ch->abi.senders || !ch->abi.receiver)
		err = ASYNC_EPIPE;
	else
		err = ASYNC_EAGAIN;
	async__spin_unlock(&ch->lock);
	if (sender.task)
		async_waker_wake(&sender);
	return err;
}

/* ---- waiters: one spare per channel spares a malloc per wait ---------------------------- */

/*
 * A waiter for the current task, under ch->lock: the channel's spare, or NULL when
 * there is none (the caller allocates one outside the lock).
 */
static inline struct async__waiter *chan_waiter_get(struct async_chan *ch, struct async_cx *cx)
{
	struct async__waiter *w = ch->spare;

	if (w) {
		ch->spare = NULL;
		w->waker = async_waker_clone(cx);
		w->task_id = async_cx_task_id(cx);
	}
	return w;
}

/*
 * Retires a dequeued waiter under ch->lock: moves its waker (if any) to *waker for the
 * caller to drop after unlocking, keeps it as the spare if there is none, else returns
 * it for the caller to free after unlocking.
 */
static inline struct async__waiter *
chan_waiter_retire(struct async_chan *ch, struct async__waiter *w, struct async_waker *waker)
{
	*waker = w->waker;
	w->waker.task = NULL;
	if (ch->spare)
		return w;
	ch->spare = w;
	return NULL;
}

/* Allocates a waiter outside the lock (the spare was taken). */
static struct async__waiter *waiter_alloc(struct async_cx *cx)
{
	struct async__waiter *w = async__waiter_new(cx);

	if (!w)
		async_cx_wake_self(cx); /* no memory to queue: look again soon */
	return w;
}

/* ---- send ---------------------------------------------------------------------------- */

void async_send_init(struct async_send *s, struct async_chan *ch, const void *item)
{
	s->frame = (struct async_frame){ 0 };
	s->chan = ch;
	s->item = item;
	s->result = 0;
	s->waiter = NULL;
}

enum async_poll async_send_poll(struct async_send *s, struct async_cx *cx)
{
	struct async_chan *ch = s->chan;
	struct async__waiter *w = s->waiter, *fresh = NULL;
	struct async_waker recv = { 0 }, old = { 0 };

	ASYNC_TRACE(s->frame);
	if (s->frame.resume) /* completed earlier */
		return ASYNC_READY;
	chan_note_task(&ch->abi.send_task, cx);
again:
	async__spin_lock(&ch->lock);
	if (w) {
		if (w->state == ASYNC__WAITING) {
			async__waiter_refresh(w, cx, &old);
			async__spin_unlock(&ch->lock);
			async_waker_drop(&old);
			return ASYNC_PENDING;
		}
		/* GRANTED: the receiver moved our item into the ring; CLOSED: it went away. */
		s->result = w->state == ASYNC__GRANTED ? 0 : ASYNC_EPIPE;
		w = chan_waiter_retire(ch, w, &old);
		async__spin_unlock(&ch->lock);
		async_waker_drop(&old);
		free(w);
		s->waiter = NULL;
		s->frame.resume = 1;
		async__wait_end(cx, ASYNC_WAIT_CHAN_SEND, (uint64_t)ch, 0);
		return ASYNC_READY;
	}
	if (!ch->abi.receiver || ch->abi.len < ch->abi.capacity) {
		if (ch->abi.receiver) {
			ring_put(ch, s->item);
			notify_receiver(ch, &recv);
			s->result = 0;
		} else {
			s->result = ASYNC_EPIPE;
		}
		if (fresh)
			fresh = chan_waiter_retire(ch, fresh, &old);
		async__spin_unlock(&ch->lock);
		async_waker_drop(&old);
		free(fresh);
		if (recv.task)
			async_waker_wake(&recv);
		s->frame.resume = 1;
		return ASYNC_READY;
	}
	/* Full: queue behind the senders already waiting. */
	w = fresh ? fresh : chan_waiter_get(ch, cx);
	if (!w) {
		async__spin_unlock(&ch->lock);
		fresh = waiter_alloc(cx);
		if (!fresh)
			return ASYNC_PENDING;
		goto again;
	}
	w->item = s->item;
	async__waitq_push(&ch->sendq, w);
	s->waiter = w;
	async__spin_unlock(&ch->lock);
	async__wait_begin(cx, ASYNC_WAIT_CHAN_SEND, (uint64_t)ch, 0);
	return ASYNC_PENDING;
}

void async_send_drop(struct async_send *s)
{
	struct async__waiter *w;
	struct async_chan *ch;
	struct async_waker old;

	if (!s || !s->waiter)
		return;
	w = s->waiter;
	ch = s->chan;
	async__spin_lock(&ch->lock);
	if (w->state == ASYNC__WAITING) {
		async__waitq_remove(&ch->sendq, w);
		s->result = ASYNC_ECANCELED;
	} else {
		s->result = w->state == ASYNC__GRANTED ? 0 : ASYNC_EPIPE;
	}
	w = chan_waiter_retire(ch, w, &old);
	async__spin_unlock(&ch->lock);
	s->waiter = NULL;
	async_waker_drop(&old);
	free(w);
}

/* ---- receive ------------------------------------------------------------------------- */

void async_recv_init(struct async_recv *r, struct async_chan *ch, void *item)
{
	r->frame = (struct async_frame){ 0 };
	r->chan = ch;
	r->item = item;
	r->result = 0;
	r->waiter = NULL;
}

enum async_poll async_recv_poll(struct async_recv *r, struct async_cx *cx)
{
	struct async_chan *ch = r->chan;
	struct async__waiter *w = r->waiter, *fresh = NULL;
	struct async_waker sender = { 0 }, old = { 0 };
	bool waited = w != NULL;

	ASYNC_TRACE(r->frame);
	if (r->frame.resume) /* completed earlier */
		return ASYNC_READY;
	chan_note_task(&ch->abi.recv_task, cx);
again:
	async__spin_lock(&ch->lock);
	if (ch->abi.len || !ch->abi.senders || !ch->abi.receiver) {
		if (ch->abi.len) {
			ring_take(ch, r->item, &sender);
			r->result = 0;
		} else {
			r->result = ASYNC_EPIPE;
		}
		if (w) {
			if (w->state == ASYNC__WAITING)
				async__waitq_remove(&ch->recvq, w);
			w = chan_waiter_retire(ch, w, &old);
		} else if (fresh) {
			w = chan_waiter_retire(ch, fresh, &old);
		}
		async__spin_unlock(&ch->lock);
		if (sender.task)
			async_waker_wake(&sender);
		async_waker_drop(&old);
		free(w);
		r->waiter = NULL;
		r->frame.resume = 1;
		if (waited || r->result == 0)
			async__wait_end(cx, ASYNC_WAIT_CHAN_RECV, (uint64_t)ch, r->result == 0);
		return ASYNC_READY;
	}
	if (w) {
		/* Woken but another receive took the item: queue again, at the back. */
		if (w->state != ASYNC__WAITING)
			async__waitq_push(&ch->recvq, w);
		async__waiter_refresh(w, cx, &old);
		async__spin_unlock(&ch->lock);
		async_waker_drop(&old);
		return ASYNC_PENDING;
	}
	w = fresh ? fresh : chan_waiter_get(ch, cx);
	if (!w) {
		async__spin_unlock(&ch->lock);
		fresh = waiter_alloc(cx);
		if (!fresh)
			return ASYNC_PENDING;
		goto again;
	}
	async__waitq_push(&ch->recvq, w);
	r->waiter = w;
	async__spin_unlock(&ch->lock);
	async__wait_begin(cx, ASYNC_WAIT_CHAN_RECV, (uint64_t)ch, 0);
	return ASYNC_PENDING;
}

void async_recv_drop(struct async_recv *r)
{
	struct async__waiter *w;
	struct async_chan *ch;
	struct async_waker next = { 0 }, old;

	if (!r || !r->waiter)
		return;
	w = r->waiter;
	ch = r->chan;
	async__spin_lock(&ch->lock);
	if (w->state == ASYNC__WAITING)
		async__waitq_remove(&ch->recvq, w);
	else if (w->state == ASYNC__GRANTED && ch->abi.len)
		notify_receiver(ch, &next); /* woken for an item it never took: pass it on */
	w = chan_waiter_retire(ch, w, &old);
	async__spin_unlock(&ch->lock);
	r->waiter = NULL;
	async_waker_drop(&old);
	free(w);
	if (next.task)
		async_waker_wake(&next);
}
