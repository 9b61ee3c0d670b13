/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "async/abi.h"
#include "common.h"
#include "proc.h"
#include "rings.h"
#include "snapshot.h"
#include "../bpf/rings.h"

#define MAX_THREADS 4096 /* a list longer than this is not a thread list */

int ai_rings_follow(int map_fd, pid_t pid, bool from_start)
{
	struct async_registry_abi reg;
	uint64_t reg_addr, addr;
	int err;

	err = ai_snapshot_locate(pid, &reg_addr);
	if (err)
		return err == -ENOENT ? 0 : err;
	err = ai_proc_read(pid, reg_addr, &reg, sizeof(reg));
	if (err)
		return err;
	if (reg.magic != ASYNC_REGISTRY_MAGIC || reg.version != ASYNC_ABI_VERSION)
		return -EPROTONOSUPPORT;
	addr = reg.threads;
	for (int n = 0; addr && n < MAX_THREADS; n++) {
		struct async_thread_abi th;
		struct async_ring_abi ring;

		if (ai_proc_read(pid, addr, &th, sizeof(th)) || th.magic != ASYNC_THREAD_MAGIC)
			break;
		addr = th.next;
		if (!th.ring || ai_proc_read(pid, th.ring, &ring, sizeof(ring)) ||
		    ring.magic != ASYNC_RING_MAGIC ||
		    ring.rec_size != sizeof(struct async_ring_rec) || !ring.slots ||
		    (ring.slots & (ring.slots - 1)))
			continue;

		__u32 tid = ring.tid;
		struct ai_ring_state st = { .ring = th.ring,
					    .recs = ring.recs,
					    .tail = from_start ? 0 : ring.head,
					    .pid = (__u32)pid,
					    .slots = ring.slots };

		/* a ring the probe registered meanwhile is newer: keep it */
		bpf_map_update_elem(map_fd, &tid, &st, BPF_NOEXIST);
	}
	return 0;
}

void ai_rings_follow_all(int map_fd, bool from_start)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (ai_proc_scan_libasync(&pids, &n))
		return;
	for (size_t i = 0; i < n; i++)
		ai_rings_follow(map_fd, pids[i], from_start);
	free(pids);
}

int ai_rings_set_slots(pid_t pid, uint32_t slots)
{
	uint64_t reg_addr;
	struct iovec local = { .iov_base = &slots, .iov_len = sizeof(slots) };
	struct iovec remote = { .iov_len = sizeof(slots) };
	int err;

	err = ai_snapshot_locate(pid, &reg_addr);
	if (err)
		return err;
	remote.iov_base =
	    (void *)(uintptr_t)(reg_addr + offsetof(struct async_registry_abi, ring_slots));
	if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(slots))
		return -errno;
	return 0;
}

int ai_rings_attach_iter(struct bpf_program *prog, pid_t pid, struct bpf_link **link)
{
	union bpf_iter_link_info linfo;
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	struct bpf_link *l;

	memset(&linfo, 0, sizeof(linfo));
	if (pid > 0) {
		linfo.task.pid = (__u32)pid;
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
	}
	l = bpf_program__attach_iter(prog, &opts);
	if (!l)
		return -errno;
	*link = l;
	return 0;
}

int ai_rings_drain(struct bpf_link *link)
{
	char buf[64];
	ssize_t r;
	int fd;

	if (!link)
		return 0;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	if (r < 0)
		r = -errno;
	close(fd);
	return (int)r;
}

static void *drainer_main(void *arg)
{
	struct ai_rings_drainer *d = arg;

	while (!atomic_load(&d->stop)) {
		uint64_t t0 = ai_now_ns(), took;

		ai_rings_drain(d->link);
		/* a drain that took long met a busy writer: go again sooner */
		took = ai_now_ns() - t0;
		if (took < AI_RINGS_DRAIN_NS) {
			uint64_t ns = AI_RINGS_DRAIN_NS - took;
			struct timespec ts = { (time_t)(ns / 1000000000ull),
					       (long)(ns % 1000000000ull) };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int ai_rings_drainer_start(struct ai_rings_drainer *d, struct bpf_link *link)
{
	sigset_t all, old;
	int err;

	d->link = link;
	atomic_store(&d->stop, false);
	/* signals stay with the caller's thread (its Ctrl-C handling) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&d->thread, NULL, drainer_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	d->started = !err;
	return err;
}

void ai_rings_drainer_stop(struct ai_rings_drainer *d)
{
	if (!d->started)
		return;
	atomic_store(&d->stop, true);
	pthread_join(d->thread, NULL);
	d->started = false;
}

void ai_rings_counts(int map_fd, pid_t pid, uint64_t *lost, uint64_t *read)
{
	__u32 key, next, *prev = NULL;
	struct ai_ring_state st;

	*lost = 0;
	*read = 0;
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, &st))
			continue;
		if (pid > 0 && st.pid != (__u32)pid)
			continue;
		*lost += st.lost;
		*read += st.read;
	}
}

bool ai_rings_parse_slots(const char *arg, uint32_t *slots)
{
	uint64_t v;

	if (!ai_parse_u64(arg, &v) || v < ASYNC_RING_SLOTS_MIN || v > ASYNC_RING_SLOTS_MAX ||
	    (v & (v - 1)))
		return false;
	*slots = (uint32_t)v;
	return true;
}
