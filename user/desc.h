/* SPDX-License-Identifier: MIT */
/*
 * Descriptor tables: the async_desc ELF section of an executable or shared library
 * (see include/async/abi.h), read from the file with libelf. The file is untrusted
 * input: every offset and string reference is checked, nothing is allocated from a
 * size the file declares without bounding it by the file's real size.
 */
#ifndef AI_DESC_H
#define AI_DESC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ai_desc {
	uint64_t addr;	      /* link-time virtual address of the descriptor in its object */
	uint32_t kind;	      /* enum async_desc_kind */
	uint32_t line;
	const char *function; /* display name: the poll function without "_poll" */
	const char *callee;   /* NULL when the descriptor has none */
	const char *file;
};

struct ai_desc_table {
	char *path;
	struct ai_desc *descs; /* sorted by addr */
	size_t n;
	int has_probes; /* the object carries libasync USDT notes */
};

/*
 * Loads the descriptors of one ELF file. Errors (negative errno):
 *   -ENOENT/-EACCES  cannot open;  -ENOEXEC  not an ELF file (or not 64-bit
 *   little-endian);  -ENODATA  no async_desc section;  -EBADMSG  malformed section,
 *   out-of-range offsets or string references;  -ENOMEM.
 * A file with probes but no descriptors loads with n == 0 only if allow_empty is set.
 */
int ai_desc_table_load(const char *path, int allow_empty, struct ai_desc_table **out);
void ai_desc_table_free(struct ai_desc_table *t);
/* The descriptor at link-time address `addr`, or NULL. */
const struct ai_desc *ai_desc_table_find(const struct ai_desc_table *t, uint64_t addr);
/* A one-line explanation of a load error, for "failed to read 'FILE': <this>". */
const char *ai_desc_strerror(int err);

/* Every descriptor table mapped into one process, with each object's load bias. */
struct ai_proc_descs;
int ai_proc_descs_load(pid_t pid, struct ai_proc_descs **out);
/* Looks up a runtime address; objects mapped since the last call are loaded on a miss. */
const struct ai_desc *ai_proc_descs_find(struct ai_proc_descs *p, uint64_t addr);
void ai_proc_descs_free(struct ai_proc_descs *p);

/* "fetch_user", "fetch_user@fetch_posts", "examples/fetch_user.c:41" helpers. */
const char *ai_desc_location(const struct ai_desc *d, char *buf, size_t len);

#endif /* AI_DESC_H */
