/* SPDX-License-Identifier: MIT */
/*
 * Instruction addresses of a traced process → function names, from the ELF symbol
 * tables (.symtab and .dynsym) of every object it maps, with each object's load bias
 * taken from /proc/PID/maps. A stripped object's debug file (found by build id under
 * /usr/lib/debug/.build-id/) is used when installed; the vDSO is read from memory.
 * Objects are read once and cached; the mappings are kept as last seen, so addresses
 * still resolve after the process has exited.
 */
#ifndef AI_SYMBOLIZE_H
#define AI_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- one ELF file ------------------------------------------------------------------- */

struct ai_elf_syms;

/*
 * Reads the function symbols and PT_LOAD segments of one ELF file. Errors (negative
 * errno): -ENOENT/-EACCES cannot open; -ENOEXEC not an ELF file; -ENOMEM.
 * A file without any symbol table loads with no symbols (every lookup misses).
 */
int ai_elf_syms_load(const char *path, struct ai_elf_syms **out);
/* The same from an ELF image in memory (the vDSO read from a process). */
int ai_elf_syms_load_mem(const void *buf, size_t len, struct ai_elf_syms **out);
void ai_elf_syms_free(struct ai_elf_syms *e);
size_t ai_elf_syms_count(const struct ai_elf_syms *e);
/* Link-time virtual address of file offset `off` (through the PT_LOAD holding it). */
int ai_elf_syms_off_to_vaddr(const struct ai_elf_syms *e, uint64_t off, uint64_t *vaddr);
/*
 * The function containing link-time address `vaddr`, or NULL. *delta (may be NULL)
 * receives vaddr minus the symbol's start.
 */
const char *ai_elf_syms_find(const struct ai_elf_syms *e, uint64_t vaddr, uint64_t *delta);

/* ---- a process ---------------------------------------------------------------------- */

struct ai_symbolizer;

/* Reads /proc/PID/maps and the symbols of every executable mapping. */
int ai_symbolizer_new(pid_t pid, struct ai_symbolizer **out);
/*
 * Re-reads the mappings (objects mapped since are loaded). If the process is gone the
 * previous mappings are kept and -ESRCH is returned; lookups keep working.
 */
int ai_symbolizer_refresh(struct ai_symbolizer *s);
/*
 * Writes the function name holding `addr` into buf: "name", or, when no symbol covers
 * it, "[unknown] (module+0xOFF)" (OFF: file offset) or "[unknown] (0xADDR)" outside
 * any mapping. Returns 0 when a symbol was found, -ENOENT when none covers an address
 * in a mapping, -EFAULT outside every executable mapping (buf is filled either way). An address
 * outside every known mapping re-reads the mappings (at most once a second), for objects mapped
 * since the last refresh.
 */
int ai_symbolize(struct ai_symbolizer *s, uint64_t addr, char *buf, size_t len);
void ai_symbolizer_free(struct ai_symbolizer *s);

#endif /* AI_SYMBOLIZE_H */
