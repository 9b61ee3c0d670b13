/* SPDX-License-Identifier: MIT */
/*
 * Descriptor tables: the async_desc section of an ELF object (include/async/abi.h), and
 * the libasync USDT notes beside it. The file is untrusted: every size, offset and
 * string reference is checked against the file's real size before it is used, and
 * allocations are bounded by the size of the section that is really in the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async/abi.h"
#include "common.h"
#include "desc.h"
#include "outfile.h"

#ifndef R_AARCH64_RELATIVE
#define R_AARCH64_RELATIVE 1027
#endif
#define AI_NT_STAPSDT 3

/* ---- error details ------------------------------------------------------------------ */

static __thread int last_err;
static __thread char last_detail[200];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_detail, sizeof(last_detail), fmt, ap);
	va_end(ap);
	last_err = err;
	return err;
}

const char *ai_desc_strerror(int err)
{
	if (err == last_err && last_detail[0])
		return last_detail;
	switch (-err) {
	case ENOEXEC:
		return "not a 64-bit little-endian ELF file";
	case ENODATA:
		return "no " ASYNC_DESC_SECTION " section (not built with libasync's macros?)";
	case EBADMSG:
		return "malformed " ASYNC_DESC_SECTION " section";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

/* ---- opening an ELF object ---------------------------------------------------------- */

struct elf_file {
	int fd;
	Elf *elf;
	const char *raw; /* the whole file image */
	size_t rawsz;
	GElf_Ehdr eh;
	size_t shstrndx;
};

static void elf_file_close(struct elf_file *ef)
{
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	ef->elf = NULL;
	ef->fd = -1;
}

/* Checks the identification bytes and the headers; ef->elf is already set. */
static int elf_file_check(struct elf_file *ef)
{
	const unsigned char *id;

	ef->raw = elf_rawfile(ef->elf, &ef->rawsz);
	if (!ef->raw || ef->rawsz < EI_NIDENT || memcmp(ef->raw, ELFMAG, SELFMAG))
		return fail(-ENOEXEC, "not an ELF file");
	id = (const unsigned char *)ef->raw;
	if (id[EI_CLASS] != ELFCLASS64)
		return fail(-ENOEXEC, "%s ELF file is not supported (need 64-bit little-endian)",
			    id[EI_CLASS] == ELFCLASS32 ? "32-bit" : "unknown-class");
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(-ENOEXEC, "%s ELF file is not supported (need 64-bit little-endian)",
			    id[EI_DATA] == ELFDATA2MSB ? "big-endian" : "unknown-byte-order");
	if (ef->rawsz < sizeof(Elf64_Ehdr))
		return fail(-EBADMSG, "truncated ELF file (%zu bytes, shorter than its header)",
			    ef->rawsz);
	/* libelf quietly ignores header tables past the end: a truncated file must say so */
	Elf64_Ehdr eh;

	memcpy(&eh, ef->raw, sizeof(eh));
	if (eh.e_shoff &&
	    (eh.e_shoff > ef->rawsz ||
	     (uint64_t)(eh.e_shnum ? eh.e_shnum : 1) * sizeof(Elf64_Shdr) > ef->rawsz - eh.e_shoff))
		return fail(-EBADMSG,
			    "truncated ELF file: its section headers lie past the end of the file "
			    "(%zu bytes)",
			    ef->rawsz);
	if (eh.e_phoff && (eh.e_phoff > ef->rawsz ||
			   (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > ef->rawsz - eh.e_phoff))
		return fail(-EBADMSG,
			    "truncated ELF file: its program headers lie past the end of the file "
			    "(%zu bytes)",
			    ef->rawsz);
	if (elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->eh))
		return fail(-EBADMSG, "malformed or truncated ELF file (%s)", elf_errmsg(-1));
	if (ef->eh.e_type == ET_REL)
		return fail(-ENOEXEC, "relocatable object file (.o): link it first");
	if (ef->eh.e_type != ET_EXEC && ef->eh.e_type != ET_DYN)
		return fail(-ENOEXEC, "ELF file is neither an executable nor a shared library");
	if (elf_getshdrstrndx(ef->elf, &ef->shstrndx))
		return fail(-EBADMSG, "malformed or truncated ELF file (%s)", elf_errmsg(-1));
	return 0;
}

static int elf_file_open(const char *path, struct elf_file *ef)
{
	char why[128];
	struct stat st;
	int err;

	memset(ef, 0, sizeof(*ef));
	ef->fd = -1;
	elf_version(EV_CURRENT);
	ef->fd = ai_open_input(path, why, sizeof(why));
	if (ef->fd < 0) {
		err = ef->fd;
		ef->fd = -1;
		return fail(err, "%s", why);
	}
	if (fstat(ef->fd, &st)) {
		err = -errno;
		elf_file_close(ef);
		return fail(err, "%s", strerror(-err));
	}
	if (S_ISDIR(st.st_mode)) {
		elf_file_close(ef);
		return fail(-EISDIR, "%s", strerror(EISDIR));
	}
	if (!S_ISREG(st.st_mode) || st.st_size < EI_NIDENT) {
		elf_file_close(ef);
		return fail(-ENOEXEC, "not an ELF file");
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf) {
		char id[EI_NIDENT];

		/* libelf refuses truncated headers: say whether it was an ELF file at all */
		if (pread(ef->fd, id, sizeof(id), 0) == sizeof(id) && !memcmp(id, ELFMAG, SELFMAG))
			err =
			    fail(-EBADMSG, "malformed or truncated ELF file (%s)", elf_errmsg(-1));
		else
			err = fail(-ENOEXEC, "not an ELF file");
		elf_file_close(ef);
		return err;
	}
	err = elf_file_check(ef);
	if (err)
		elf_file_close(ef);
	return err;
}

static int elf_file_mem(const void *buf, size_t len, struct elf_file *ef)
{
	int err;

	memset(ef, 0, sizeof(*ef));
	ef->fd = -1;
	elf_version(EV_CURRENT);
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG))
		return fail(-ENOEXEC, "not an ELF file");
	ef->elf = elf_memory((char *)buf, len);
	if (!ef->elf)
		return fail(-EBADMSG, "malformed or truncated ELF file (%s)", elf_errmsg(-1));
	err = elf_file_check(ef);
	if (err)
		elf_file_close(ef);
	return err;
}

static const char *scn_name(struct elf_file *ef, const GElf_Shdr *sh)
{
	const char *n = elf_strptr(ef->elf, ef->shstrndx, sh->sh_name);

	return n ? n : "";
}

/*
 * File offset of link-time address v, through the PT_LOAD segment (or, without
 * program headers, the allocated section) holding it. *avail: bytes from there to the
 * end of that segment, within the file.
 */
static int vaddr_to_off(struct elf_file *ef, uint64_t v, uint64_t *off, uint64_t *avail)
{
	size_t phnum = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (!elf_getphdrnum(ef->elf, &phnum)) {
		for (size_t i = 0; i < phnum; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(ef->elf, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (v < ph.p_vaddr || v - ph.p_vaddr >= ph.p_filesz)
				continue;
			*off = ph.p_offset + (v - ph.p_vaddr);
			*avail = ph.p_filesz - (v - ph.p_vaddr);
			goto found;
		}
		if (phnum)
			return -ERANGE;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type == SHT_NOBITS)
			continue;
		if (v < sh.sh_addr || v - sh.sh_addr >= sh.sh_size)
			continue;
		*off = sh.sh_offset + (v - sh.sh_addr);
		*avail = sh.sh_size - (v - sh.sh_addr);
		goto found;
	}
	return -ERANGE;
found:
	if (*off >= ef->rawsz) /* the segment claims bytes past the end of the file */
		return -ERANGE;
	if (*avail > ef->rawsz - *off)
		*avail = ef->rawsz - *off;
	return 0;
}

#define AI_DESC_STR_MAX 4096

/* Copies the NUL-terminated string at link-time address v out of the file. */
static int read_str(struct elf_file *ef, uint64_t v, char **out)
{
	uint64_t off, avail;
	const char *s, *nul;

	if (vaddr_to_off(ef, v, &off, &avail))
		return -ERANGE;
	s = ef->raw + off;
	nul = memchr(s, 0, avail < AI_DESC_STR_MAX ? avail : AI_DESC_STR_MAX);
	if (!nul)
		return -EBADMSG;
	*out = strndup(s, nul - s);
	return *out ? 0 : -ENOMEM;
}

/* ---- USDT notes --------------------------------------------------------------------- */

static uint64_t le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8); /* only little-endian files get this far */
	return v;
}

void ai_usdt_probes_free(struct ai_usdt_probe *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].provider);
		free(p[i].name);
		free(p[i].args);
	}
	free(p);
}

/* Reads every stapsdt note; with `out` NULL only counts libasync probes into *n. */
static int read_usdt(struct elf_file *ef, struct ai_usdt_probe **out, size_t *n)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	uint64_t base_addr = 0;
	int have_base = 0;
	struct ai_usdt_probe *p = NULL;
	size_t cnt = 0, cap = 0;
	int err = 0;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (gelf_getshdr(scn, &sh) && !strcmp(scn_name(ef, &sh), ".stapsdt.base")) {
			base_addr = sh.sh_addr;
			have_base = 1;
		}
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t off = 0, next, name_off, desc_off;
		GElf_Nhdr nh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		while ((next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const unsigned char *d = (const unsigned char *)data->d_buf + desc_off;
			const char *prov, *name, *args, *end;
			struct ai_usdt_probe pr = { 0 };

			off = next;
			if (nh.n_type != AI_NT_STAPSDT || nh.n_namesz != 8 ||
			    memcmp((const char *)data->d_buf + name_off, "stapsdt", 8))
				continue;
			if (nh.n_descsz < 3 * 8 + 3 || desc_off + nh.n_descsz > data->d_size)
				continue;
			end = (const char *)d + nh.n_descsz;
			prov = (const char *)d + 24;
			name = memchr(prov, 0, end - prov);
			if (!name || ++name >= end)
				continue;
			args = memchr(name, 0, end - name);
			if (!args || ++args > end)
				continue;
			if (args == end || !memchr(args, 0, end - args))
				args = NULL; /* no argument string: treat as "" */
			if (!out) {
				if (!strcmp(prov, ASYNC_PROBE_PROVIDER))
					cnt++;
				continue;
			}
			pr.pc = le64(d);
			pr.base = le64(d + 8);
			pr.semaphore = le64(d + 16);
			if (have_base && pr.base) {
				/* prelinked: shift the note's addresses as .stapsdt.base moved */
				pr.pc += base_addr - pr.base;
				if (pr.semaphore)
					pr.semaphore += base_addr - pr.base;
			}
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct ai_usdt_probe *np = realloc(p, ncap * sizeof(*p));

				if (!np) {
					err = -ENOMEM;
					goto out;
				}
				p = np;
				cap = ncap;
			}
			pr.provider = strdup(prov);
			pr.name = strdup(name);
			pr.args = strdup(args ? args : "");
			p[cnt++] = pr;
			if (!pr.provider || !pr.name || !pr.args) {
				err = -ENOMEM;
				goto out;
			}
		}
	}
out:
	if (err) {
		ai_usdt_probes_free(p, cnt);
		return err;
	}
	if (out)
		*out = p;
	*n = cnt;
	return 0;
}

int ai_usdt_probes_load(const char *path, struct ai_usdt_probe **out, size_t *n)
{
	struct elf_file ef;
	int err;

	*out = NULL;
	*n = 0;
	err = elf_file_open(path, &ef);
	if (err)
		return err;
	err = read_usdt(&ef, out, n);
	elf_file_close(&ef);
	return err;
}

int ai_usdt_probes_load_mem(const void *buf, size_t len, struct ai_usdt_probe **out, size_t *n)
{
	struct elf_file ef;
	int err;

	*out = NULL;
	*n = 0;
	err = elf_file_mem(buf, len, &ef);
	if (err)
		return err;
	err = read_usdt(&ef, out, n);
	elf_file_close(&ef);
	return err;
}

int ai_elf_has_libasync_probes(const char *path)
{
	struct elf_file ef;
	size_t n = 0;
	int err;

	err = elf_file_open(path, &ef);
	if (err)
		return err;
	err = read_usdt(&ef, NULL, &n);
	elf_file_close(&ef);
	return err ? err : n > 0;
}

/* ---- descriptor tables -------------------------------------------------------------- */

void ai_desc_table_free(struct ai_desc_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free((char *)t->descs[i].function);
		free((char *)t->descs[i].callee);
		free((char *)t->descs[i].file);
	}
	free(t->descs);
	free(t->path);
	free(t);
}

static int cmp_desc(const void *a, const void *b)
{
	const struct ai_desc *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

const struct ai_desc *ai_desc_table_find(const struct ai_desc_table *t, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!t)
		return NULL;
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->descs[mid].addr == addr)
			return &t->descs[mid];
		if (t->descs[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Relative relocations that patch the section: slot i (8 bytes at addr + 8 i) gets val[i]. */
struct relocs {
	uint64_t *val;
	unsigned char *set;
	size_t nslots;
};

static int read_relocs(struct elf_file *ef, const GElf_Shdr *ds, struct relocs *r)
{
	uint32_t rel_type = ef->eh.e_machine == EM_AARCH64 ? R_AARCH64_RELATIVE : R_X86_64_RELATIVE;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	r->nslots = ds->sh_size / 8;
	r->val = calloc(r->nslots ? r->nslots : 1, sizeof(*r->val));
	r->set = calloc(r->nslots ? r->nslots : 1, 1);
	if (!r->val || !r->set)
		return -ENOMEM;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		size_t cnt;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			return fail(-EBADMSG, "relocation section %s is malformed (%s)",
				    scn_name(ef, &sh), elf_errmsg(-1));
		cnt = data->d_size / sizeof(Elf64_Rela);
		for (size_t i = 0; i < cnt; i++) {
			GElf_Rela rela;
			uint64_t d;

			if (!gelf_getrela(data, i, &rela))
				break;
			if (GELF_R_TYPE(rela.r_info) != rel_type)
				continue;
			if (rela.r_offset < ds->sh_addr)
				continue;
			d = rela.r_offset - ds->sh_addr;
			if (d >= ds->sh_size || d % 8)
				continue;
			r->val[d / 8] = rela.r_addend;
			r->set[d / 8] = 1;
		}
	}
	return 0;
}

static const char *kind_field_name(int field)
{
	return field == 0 ? "function" : field == 1 ? "callee" : "file";
}

static int load_table(struct elf_file *ef, const char *path, int allow_empty,
		      struct ai_desc_table **out)
{
	struct ai_desc_table *t;
	struct relocs r = { 0 };
	Elf_Scn *scn = NULL, *dscn = NULL;
	GElf_Shdr sh, ds = { 0 };
	Elf_Data *data;
	size_t nprobes = 0, n;
	int err;

	*out = NULL;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return fail(-EBADMSG, "malformed section header (%s)", elf_errmsg(-1));
		if (!strcmp(scn_name(ef, &sh), ASYNC_DESC_SECTION)) {
			dscn = scn;
			ds = sh;
			break;
		}
	}
	err = read_usdt(ef, NULL, &nprobes);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->has_probes = nprobes > 0;
	t->path = strdup(path ? path : "");
	if (!t->path) {
		err = -ENOMEM;
		goto fail;
	}
	if (!dscn || ds.sh_size == 0) {
		if (allow_empty && t->has_probes)
			goto done;
		err = fail(-ENODATA, dscn ? "the " ASYNC_DESC_SECTION " section is empty"
					  : "no " ASYNC_DESC_SECTION
					    " section (not built with libasync's macros?)");
		goto fail;
	}
	if (ds.sh_type == SHT_NOBITS) {
		err = fail(-EBADMSG,
			   "the " ASYNC_DESC_SECTION " section has no contents in the file");
		goto fail;
	}
	if (ds.sh_size % sizeof(struct async_desc_abi)) {
		err = fail(-EBADMSG,
			   "the " ASYNC_DESC_SECTION " section's size %" PRIu64
			   " is not a multiple of %zu",
			   (uint64_t)ds.sh_size, sizeof(struct async_desc_abi));
		goto fail;
	}
	data = elf_getdata(dscn, NULL);
	if (!data || !data->d_buf || data->d_size != ds.sh_size) {
		err = fail(-EBADMSG,
			   "the " ASYNC_DESC_SECTION " section lies outside the file (truncated?)");
		goto fail;
	}
	if (ds.sh_addr > UINT64_MAX - ds.sh_size) {
		err = fail(-EBADMSG, "the " ASYNC_DESC_SECTION " section's address is invalid");
		goto fail;
	}
	err = read_relocs(ef, &ds, &r);
	if (err)
		goto fail;
	n = ds.sh_size / sizeof(struct async_desc_abi);
	t->descs = calloc(n, sizeof(*t->descs));
	if (!t->descs) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct async_desc_abi a;
		struct ai_desc *d = &t->descs[t->n];
		uint64_t addr = ds.sh_addr + i * sizeof(a);
		uint64_t ptrs[3];
		char *strs[3] = { NULL, NULL, NULL };

		memcpy(&a, (const char *)data->d_buf + i * sizeof(a), sizeof(a));
		if (a.magic != ASYNC_DESC_MAGIC) {
			err =
			    fail(-EBADMSG, "descriptor %zu at 0x%" PRIx64 " has a bad magic 0x%08x",
				 i, addr, a.magic);
			goto fail;
		}
		if (a.kind < ASYNC_DESC_FUNCTION || a.kind > ASYNC_DESC_OBJECT) {
			err =
			    fail(-EBADMSG, "descriptor %zu at 0x%" PRIx64 " has an unknown kind %u",
				 i, addr, a.kind);
			goto fail;
		}
		ptrs[0] = a.function;
		ptrs[1] = a.callee;
		ptrs[2] = a.file;
		for (int f = 0; f < 3; f++) {
			/* function at +16, callee at +24, file at +32: slots 2, 3, 4 */
			size_t slot = i * (sizeof(a) / 8) + 2 + f;

			if (r.set[slot])
				ptrs[f] = r.val[slot];
			if (!ptrs[f]) {
				if (f == 1)
					continue; /* no callee */
				err = fail(-EBADMSG, "descriptor %zu at 0x%" PRIx64 " has no %s", i,
					   addr, kind_field_name(f));
				break;
			}
			err = read_str(ef, ptrs[f], &strs[f]);
			if (err == -ENOMEM)
				break;
			if (err) {
				err = fail(-EBADMSG,
					   "descriptor %zu at 0x%" PRIx64
					   ": %s string at 0x%" PRIx64 " is %s",
					   i, addr, kind_field_name(f), ptrs[f],
					   err == -ERANGE ? "outside the file's loaded segments"
							  : "not terminated");
				break;
			}
		}
		if (err) {
			for (int f = 0; f < 3; f++)
				free(strs[f]);
			goto fail;
		}
		/* display name: "fetch_user_poll" -> "fetch_user" */
		size_t len = strlen(strs[0]);

		if (len > 5 && !strcmp(strs[0] + len - 5, "_poll"))
			strs[0][len - 5] = '\0';
		d->addr = addr;
		d->kind = a.kind;
		d->line = a.line;
		d->function = strs[0];
		d->callee = strs[1];
		d->file = strs[2];
		t->n++;
	}
	qsort(t->descs, t->n, sizeof(*t->descs), cmp_desc);
done:
	free(r.val);
	free(r.set);
	last_err = 0;
	*out = t;
	return 0;
fail:
	free(r.val);
	free(r.set);
	ai_desc_table_free(t);
	return err;
}

int ai_desc_table_load(const char *path, int allow_empty, struct ai_desc_table **out)
{
	struct elf_file ef;
	int err;

	*out = NULL;
	err = elf_file_open(path, &ef);
	if (err)
		return err;
	err = load_table(&ef, path, allow_empty, out);
	elf_file_close(&ef);
	return err;
}

int ai_desc_table_load_mem(const void *buf, size_t len, const char *name, int allow_empty,
			   struct ai_desc_table **out)
{
	struct elf_file ef;
	int err;

	*out = NULL;
	err = elf_file_mem(buf, len, &ef);
	if (err)
		return err;
	err = load_table(&ef, name, allow_empty, out);
	elf_file_close(&ef);
	return err;
}

const char *ai_desc_location(const struct ai_desc *d, char *buf, size_t len)
{
	if (!d)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s:%u", d->file ? d->file : "?", d->line);
	return buf;
}

const char *ai_desc_kind_name(uint32_t kind)
{
	switch (kind) {
	case ASYNC_DESC_FUNCTION:
		return "function";
	case ASYNC_DESC_AWAIT:
		return "await";
	case ASYNC_DESC_LEAF:
		return "leaf";
	case ASYNC_DESC_TRACED:
		return "traced";
	case ASYNC_DESC_CALL:
		return "call";
	case ASYNC_DESC_OBJECT:
		return "object";
	default:
		return "unknown";
	}
}
