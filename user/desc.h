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
	uint64_t addr; /* link-time virtual address of the descriptor in its object */
	uint32_t kind; /* enum async_desc_kind */
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

/* "fetch_user", "fetch_user@fetch_posts", "examples/fetch_user.c:41" helpers. */
const char *ai_desc_location(const struct ai_desc *d, char *buf, size_t len);

/* ---- in-memory loaders, USDT notes, names ------------------------------------------ */

/* ai_desc_table_load() on an ELF image in memory (`name` becomes t->path); for fuzzing. */
int ai_desc_table_load_mem(const void *buf, size_t len, const char *name, int allow_empty,
			   struct ai_desc_table **out);
/* "function", "await", "leaf", "traced", "call", "object" for enum async_desc_kind. */
const char *ai_desc_kind_name(uint32_t kind);

/* One USDT probe of an ELF object (a .note.stapsdt note), addresses link-time. */
struct ai_usdt_probe {
	char *provider;
	char *name;
	char *args; /* the argument spec string, e.g. "8@%rdi -4@%esi"; "" when none */
	uint64_t pc;
	uint64_t base;
	uint64_t semaphore; /* 0 when the probe has none */
};
/* Every stapsdt probe of the file (any provider), in note order; errors as above. */
int ai_usdt_probes_load(const char *path, struct ai_usdt_probe **out, size_t *n);
/* The same on an ELF image in memory (for fuzzing). */
int ai_usdt_probes_load_mem(const void *buf, size_t len, struct ai_usdt_probe **out, size_t *n);
void ai_usdt_probes_free(struct ai_usdt_probe *p, size_t n);
/* 1 if the file carries libasync USDT probes, 0 if not, negative errno if unreadable. */
int ai_elf_has_libasync_probes(const char *path);

#endif /* AI_DESC_H */
