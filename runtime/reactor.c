/* SPDX-License-Identifier: MIT */
/*
 * The reactor: one epoll instance per executor with one-shot interest per fd, an
 * eventfd to interrupt the driver, and the driver turn that also fires timers.
 * Multi-threaded executors run the driver on a dedicated thread; single-threaded ones
 * on the loop thread when it has nothing to poll.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core.h"

struct async__fdreg {
	uint32_t interest; /* EPOLLIN/EPOLLOUT waited for */
	bool added;	   /* in the epoll set */
	struct async_waker in;
	struct async_waker out;
};

int async__reactor_init(struct async__reactor *r)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };

	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0)
		return -errno;
	r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->evfd < 0)
		return -errno;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) < 0)
		return -errno;
	pthread_mutex_init(&r->lock, NULL);
	r->regs = NULL;
	r->nregs = 0;
	atomic_store(&r->armed, 0);
	return 0;
}

void async__reactor_fini(struct async__reactor *r)
{
	for (size_t i = 0; i < r->nregs; i++) {
		struct async__fdreg *g = r->regs[i];

		if (!g)
			continue;
		async_waker_drop(&g->in);
		async_waker_drop(&g->out);
		free(g);
	}
	free(r->regs);
	r->regs = NULL;
	r->nregs = 0;
	if (r->evfd >= 0)
		close(r->evfd);
	if (r->epfd >= 0)
		close(r->epfd);
	r->evfd = r->epfd = -1;
	pthread_mutex_destroy(&r->lock);
}

void async__driver_wake(struct async_exec *exec)
{
	uint64_t one = 1;

	if (exec->reactor.evfd >= 0 && write(exec->reactor.evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the driver wakes anyway */
	}
}

static int ctl(struct async__reactor *r, struct async__fdreg *g, int fd)
{
	struct epoll_event ev = { .events = g->interest | EPOLLONESHOT, .data.fd = fd };

	if (!g->added) {
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		g->added = true;
		return 0;
	}
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	/* closed without async__reactor_forget and the number reused: register anew */
	if (errno == ENOENT && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	return -errno;
}

int async__reactor_arm(struct async_cx *cx, int fd, uint32_t events)
{
	struct async__reactor *r = &cx->exec->reactor;
	struct async__fdreg *g;
	int err;

	if (fd < 0 || !(events & (EPOLLIN | EPOLLOUT)))
		return ASYNC_EINVAL;
	pthread_mutex_lock(&r->lock);
	if ((size_t)fd >= r->nregs) {
		size_t n = r->nregs ? r->nregs : 64;

		while (n <= (size_t)fd)
			n *= 2;
		struct async__fdreg **v = realloc(r->regs, n * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&r->lock);
			return ASYNC_ENOMEM;
		}
		memset(v + r->nregs, 0, (n - r->nregs) * sizeof(*v));
		r->regs = v;
		r->nregs = n;
	}
	g = r->regs[fd];
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			pthread_mutex_unlock(&r->lock);
			return ASYNC_ENOMEM;
		}
		r->regs[fd] = g;
	}
	if (!g->interest)
		atomic_fetch_add(&r->armed, 1);
	if (events & EPOLLIN) {
		if (!async_waker_will_wake(&g->in, cx)) {
			async_waker_drop(&g->in);
			g->in = async_waker_clone(cx);
		}
		g->interest |= EPOLLIN;
	}
	if (events & EPOLLOUT) {
		if (!async_waker_will_wake(&g->out, cx)) {
			async_waker_drop(&g->out);
			g->out = async_waker_clone(cx);
		}
		g->interest |= EPOLLOUT;
	}
	err = ctl(r, g, fd);
	if (err) {
		g->interest &= ~(events & (EPOLLIN | EPOLLOUT));
		if (!g->interest)
			atomic_fetch_sub(&r->armed, 1);
	}
	/* a driver already in epoll_wait sees the new interest: no wake-up needed */
	pthread_mutex_unlock(&r->lock);
	return err;
}

void async__reactor_forget(struct async_exec *exec, int fd)
{
	struct async__reactor *r = &exec->reactor;
	struct async__fdreg *g = NULL;

	if (fd < 0)
		return;
	pthread_mutex_lock(&r->lock);
	if ((size_t)fd < r->nregs) {
		g = r->regs[fd];
		r->regs[fd] = NULL;
	}
	if (g) {
		if (g->added)
			epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (g->interest)
			atomic_fetch_sub(&r->armed, 1);
	}
	pthread_mutex_unlock(&r->lock);
	if (g) {
		async_waker_drop(&g->in);
		async_waker_drop(&g->out);
		free(g);
	}
}

/* An fd became ready: take the wakers it satisfies, re-arm what is still wanted. */
static void ready(struct async__reactor *r, int fd, uint32_t ev)
{
	struct async_waker in = { 0 }, out = { 0 };
	struct async__fdreg *g;

	pthread_mutex_lock(&r->lock);
	g = (size_t)fd < r->nregs ? r->regs[fd] : NULL;
	if (g) {
		bool err = ev & (EPOLLERR | EPOLLHUP);
		uint32_t before = g->interest;

		if ((ev & (EPOLLIN | EPOLLRDHUP)) || err) {
			in = g->in;
			g->in.task = NULL;
			g->interest &= ~EPOLLIN;
		}
		if ((ev & EPOLLOUT) || err) {
			out = g->out;
			g->out.task = NULL;
			g->interest &= ~EPOLLOUT;
		}
		if (g->interest)
			ctl(r, g, fd); /* still wanted: one-shot interest must be re-armed */
		else if (before)
			atomic_fetch_sub(&r->armed, 1);
	}
	pthread_mutex_unlock(&r->lock);
	async_waker_wake(&in);
	async_waker_wake(&out);
}

void async__driver_turn(struct async_exec *exec, bool block)
{
	struct async__reactor *r = &exec->reactor;
	struct async__timers *tm = &exec->timers;
	struct async__worker *w = async__cur_worker;
	struct epoll_event evs[64];
	int n;

	uint64_t now = async__clock();

	if (w)
		w->now = now;
	else
		async__driver_now = now;
	/*
	 * A timer that fired here woke its task into the run queue of this thread (the
	 * single-threaded loop, which checked its queues before calling): sleeping now
	 * would leave that task queued with nobody to run it, forever if no other timer
	 * is armed. Look for I/O without waiting and let the caller run it.
	 */
	if (async__timers_fire(tm, now))
		block = false;
	if (!block && !atomic_load_explicit(&r->armed, memory_order_relaxed))
		return;

	struct timespec ts = { 0 }, *tsp = &ts;

	if (block) {
		pthread_mutex_lock(&tm->lock);
		uint64_t next = atomic_load_explicit(&tm->next_deadline, memory_order_relaxed);

		tm->driver_deadline = next;
		pthread_mutex_unlock(&tm->lock);
		if (next == UINT64_MAX) {
			tsp = NULL;
		} else {
			uint64_t d = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
		}
	}
	n = epoll_pwait2(r->epfd, evs, 64, tsp, NULL);
	if (n < 0 && errno == ENOSYS) {
		/* kernels before 5.11: millisecond timeouts, rounded up */
		int ms = -1;

		if (tsp) {
			uint64_t d_ms =
			    ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 999999) /
			    1000000;

			ms = d_ms > INT_MAX ? INT_MAX : (int)d_ms;
		}

		n = epoll_wait(r->epfd, evs, 64, ms);
	}
	if (block) {
		pthread_mutex_lock(&tm->lock);
		tm->driver_deadline = 0;
		pthread_mutex_unlock(&tm->lock);
	}
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == -1) {
			uint64_t v;

			if (read(r->evfd, &v, sizeof(v)) < 0) {
				/* EAGAIN: another turn drained it */
			}
			continue;
		}
		ready(r, evs[i].data.fd, evs[i].events);
	}
	now = async__clock();
	if (w)
		w->now = now;
	else
		async__driver_now = now;
	async__timers_fire(tm, now);
}
