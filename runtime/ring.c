/* SPDX-License-Identifier: MIT */
/*
 * Poll rings (include/async/abi.h, "poll rings"): while a tracer holds the `ring` probe's
 * semaphore, each worker appends one record per poll to its own ring with plain stores
 * (exec.c, ring_put) and the tracer drains the rings by reading process memory, so a
 * traced poll traps into the kernel never. The `ring` probe itself fires rarely: when a
 * thread allocates its ring (NEW) and before a ring goes away (FLUSH: thread exit,
 * process exit), so that a tracer drains what the last interval wrote.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "core.h"
#include "probes.h"

#ifndef ASYNC_NO_PROBES

/* Rounds the requested slot count to a power of two within the ABI's bounds. */
static uint32_t ring_slots(void)
{
	uint32_t req = async__load(&async_registry.ring_slots), n = ASYNC_RING_SLOTS_MIN;

	if (!req)
		return ASYNC_RING_SLOTS_DEFAULT;
	while (n < req && n < ASYNC_RING_SLOTS_MAX)
		n <<= 1;
	return n;
}

struct async__ring *async__ring_new(struct async__thread *th)
{
	uint32_t slots = ring_slots();
	size_t len = sizeof(struct async__ring) + (size_t)slots * sizeof(struct async_ring_rec);
	struct async__ring *r;

	r = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	r->abi.magic = ASYNC_RING_MAGIC;
	r->abi.rec_size = sizeof(struct async_ring_rec);
	r->abi.slots = slots;
	r->abi.tid = th->abi.tid;
	r->abi.head = 0;
	r->abi.recs = (uint64_t)(uintptr_t)r->recs;
	r->mask = slots - 1;
	r->len = len;
	th->ring = r;
	async__store(&th->abi.ring, (uint64_t)(uintptr_t)r);
	if (ASYNC_PROBE_ENABLED(ring))
		ASYNC_PROBE(ring, th->abi.tid, (uint64_t)(uintptr_t)r, slots, 0ull,
			    (uint32_t)ASYNC_RING_NEW);
	return r;
}

void async__ring_flush(const struct async__thread *th)
{
	const struct async__ring *r = th->ring;

	if (r && ASYNC_PROBE_ENABLED(ring))
		ASYNC_PROBE(ring, th->abi.tid, (uint64_t)(uintptr_t)r, r->abi.slots,
			    async__load(&r->abi.head), (uint32_t)ASYNC_RING_FLUSH);
}

void async__ring_free(struct async__thread *th)
{
	struct async__ring *r = th->ring;

	if (!r)
		return;
	async__ring_flush(th);
	async__store(&th->abi.ring, 0);
	th->ring = NULL;
	munmap(r, r->len);
}

#else

struct async__ring *async__ring_new(struct async__thread *th)
{
	(void)th;
	return NULL;
}

void async__ring_flush(const struct async__thread *th)
{
	(void)th;
}

void async__ring_free(struct async__thread *th)
{
	(void)th;
}

#endif
