/* SPDX-License-Identifier: MIT */
/* Reading libasync's registry out of a running process: see snapshot.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "proc.h"
#include "snapshot.h"

#define PAGE_SIZE_MIN 4096ull

/* Reads a NUL-terminated string without crossing into a page it does not need. */
static int read_str(ai_snap_read_fn read, void *ctx, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	buf[0] = '\0';
	if (!addr)
		return -EFAULT;
	while (got + 1 < len) {
		uint64_t a = addr + got;
		size_t chunk = PAGE_SIZE_MIN - (a & (PAGE_SIZE_MIN - 1));
		int err;

		if (chunk > len - 1 - got)
			chunk = len - 1 - got;
		err = read(ctx, a, buf + got, chunk);
		if (err) {
			buf[got] = '\0';
			return got ? 0 : err;
		}
		buf[got + chunk] = '\0';
		if (memchr(buf + got, '\0', chunk))
			return 0;
		got += chunk;
	}
	buf[len - 1] = '\0';
	return 0;
}

static void walk_chain(ai_snap_read_fn read, void *ctx, struct ai_snap_task *t)
{
	uint64_t addr = t->abi.root_frame;

	t->chain_len = 0;
	t->chain_end = AI_CHAIN_OK;
	while (addr) {
		struct async_frame_abi f;

		for (unsigned i = 0; i < t->chain_len; i++) {
			if (t->chain[i].addr == addr) {
				t->chain_end = AI_CHAIN_LOOP;
				return;
			}
		}
		if (t->chain_len == ASYNC_CHAIN_MAX) {
			t->chain_end = AI_CHAIN_TRUNCATED;
			return;
		}
		if (read(ctx, addr, &f, sizeof(f))) {
			t->chain_end = AI_CHAIN_FAULT;
			return;
		}
		t->chain[t->chain_len++] = (struct ai_snap_frame){ addr, f.fn, f.at };
		/* A frame not stopped at an await has no child worth following. */
		if (!f.at)
			return;
		addr = f.child;
	}
}

static void read_wait(ai_snap_read_fn read, void *ctx, struct ai_snap_task *t)
{
	t->wait_for = 0;
	t->obj_valid = false;
	t->obj_desc = 0;
	t->mutex_waiters = 0;
	t->chan_senders = 0;
	t->chan_len = 0;
	t->chan_receiver = false;
	switch (t->abi.wait_kind) {
	case ASYNC_WAIT_MUTEX: {
		struct async_mutex_abi m;

		if (t->abi.wait_obj && !read(ctx, t->abi.wait_obj, &m, sizeof(m)) &&
		    m.magic == ASYNC_MUTEX_MAGIC) {
			t->obj_valid = true;
			t->obj_desc = m.desc;
			t->mutex_waiters = m.waiters;
			t->wait_for = m.holder_id;
		} else {
			t->wait_for = t->abi.wait_holder;
		}
		break;
	}
	case ASYNC_WAIT_JOIN: {
		struct async_task_abi j;

		t->wait_for = t->abi.wait_holder;
		if (t->abi.wait_obj && !read(ctx, t->abi.wait_obj, &j, sizeof(j)) &&
		    j.magic == ASYNC_TASK_MAGIC) {
			t->obj_valid = true;
			t->obj_desc = j.fn;
			if (!t->wait_for)
				t->wait_for = j.id;
		}
		break;
	}
	case ASYNC_WAIT_CHAN_RECV:
	case ASYNC_WAIT_CHAN_SEND: {
		struct async_chan_abi c;

		if (t->abi.wait_obj && !read(ctx, t->abi.wait_obj, &c, sizeof(c)) &&
		    c.magic == ASYNC_CHAN_MAGIC) {
			t->obj_valid = true;
			t->obj_desc = c.desc;
			t->chan_senders = c.senders;
			t->chan_len = c.len;
			t->chan_receiver = c.receiver != 0;
			if (t->abi.wait_kind == ASYNC_WAIT_CHAN_SEND && c.receiver)
				t->chan_peer = c.recv_task;
			else if (t->abi.wait_kind == ASYNC_WAIT_CHAN_RECV && c.senders == 1)
				t->chan_peer = c.send_task;
		}
		break;
	}
	default:
		break;
	}
}

static int cmp_task_id(const void *a, const void *b)
{
	const struct ai_snap_task *x = a, *y = b;

	return x->abi.id < y->abi.id ? -1 : x->abi.id > y->abi.id;
}

/* Room for one more task record; NULL when out of memory. */
static struct ai_snap_task *task_slot(struct ai_snapshot *s, size_t *cap)
{
	if (s->ntasks == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		void *p = realloc(s->tasks, ncap * sizeof(*s->tasks));

		if (!p)
			return NULL;
		s->tasks = p;
		*cap = ncap;
	}
	return &s->tasks[s->ntasks];
}

/* Longest walk with only_id: far beyond any real list, short of forever on garbage. */
#define WALK_MAX (1ull << 26)

/*
 * Walks the task list keeping every task (keep_id 0, at most max_tasks) or only the one
 * with id keep_id. A loop is found with Brent's algorithm in O(1) memory, within two
 * laps of it. Returns 0 or -ENOMEM.
 */
static int walk_tasks(ai_snap_read_fn read, void *ctx, struct ai_snapshot *s, size_t max_tasks,
		      uint64_t keep_id, size_t *cap)
{
	uint64_t addr = s->reg.tasks, mark = 0;
	size_t power = 1, lap = 0;

	s->tasks_end = AI_SNAP_END_OK;
	for (; addr; s->walked++) {
		struct ai_snap_task *t;

		if (addr == mark) {
			s->tasks_end = AI_SNAP_END_LOOP;
			s->bad_addr = addr;
			return 0;
		}
		if (++lap == power) {
			mark = addr;
			power *= 2;
			lap = 0;
		}
		if (!keep_id && s->ntasks == max_tasks) {
			s->tasks_end = AI_SNAP_END_CAP;
			return 0;
		}
		if (s->walked >= WALK_MAX) {
			s->tasks_end = AI_SNAP_END_CAP;
			return 0;
		}
		t = task_slot(s, cap);
		if (!t)
			return -ENOMEM;
		memset(t, 0, sizeof(*t));
		t->addr = addr;
		if (read(ctx, addr, &t->abi, sizeof(t->abi)) || t->abi.magic != ASYNC_TASK_MAGIC) {
			s->tasks_end = AI_SNAP_END_FAULT;
			s->bad_addr = addr;
			return 0;
		}
		addr = t->abi.reg_next;
		if (keep_id && t->abi.id != keep_id)
			continue;
		read_str(read, ctx, t->abi.name, t->name, sizeof(t->name));
		walk_chain(read, ctx, t);
		read_wait(read, ctx, t);
		s->ntasks++;
	}
	return 0;
}

/* One pass over both lists. Returns 0 or a negative errno (allocation only). */
static int read_once(ai_snap_read_fn read, void *ctx, struct ai_snapshot *s, size_t max_tasks,
		     uint64_t only_id)
{
	size_t cap = 0;
	uint64_t addr;
	int err;

	s->ntasks = 0;
	s->nthreads = 0;
	s->walked = 0;
	s->bad_addr = 0;
	err = walk_tasks(read, ctx, s, max_tasks, only_id, &cap);
	if (err)
		return err;
	s->truncated = s->tasks_end != AI_SNAP_END_OK;
	/* -t: the task it waits for too, for its name */
	if (only_id && s->ntasks == 1 && s->tasks_end == AI_SNAP_END_OK && s->tasks[0].wait_for &&
	    s->tasks[0].wait_for != only_id) {
		size_t walked = s->walked;

		err = walk_tasks(read, ctx, s, max_tasks, s->tasks[0].wait_for, &cap);
		s->walked = walked;
		if (err)
			return err;
		s->truncated = s->tasks_end != AI_SNAP_END_OK;
	}

	cap = 0;
	for (addr = s->reg.threads; addr;) {
		struct ai_snap_thread *th;

		if (s->nthreads == AI_SNAP_MAX_THREADS) {
			s->truncated = true;
			break;
		}
		if (s->nthreads == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = realloc(s->threads, ncap * sizeof(*s->threads));

			if (!p)
				return -ENOMEM;
			s->threads = p;
			cap = ncap;
		}
		th = &s->threads[s->nthreads];
		th->addr = addr;
		if (read(ctx, addr, &th->abi, sizeof(th->abi)) ||
		    th->abi.magic != ASYNC_THREAD_MAGIC) {
			s->truncated = true;
			break;
		}
		s->nthreads++;
		addr = th->abi.next;
	}

	/* Sorted by id; a list that moved under the walk may show a task twice. */
	if (s->ntasks > 1) {
		size_t w = 1;

		qsort(s->tasks, s->ntasks, sizeof(*s->tasks), cmp_task_id);
		for (size_t r = 1; r < s->ntasks; r++) {
			if (s->tasks[r].abi.id == s->tasks[w - 1].abi.id)
				continue;
			if (r != w)
				s->tasks[w] = s->tasks[r];
			w++;
		}
		s->ntasks = w;
	}
	return 0;
}

static int read_header(ai_snap_read_fn read, void *ctx, uint64_t addr,
		       struct async_registry_abi *reg)
{
	int err = read(ctx, addr, reg, sizeof(*reg));

	if (err)
		return err < 0 ? err : -EFAULT;
	if (reg->magic != ASYNC_REGISTRY_MAGIC)
		return -EPROTO;
	if (reg->version != ASYNC_ABI_VERSION || reg->size < sizeof(*reg))
		return -EPROTONOSUPPORT;
	return 0;
}

int ai_snapshot_read(ai_snap_read_fn read, void *ctx, uint64_t registry_addr,
		     const struct ai_snap_opts *opts, struct ai_snapshot **out)
{
	size_t max_tasks = opts && opts->max_tasks ? opts->max_tasks : AI_SNAP_MAX_TASKS;
	unsigned retries = opts && opts->retries ? opts->retries : AI_SNAP_RETRIES;
	struct ai_snapshot *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->registry_addr = registry_addr;
	for (s->attempts = 1;; s->attempts++) {
		struct async_registry_abi after;

		s->taken_ns = opts && opts->now_ns ? opts->now_ns : ai_now_ns();
		err = read_header(read, ctx, registry_addr, &s->reg);
		if (err)
			goto fail;
		err = read_once(read, ctx, s, max_tasks, opts ? opts->only_id : 0);
		if (err)
			goto fail;
		err = read_header(read, ctx, registry_addr, &after);
		if (err)
			goto fail;
		s->consistent = after.gen == s->reg.gen;
		/* a list that is only longer than the cap is no reason to read it again */
		if ((s->consistent && (!s->truncated || s->tasks_end == AI_SNAP_END_CAP)) ||
		    s->attempts >= retries)
			break;
	}
	*out = s;
	return 0;
fail:
	ai_snapshot_free(s);
	return err;
}

static int proc_reader(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return ai_proc_read(*(pid_t *)ctx, addr, buf, len);
}

int ai_snapshot_locate(pid_t pid, uint64_t *registry_addr)
{
	int err = ai_proc_symbol(pid, ASYNC_REGISTRY_SYMBOL, registry_addr);

	if (err)
		return err;
	return *registry_addr ? 0 : -ENOENT;
}

int ai_snapshot_take(pid_t pid, uint64_t registry_addr, const struct ai_snap_opts *opts,
		     struct ai_snapshot **out)
{
	return ai_snapshot_read(proc_reader, &pid, registry_addr, opts, out);
}

void ai_snapshot_free(struct ai_snapshot *s)
{
	if (!s)
		return;
	free(s->tasks);
	free(s->threads);
	free(s);
}

long ai_snapshot_index(const struct ai_snapshot *s, uint64_t id)
{
	size_t lo = 0, hi = s ? s->ntasks : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->tasks[mid].abi.id == id)
			return (long)mid;
		if (s->tasks[mid].abi.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct ai_snap_task *ai_snapshot_find(const struct ai_snapshot *s, uint64_t id)
{
	long i = ai_snapshot_index(s, id);

	return i < 0 ? NULL : &s->tasks[i];
}

uint64_t ai_snap_task_in_state(const struct ai_snapshot *s, const struct ai_snap_task *t)
{
	if (!t->abi.state_since_ns || t->abi.state_since_ns > s->taken_ns)
		return 0;
	return s->taken_ns - t->abi.state_since_ns;
}

const char *ai_snapshot_incomplete(const struct ai_snapshot *s, char *buf, size_t len)
{
	const char *why;

	buf[0] = '\0';
	switch (s->tasks_end) {
	case AI_SNAP_END_OK:
		return buf;
	case AI_SNAP_END_CAP:
		snprintf(buf, len,
			 "task list truncated: read %zu of %" PRIu64 " live tasks (the cap is %zu)",
			 s->ntasks, (uint64_t)s->reg.live_tasks, s->ntasks);
		return buf;
	case AI_SNAP_END_LOOP:
		why = "the list loops back";
		break;
	default:
		why = "a record is unreadable";
		break;
	}
	snprintf(buf, len,
		 "task list incomplete: %s at 0x%" PRIx64 " (read %zu of %" PRIu64 " live tasks)%s",
		 why, s->bad_addr, s->ntasks, (uint64_t)s->reg.live_tasks,
		 s->consistent ? "" : " (it changed while read)");
	return buf;
}

const char *ai_snapshot_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no libasync registry (symbol " ASYNC_REGISTRY_SYMBOL
		       " not found: is the program linked with libasync?)";
	case -EPROTO:
		return "bad registry magic";
	case -EPROTONOSUPPORT:
		return "libasync ABI version not supported by this async-inspect";
	case -EPERM:
	case -EACCES:
		return "permission denied (reading another process' memory needs root)";
	}
	return strerror(-err);
}

bool ai_snap_task_unmoved(const struct ai_snap_task *a, const struct ai_snap_task *b)
{
	return a && b && a->abi.state == ASYNC_TASK_IDLE && b->abi.state == ASYNC_TASK_IDLE &&
	       a->abi.state_since_ns == b->abi.state_since_ns && a->abi.polls == b->abi.polls &&
	       a->abi.wait_kind == b->abi.wait_kind && a->abi.wait_obj == b->abi.wait_obj &&
	       a->wait_for == b->wait_for && a->chan_peer == b->chan_peer;
}
