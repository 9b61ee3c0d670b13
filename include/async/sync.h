/* SPDX-License-Identifier: MIT */
/* Waiting between tasks: an async mutex and a bounded mpsc channel. */
#ifndef ASYNC_SYNC_H
#define ASYNC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"

struct async__waitq {
	void *head;
	void *tail;
};

/*
 * An async mutex: FIFO (a released lock goes to the longest waiter), never held
 * across threads' stacks, only by tasks. Starts with struct async_mutex_abi's layout.
 * Initialise with async_mutex_init(&m), which records where it was declared.
 *
 * No barging: unlock hands the lock straight to the longest waiter, which is the holder
 * (holder_id) from that moment, before it is even polled; a new locker queues behind
 * every waiter. holder_id (0 when free) and waiters are kept current for tracers.
 * Locking a mutex the task already holds deadlocks (it is not recursive). Safe across
 * worker threads.
 */
struct async_mutex {
	uint32_t magic;
	uint32_t waiters;
	uint64_t holder_id;
	const struct async_desc *desc;
	int lock; /* guards the fields below (a spinlock: held for a few instructions) */
	struct async__waitq queue;
};

#define async_mutex_init(m)                                            \
	({                                                             \
		ASYNC__DESC(async__mutex_desc, ASYNC_DESC_OBJECT, #m); \
		async__mutex_init((m), &async__mutex_desc);            \
	})
/* What async_mutex_init expands to; `desc` is the OBJECT descriptor naming the mutex. */
void async__mutex_init(struct async_mutex *m, const struct async_desc *desc);
/* Returns 0, or ASYNC_EBUSY if the mutex is held or has waiters. Accepts NULL. */
int async_mutex_destroy(struct async_mutex *m);

/* The lock future: ready once the current task holds the mutex. */
struct async_lock {
	struct async_frame frame;
	struct async_mutex *mutex;
	void *waiter; /* private: queue entry while waiting */
};

/* Prepares a lock of `m`; await it with ASYNC_AWAIT(f, cx, async_lock, &f->lock). */
void async_lock_init(struct async_lock *l, struct async_mutex *m);
/*
 * Ready once the current task holds the mutex (and ready again if polled after that).
 * While pending the task's record says ASYNC_WAIT_MUTEX on `m`, naming the holder.
 */
enum async_poll async_lock_poll(struct async_lock *l, struct async_cx *cx);
/*
 * Leaves the queue if still waiting (does not unlock a mutex it acquired). A lock that
 * was handed over but not yet seen by a poll is passed on to the next waiter (or the
 * mutex is freed). For a lock abandoned in a select, or in the task's drop. Accepts
 * NULL; safe in any state and more than once.
 */
void async_lock_drop(struct async_lock *l);
/*
 * Non-blocking: 0 when acquired, ASYNC_EBUSY otherwise (also while others wait),
 * ASYNC_EINVAL without a task.
 */
int async_mutex_trylock(struct async_mutex *m, struct async_cx *cx);
/*
 * Releases; the next waiter (if any) becomes the holder and is woken. `cx` (may be
 * NULL) names the releasing task for the release probe. Accepts NULL.
 */
void async_mutex_unlock(struct async_mutex *m, struct async_cx *cx);

/*
 * A bounded multi-producer single-consumer channel of fixed-size items. Senders
 * wait while it is full (backpressure); it closes when every sender handle has been
 * dropped: the receiver drains what is left, then gets ASYNC_EPIPE.
 *
 * Backpressure is exact: at most `capacity` items are ever queued. Waiting senders
 * complete in FIFO order: when the receiver takes an item, the longest-waiting
 * sender's item moves into the freed slot and that send is complete. Items from one
 * sender arrive in the order sent. Safe across worker threads. The channel pointer is
 * the handle: the creator holds the receiver and one sender.
 */
struct async_chan;

/*
 * Creates a channel holding `capacity` (>= 1) items of `item_size` bytes, with one
 * sender. Returns 0, ASYNC_EINVAL (capacity 0 or above UINT32_MAX, size overflow) or
 * ASYNC_ENOMEM.
 */
#define async_chan_new(capacity, item_size, out)                                    \
	({                                                                          \
		ASYNC__DESC(async__chan_desc, ASYNC_DESC_OBJECT, #out);             \
		async__chan_new((capacity), (item_size), &async__chan_desc, (out)); \
	})
/* What async_chan_new expands to; `desc` is the OBJECT descriptor naming the channel. */
int async__chan_new(size_t capacity, size_t item_size, const struct async_desc *desc,
		    struct async_chan **out);
/* Another sender handle; each is released with async_chan_sender_drop. */
void async_chan_sender_clone(struct async_chan *ch);
/* Releases a sender handle; the last one closes the channel and wakes waiting receives. */
void async_chan_sender_drop(struct async_chan *ch);
/*
 * Drops the receiver side: queued items are discarded, waiting and later sends fail
 * with ASYNC_EPIPE. The channel is freed when the receiver and every sender are
 * dropped. Both drops accept NULL. Drop send/recv futures before the handle they use.
 */
void async_chan_receiver_drop(struct async_chan *ch);
/* Items queued now. */
size_t async_chan_len(struct async_chan *ch);

/* 0, ASYNC_EAGAIN when full, ASYNC_EPIPE when the receiver is gone. */
int async_chan_try_send(struct async_chan *ch, const void *item);
/* 0, ASYNC_EAGAIN when empty, ASYNC_EPIPE when empty and every sender is gone. */
int async_chan_try_recv(struct async_chan *ch, void *item);

/*
 * Sends the item `item` points to (copied; it must stay valid until the send is
 * ready or dropped). Ready with `result` 0 once the item is in the channel, or
 * ASYNC_EPIPE when the receiver is gone. While it waits for room the task's record says
 * ASYNC_WAIT_CHAN_SEND on the channel.
 */
struct async_send {
	struct async_frame frame;
	struct async_chan *chan;
	const void *item;
	int result; /* 0 or ASYNC_EPIPE */
	void *waiter;
};
void async_send_init(struct async_send *s, struct async_chan *ch, const void *item);
enum async_poll async_send_poll(struct async_send *s, struct async_cx *cx);
/*
 * Leaves the queue of waiting senders. Sets `result`: ASYNC_ECANCELED when the item
 * was not sent; 0 when the receiver had already taken it into the channel (the send
 * completed between its last poll and the drop); ASYNC_EPIPE when the receiver went
 * away. Accepts NULL; safe in any state.
 */
void async_send_drop(struct async_send *s);

/*
 * Receives the oldest item into `item` (item_size bytes). Ready with `result` 0, or
 * ASYNC_EPIPE once the channel is empty and every sender is gone. While it waits the
 * task's record says ASYNC_WAIT_CHAN_RECV on the channel.
 */
struct async_recv {
	struct async_frame frame;
	struct async_chan *chan;
	void *item;
	int result; /* 0 or ASYNC_EPIPE */
	void *waiter;
};
void async_recv_init(struct async_recv *r, struct async_chan *ch, void *item);
enum async_poll async_recv_poll(struct async_recv *r, struct async_cx *cx);
/*
 * Leaves the queue of waiting receives; no item is lost (one that woke this receive
 * wakes the next waiting one). Accepts NULL; safe in any state.
 */
void async_recv_drop(struct async_recv *r);

#endif /* ASYNC_SYNC_H */
