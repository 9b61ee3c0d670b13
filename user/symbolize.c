// SPDX-License-Identifier: MIT
/* ELF symbol tables of a process' mapped objects; see symbolize.h. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "proc.h"
#include "symbolize.h"

struct ai_sym {
	uint64_t addr;
	uint64_t size;
	uint32_t name; /* offset into names */
};

struct ai_seg {
	uint64_t off, filesz, vaddr;
};

struct ai_elf_syms {
	struct ai_sym *syms; /* sorted by addr */
	size_t n;
	char *names;
	size_t names_len;
	struct ai_seg *segs;
	size_t nsegs;
};

static int sym_cmp(const void *a, const void *b)
{
	const struct ai_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases prefer the one with a size, then the longer (deterministic). */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->name < y->name ? -1 : (x->name > y->name);
}

/* Appends the function symbols of one symbol table section. */
static int add_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct ai_elf_syms *e, size_t *cap,
		      size_t *names_cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count;

	if (!data || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;
		size_t len;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		len = strlen(name) + 1;
		if (e->names_len + len > *names_cap) {
			size_t ncap = *names_cap ? *names_cap * 2 : 4096;
			char *p;

			while (ncap < e->names_len + len)
				ncap *= 2;
			p = realloc(e->names, ncap);
			if (!p)
				return -ENOMEM;
			e->names = p;
			*names_cap = ncap;
		}
		if (e->n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct ai_sym *p = realloc(e->syms, ncap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			e->syms = p;
			*cap = ncap;
		}
		memcpy(e->names + e->names_len, name, len);
		e->syms[e->n++] = (struct ai_sym){ .addr = sym.st_value,
						   .size = sym.st_size,
						   .name = (uint32_t)e->names_len };
		e->names_len += len;
	}
	return 0;
}

/* Reads the function symbols of `elf` into e->syms (sorted, one per address). */
static int load_syms(Elf *elf, struct ai_elf_syms *e)
{
	size_t cap = 0, names_cap = 0, out = 0;
	Elf_Scn *scn = NULL;
	int err;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		err = add_symtab(elf, scn, &sh, e, &cap, &names_cap);
		if (err)
			return err;
	}
	if (!e->n)
		return 0;
	qsort(e->syms, e->n, sizeof(*e->syms), sym_cmp);
	/* .symtab and .dynsym repeat each other: keep one symbol per address. */
	for (size_t i = 0; i < e->n; i++) {
		if (out && e->syms[out - 1].addr == e->syms[i].addr)
			continue;
		e->syms[out++] = e->syms[i];
	}
	e->n = out;
	return 0;
}

/*
 * A separate debug file for `elf` (Debian's *-dbg packages): found by build id under
 * /usr/lib/debug/.build-id/xx/yyyy.debug. Returns an open fd or -1.
 */
static int open_debug_file(Elf *elf)
{
	static const char hex[] = "0123456789abcdef";
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		size_t off = 0, name_off, desc_off;
		Elf_Data *data;
		GElf_Shdr sh;
		GElf_Nhdr nh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const uint8_t *id = (const uint8_t *)data->d_buf + desc_off;
			char path[256], *p;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || nh.n_descsz < 2 ||
			    nh.n_descsz > 64 ||
			    memcmp((const char *)data->d_buf + name_off, "GNU", 4))
				continue;
			p = path + snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%c%c/",
					    hex[id[0] >> 4], hex[id[0] & 15]);
			for (size_t i = 1; i < nh.n_descsz; i++) {
				*p++ = hex[id[i] >> 4];
				*p++ = hex[id[i] & 15];
			}
			strcpy(p, ".debug");
			return open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	return -1;
}

static int load_elf(Elf *elf, struct ai_elf_syms *e)
{
	size_t phnum = 0;
	GElf_Ehdr eh;
	int err, fd;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		return -ENOEXEC;
	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	if (phnum) {
		e->segs = calloc(phnum, sizeof(*e->segs));
		if (!e->segs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		e->segs[e->nsegs++] = (struct ai_seg){ .off = ph.p_offset,
						       .filesz = ph.p_filesz,
						       .vaddr = ph.p_vaddr };
	}
	err = load_syms(elf, e);
	if (err)
		return err;
	/* Stripped objects (only .dynsym): a debug file names their internal functions. */
	fd = open_debug_file(elf);
	if (fd >= 0) {
		struct ai_elf_syms dbg = { 0 };
		Elf *d = elf_begin(fd, ELF_C_READ_MMAP, NULL);

		if (d && elf_kind(d) == ELF_K_ELF && !load_syms(d, &dbg) && dbg.n > e->n) {
			free(e->syms);
			free(e->names);
			e->syms = dbg.syms;
			e->names = dbg.names;
			e->n = dbg.n;
			e->names_len = dbg.names_len;
		} else {
			free(dbg.syms);
			free(dbg.names);
		}
		if (d)
			elf_end(d);
		close(fd);
	}
	return 0;
}

int ai_elf_syms_load(const char *path, struct ai_elf_syms **out)
{
	struct ai_elf_syms *e;
	Elf *elf;
	int fd, err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		return -ENOMEM;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		err = -ENOEXEC;
	} else {
		err = load_elf(elf, e);
		elf_end(elf);
	}
	close(fd);
	if (err) {
		ai_elf_syms_free(e);
		return err;
	}
	*out = e;
	return 0;
}

int ai_elf_syms_load_mem(const void *buf, size_t len, struct ai_elf_syms **out)
{
	struct ai_elf_syms *e;
	Elf *elf;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	elf = elf_memory((char *)buf, len);
	if (!elf) {
		err = -ENOEXEC;
	} else {
		err = load_elf(elf, e);
		elf_end(elf);
	}
	if (err) {
		ai_elf_syms_free(e);
		return err;
	}
	*out = e;
	return 0;
}

void ai_elf_syms_free(struct ai_elf_syms *e)
{
	if (!e)
		return;
	free(e->syms);
	free(e->names);
	free(e->segs);
	free(e);
}

size_t ai_elf_syms_count(const struct ai_elf_syms *e)
{
	return e ? e->n : 0;
}

int ai_elf_syms_off_to_vaddr(const struct ai_elf_syms *e, uint64_t off, uint64_t *vaddr)
{
	for (size_t i = 0; i < e->nsegs; i++) {
		const struct ai_seg *s = &e->segs[i];

		if (off >= s->off && off < s->off + s->filesz) {
			*vaddr = off - s->off + s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

const char *ai_elf_syms_find(const struct ai_elf_syms *e, uint64_t vaddr, uint64_t *delta)
{
	size_t lo = 0, hi;
	const struct ai_sym *s;

	if (!e || !e->n)
		return NULL;
	hi = e->n;
	/* Last symbol with addr <= vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &e->syms[lo - 1];
	/* A sized symbol must cover the address; an unsized one is taken as it comes. */
	if (s->size && vaddr >= s->addr + s->size)
		return NULL;
	if (delta)
		*delta = vaddr - s->addr;
	return e->names + s->name;
}

/* ---- a process ---------------------------------------------------------------------- */

struct ai_obj {
	char *path;		  /* as /proc/PID/maps names it */
	struct ai_elf_syms *syms; /* NULL when it could not be read */
	int err;
};

struct ai_xmap {
	uint64_t start, end, offset;
	struct ai_obj *obj; /* NULL for mappings without a file ([vdso], anonymous JIT) */
	char *name;	    /* the mapping's name for [unknown] frames */
};

struct ai_symbolizer {
	pid_t pid;
	struct ai_xmap *maps;
	size_t nmaps;
	struct ai_obj **objs;
	size_t nobjs;
	uint64_t last_refresh_ns;
};

static struct ai_obj *get_obj(struct ai_symbolizer *s, const char *path)
{
	char buf[4096 + 64];
	struct ai_obj *o, **objs;

	for (size_t i = 0; i < s->nobjs; i++) {
		if (!strcmp(s->objs[i]->path, path))
			return s->objs[i];
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->path = strdup(path);
	objs = realloc(s->objs, (s->nobjs + 1) * sizeof(*objs));
	if (!o->path || !objs) {
		free(o->path);
		free(o);
		if (objs)
			s->objs = objs;
		return NULL;
	}
	s->objs = objs;
	s->objs[s->nobjs++] = o;
	/* Through the process' root first (containers), then as named. */
	snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)s->pid, path);
	o->err = ai_elf_syms_load(buf, &o->syms);
	if (o->err && o->err != -ENOEXEC)
		o->err = ai_elf_syms_load(path, &o->syms);
	return o;
}

/* The vDSO has no file: its ELF image is read from the process' memory. */
static struct ai_obj *get_vdso(struct ai_symbolizer *s, uint64_t start, uint64_t end)
{
	struct ai_obj *o, **objs;
	size_t len = end - start;
	void *buf;

	for (size_t i = 0; i < s->nobjs; i++) {
		if (!strcmp(s->objs[i]->path, "[vdso]"))
			return s->objs[i];
	}
	o = calloc(1, sizeof(*o));
	objs = realloc(s->objs, (s->nobjs + 1) * sizeof(*objs));
	if (objs)
		s->objs = objs;
	if (!o || !objs || !(o->path = strdup("[vdso]"))) {
		free(o);
		return NULL;
	}
	s->objs[s->nobjs++] = o;
	buf = len <= (1u << 20) ? malloc(len) : NULL;
	o->err = buf ? ai_proc_read(s->pid, start, buf, len) : -ENOMEM;
	if (!o->err)
		o->err = ai_elf_syms_load_mem(buf, len, &o->syms);
	free(buf);
	return o;
}

static void free_xmaps(struct ai_xmap *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(maps[i].name);
	free(maps);
}

int ai_symbolizer_refresh(struct ai_symbolizer *s)
{
	struct ai_map *maps = NULL;
	struct ai_xmap *xm;
	size_t n = 0, nx = 0;
	int err;

	s->last_refresh_ns = ai_now_ns();
	err = ai_proc_maps(s->pid, &maps, &n);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	xm = calloc(n ? n : 1, sizeof(*xm));
	if (!xm) {
		ai_proc_maps_free(maps, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *path = maps[i].path;
		struct ai_xmap *x = &xm[nx];

		if (maps[i].perms[2] != 'x')
			continue;
		x->start = maps[i].start;
		x->end = maps[i].end;
		x->offset = maps[i].offset;
		if (path && path[0] == '/') {
			const char *base = strrchr(path, '/') + 1;

			x->obj = get_obj(s, path);
			x->name = strdup(base);
		} else {
			if (path && !strcmp(path, "[vdso]"))
				x->obj = get_vdso(s, x->start, x->end);
			x->name = strdup(path && *path ? path : "[anon]");
		}
		if (!x->name) {
			free_xmaps(xm, nx);
			ai_proc_maps_free(maps, n);
			return -ENOMEM;
		}
		nx++;
	}
	ai_proc_maps_free(maps, n);
	free_xmaps(s->maps, s->nmaps);
	s->maps = xm;
	s->nmaps = nx;
	return 0;
}

int ai_symbolizer_new(pid_t pid, struct ai_symbolizer **out)
{
	struct ai_symbolizer *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pid = pid;
	err = ai_symbolizer_refresh(s);
	if (err) {
		ai_symbolizer_free(s);
		return err;
	}
	*out = s;
	return 0;
}

static const struct ai_xmap *find_map(const struct ai_symbolizer *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nmaps; i++) {
		if (addr >= s->maps[i].start && addr < s->maps[i].end)
			return &s->maps[i];
	}
	return NULL;
}

int ai_symbolize(struct ai_symbolizer *s, uint64_t addr, char *buf, size_t len)
{
	const struct ai_xmap *m = find_map(s, addr);
	uint64_t off, vaddr;
	const char *name;

	if (!m && ai_now_ns() - s->last_refresh_ns > 1000000000ull) {
		ai_symbolizer_refresh(s);
		m = find_map(s, addr);
	}
	if (!m) {
		snprintf(buf, len, "[unknown] (0x%llx)", (unsigned long long)addr);
		return -EFAULT;
	}
	off = addr - m->start + m->offset;
	if (m->obj && m->obj->syms && !ai_elf_syms_off_to_vaddr(m->obj->syms, off, &vaddr)) {
		name = ai_elf_syms_find(m->obj->syms, vaddr, NULL);
		if (name) {
			snprintf(buf, len, "%s", name);
			return 0;
		}
	}
	snprintf(buf, len, "[unknown] (%s+0x%llx)", m->name, (unsigned long long)off);
	return -ENOENT;
}

void ai_symbolizer_free(struct ai_symbolizer *s)
{
	if (!s)
		return;
	free_xmaps(s->maps, s->nmaps);
	for (size_t i = 0; i < s->nobjs; i++) {
		ai_elf_syms_free(s->objs[i]->syms);
		free(s->objs[i]->path);
		free(s->objs[i]);
	}
	free(s->objs);
	free(s);
}
