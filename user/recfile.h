/* SPDX-License-Identifier: MIT */
/*
 * Recording files (`async-inspect record -o FILE`): a writer and a reader that treats the
 * file as hostile input. The format is docs/record-format.md: a versioned header, typed
 * blocks (process table, descriptor tables, task names, zlib-compressed events, lost
 * counts), a footer block with an index and totals, and a trailer pointing at it.
 *
 * Library code: never prints, never exits; functions return 0 or a negative errno.
 */
#ifndef AI_RECFILE_H
#define AI_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "desc.h"
#include "bpf/record.h"

#define AI_RF_MAGIC	    "AIREC\0\r\n" /* 8 bytes; the CR LF catches text-mode mangling */
#define AI_RF_TRAILER_MAGIC "AIEND\0\r\n"
#define AI_RF_VERSION	    2		/* 2: AI_REC_RING events; 1 is read too */
#define AI_RF_BOM	    0x01020304u /* byte-order mark: files are little-endian */
#define AI_RF_BLOCK_MAGIC   0x314b4c42u /* "BLK1" */

/* Largest decompressed block a reader accepts (writers stay far below). */
#define AI_RF_MAX_RAW (16u << 20)
/* Raw size at which the writer closes an event block. */
#define AI_RF_BLOCK_TARGET (1u << 20)

enum ai_rf_block_type {
	AI_RF_BLOCK_PROC = 1,	/* process table */
	AI_RF_BLOCK_OBJECT = 2, /* the descriptor table of one object mapped by one process */
	AI_RF_BLOCK_NAMES = 3,	/* task names: (pid, name address) -> string */
	AI_RF_BLOCK_EVENTS = 4, /* struct ai_rec_* events back to back */
	AI_RF_BLOCK_LOST = 5,	/* events lost to a full ring buffer, per CPU (cumulative) */
	AI_RF_BLOCK_FOOTER = 6, /* index of the blocks and totals; the last block */
};

enum ai_rf_flags {
	AI_RF_F_COMMAND = 1 << 0, /* recorded a command started by record (-- CMD) */
	AI_RF_F_SYSTEM = 1 << 1,  /* every process mapping libasync */
};

/* What the header and footer say about a recording. */
struct ai_rf_info {
	uint32_t version;
	uint32_t flags;		/* enum ai_rf_flags */
	uint32_t target_pid;	/* -p PID or the command's PID; 0 for system-wide */
	uint32_t ncpus;		/* CPUs of the recording machine */
	uint64_t start_ns;	/* CLOCK_MONOTONIC when recording started */
	uint64_t start_real_ns; /* CLOCK_REALTIME at the same moment */
	uint64_t end_ns;	/* CLOCK_MONOTONIC when it ended (footer; 0 without one) */
	int32_t exit_status;	/* the command's exit status, -1 if none (footer) */
	uint32_t pad;
};

struct ai_rf_proc {
	uint32_t pid;
	char *comm;
	char *exe;
};

/* One object's descriptors as seen in one process (runtime address = addr + bias). */
struct ai_rf_object {
	uint32_t pid;
	uint64_t bias;
	char *path;
	struct ai_desc *descs; /* sorted by link-time addr; strings owned by the reader */
	size_t n;
};

struct ai_rf_name {
	uint32_t pid;
	uint64_t addr;
	char *name;
};

/* ---- writer ------------------------------------------------------------------------ */

struct ai_rf_writer;

/* Creates (truncates) `path` and writes the header. */
int ai_rf_writer_open(const char *path, const struct ai_rf_info *info, struct ai_rf_writer **out);
/* The same on a FILE opened for writing; the writer closes it. */
int ai_rf_writer_fopen(FILE *f, const struct ai_rf_info *info, struct ai_rf_writer **out);
int ai_rf_write_proc(struct ai_rf_writer *w, uint32_t pid, const char *comm, const char *exe);
int ai_rf_write_object(struct ai_rf_writer *w, uint32_t pid, uint64_t bias, const char *path,
		       const struct ai_desc *descs, size_t n);
/* Buffered; written in a names block before the next event block. */
int ai_rf_add_name(struct ai_rf_writer *w, uint32_t pid, uint64_t addr, const char *name);
/* Buffered; an event block is compressed and written every AI_RF_BLOCK_TARGET bytes. */
int ai_rf_add_event(struct ai_rf_writer *w, const void *ev, size_t size);
/* Writes the buffered names and events now. */
int ai_rf_flush(struct ai_rf_writer *w);
/* Cumulative lost counts per CPU (stored in a lost block and in the totals). */
int ai_rf_write_lost(struct ai_rf_writer *w, const uint64_t *per_cpu, uint32_t ncpus);
/* Flushes, writes the footer and trailer and closes. Frees w in every case. */
int ai_rf_writer_close(struct ai_rf_writer *w, uint64_t end_ns, int32_t exit_status);
/* Closes without a footer (error paths). Accepts NULL. */
void ai_rf_writer_free(struct ai_rf_writer *w);
/* Events and bytes written so far (bytes: what is on disk). */
uint64_t ai_rf_writer_events(const struct ai_rf_writer *w);
uint64_t ai_rf_writer_bytes(const struct ai_rf_writer *w);

/* ---- reader ------------------------------------------------------------------------ */

/* Called for every event in file order; a non-zero return stops reading with that error. */
typedef int (*ai_rf_event_fn)(void *ctx, const struct ai_rec_hdr *ev);

struct ai_recfile {
	struct ai_rf_info info;
	struct ai_rf_proc *procs;
	size_t nprocs;
	struct ai_rf_object *objects;
	size_t nobjects;
	struct ai_rf_name *names; /* sorted by (pid, addr) */
	size_t nnames;
	uint64_t *lost; /* per CPU, nlost entries */
	uint32_t nlost;
	uint64_t lost_total;
	uint64_t events;			  /* events delivered */
	uint64_t events_by_type[AI_REC_TYPE_MAX]; /* [0]: unknown types, skipped */
	uint64_t blocks;			  /* blocks read */
	bool complete; /* footer and trailer present and consistent with the blocks read */
	/*
	 * Set when the file is damaged but what came before the damage was read: a
	 * one-line explanation ("truncated at byte N in block 7: ..."). Empty otherwise.
	 */
	char warning[256];
};

/*
 * Reads a recording. Returns 0 (check rf->warning and rf->complete for a partial read)
 * or a negative errno with a one-line reason in `err`, when nothing usable could be
 * read: -ENOENT/-EACCES (open), -EPROTO (not a recording), -EPROTONOSUPPORT (version),
 * -ECANCELED (the callback's error is returned as is). Nothing is allocated from a size
 * the file declares without bounding it by the file's real size and AI_RF_MAX_RAW.
 */
int ai_recfile_read(const char *path, ai_rf_event_fn fn, void *ctx, struct ai_recfile **out,
		    char *err, size_t errlen);
/* The same from a FILE open for reading (seekable); the caller closes it. */
int ai_recfile_fread(FILE *f, ai_rf_event_fn fn, void *ctx, struct ai_recfile **out, char *err,
		     size_t errlen);
void ai_recfile_free(struct ai_recfile *rf);

/* The descriptor at runtime address `addr` in process `pid`, or NULL. */
const struct ai_desc *ai_recfile_desc(const struct ai_recfile *rf, uint32_t pid, uint64_t addr);
/* The task name stored for (pid, addr), or NULL. */
const char *ai_recfile_name(const struct ai_recfile *rf, uint32_t pid, uint64_t addr);
const struct ai_rf_proc *ai_recfile_proc(const struct ai_recfile *rf, uint32_t pid);
/* Expected size of an event of a known type, 0 for unknown types. */
size_t ai_rec_event_size(unsigned type);

#endif /* AI_RECFILE_H */
