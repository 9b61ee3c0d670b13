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
 */
struct async_mutex {
	uint32_t magic;
	uint32_t waiters;
	uint64_t holder_id;
	const struct async_desc *desc;
	int lock; /* guards the fields below (a spinlock: held for a few instructions) */
	struct async__waitq queue;
};

#define async_mutex_init(m)                                                                 \
	({                                                                                  \
		ASYNC__DESC(async__mutex_desc, ASYNC_DESC_OBJECT, #m);                      \
		async__mutex_init((m), &async__mutex_desc);                                 \
	})
void async__mutex_init(struct async_mutex *m, const struct async_desc *desc);
/* Returns 0, or ASYNC_EBUSY if the mutex is held or has waiters. */
int async_mutex_destroy(struct async_mutex *m);

/* The lock future: ready once the current task holds the mutex. */
struct async_lock {
	struct async_frame frame;
	struct async_mutex *mutex;
	void *waiter; /* private: queue entry while waiting */
};

void async_lock_init(struct async_lock *l, struct async_mutex *m);
enum async_poll async_lock_poll(struct async_lock *l, struct async_cx *cx);
/* Leaves the queue if still waiting (does not unlock a mutex it acquired). */
void async_lock_drop(struct async_lock *l);
/* Non-blocking: 0 when acquired, ASYNC_EBUSY otherwise. */
int async_mutex_trylock(struct async_mutex *m, struct async_cx *cx);
/* Releases; the next waiter (if any) becomes the holder and is woken. */
void async_mutex_unlock(struct async_mutex *m, struct async_cx *cx);

/*
 * A bounded multi-producer single-consumer channel of fixed-size items. Senders
 * wait while it is full (backpressure); it closes when every sender handle has been
 * dropped: the receiver drains what is left, then gets ASYNC_EPIPE.
 */
struct async_chan;

/* Creates a channel holding `capacity` items of `item_size` bytes, with one sender. */
#define async_chan_new(capacity, item_size, out)                                            \
	({                                                                                  \
		ASYNC__DESC(async__chan_desc, ASYNC_DESC_OBJECT, #out);                     \
		async__chan_new((capacity), (item_size), &async__chan_desc, (out));          \
	})
int async__chan_new(size_t capacity, size_t item_size, const struct async_desc *desc,
		    struct async_chan **out);
/* Another sender handle; each is released with async_chan_sender_drop. */
void async_chan_sender_clone(struct async_chan *ch);
void async_chan_sender_drop(struct async_chan *ch);
/*
 * Drops the receiver side: later sends fail with ASYNC_EPIPE. The channel is freed when
 * the receiver and every sender are dropped. Both drops accept NULL.
 */
void async_chan_receiver_drop(struct async_chan *ch);
/* Items queued now. */
size_t async_chan_len(struct async_chan *ch);

/* 0, ASYNC_EAGAIN when full, ASYNC_EPIPE when the receiver is gone. */
int async_chan_try_send(struct async_chan *ch, const void *item);
/* 0, ASYNC_EAGAIN when empty, ASYNC_EPIPE when empty and every sender is gone. */
int async_chan_try_recv(struct async_chan *ch, void *item);

struct async_send {
	struct async_frame frame;
	struct async_chan *chan;
	const void *item;
	int result; /* 0 or ASYNC_EPIPE */
	void *waiter;
};
void async_send_init(struct async_send *s, struct async_chan *ch, const void *item);
enum async_poll async_send_poll(struct async_send *s, struct async_cx *cx);
void async_send_drop(struct async_send *s);

struct async_recv {
	struct async_frame frame;
	struct async_chan *chan;
	void *item;
	int result; /* 0 or ASYNC_EPIPE */
	void *waiter;
};
void async_recv_init(struct async_recv *r, struct async_chan *ch, void *item);
enum async_poll async_recv_poll(struct async_recv *r, struct async_cx *cx);
void async_recv_drop(struct async_recv *r);

#endif /* ASYNC_SYNC_H */
