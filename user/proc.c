/* SPDX-License-Identifier: MIT */
/* A traced process seen from outside: its mappings, its memory, its symbols. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "desc.h"
#include "proc.h"

bool ai_proc_map_is_file(const struct ai_map *m)
{
	return m->path && m->path[0] == '/' && !strstr(m->path, " (deleted)");
}

bool ai_proc_map_first(const struct ai_map *maps, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (maps[j].path && maps[i].path && !strcmp(maps[j].path, maps[i].path))
			return false;
	return true;
}

void ai_proc_maps_free(struct ai_map *maps, size_t n)
{
	if (!maps)
		return;
	for (size_t i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
}

int ai_proc_maps(pid_t pid, struct ai_map **maps, size_t *n)
{
	char path[64], *line = NULL;
	size_t cap = 0, cnt = 0, lcap = 0;
	struct ai_map *m = NULL, *slot;
	FILE *f;
	int err = 0;

	*maps = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &lcap, f) > 0) {
		struct ai_map e = { 0 };
		unsigned long long start, end, off, inode;
		char perms[8];
		int pos = 0;
		char *p;

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &off,
			   &inode, &pos) < 5)
			continue;
		e.start = start;
		e.end = end;
		e.offset = off;
		e.inode = inode;
		memcpy(e.perms, perms, sizeof(e.perms) - 1);
		e.perms[sizeof(e.perms) - 1] = '\0';
		p = line + pos;
		p[strcspn(p, "\n")] = '\0';
		if (*p) {
			e.path = strdup(p);
			if (!e.path) {
				err = -ENOMEM;
				break;
			}
		}
		slot = ai_add_row((void **)&m, &cnt, &cap, sizeof(*m));
		if (!slot) {
			free(e.path);
			err = -ENOMEM;
			break;
		}
		*slot = e;
	}
	free(line);
	fclose(f);
	if (err) {
		ai_proc_maps_free(m, cnt);
		return err;
	}
	*maps = m;
	*n = cnt;
	return 0;
}

/* "/proc/PID/root/usr/lib/x.so" -> "/usr/lib/x.so" (the path as /proc/PID/maps shows it). */
static const char *strip_root(pid_t pid, const char *path)
{
	char prefix[64];
	size_t len;

	len = snprintf(prefix, sizeof(prefix), "/proc/%d/root", (int)pid);
	if (!strncmp(path, prefix, len) && path[len] == '/')
		return path + len;
	return path;
}

int ai_proc_find_libasync(pid_t pid, char *path, size_t len)
{
	struct ai_map *maps;
	size_t n;
	int err;

	err = ai_proc_maps(pid, &maps, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		char full[4096];

		if (!ai_proc_map_is_file(&maps[i]) || !ai_proc_map_first(maps, i))
			continue; /* each object once */
		snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, maps[i].path);
		if (ai_elf_has_libasync_probes(full) == 1) {
			snprintf(path, len, "%s", full);
			err = 0;
			break;
		}
	}
	ai_proc_maps_free(maps, n);
	return err;
}

struct elf_handle {
	int fd;
	Elf *elf;
};

static int elf_handle_open(pid_t pid, const char *path, struct elf_handle *h)
{
	char full[4096];

	elf_version(EV_CURRENT);
	h->elf = NULL;
	snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, path);
	h->fd = open(full, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0)
		h->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0)
		return -errno;
	h->elf = elf_begin(h->fd, ELF_C_READ_MMAP, NULL);
	if (!h->elf || elf_kind(h->elf) != ELF_K_ELF || gelf_getclass(h->elf) != ELFCLASS64) {
		if (h->elf)
			elf_end(h->elf);
		close(h->fd);
		return -ENOEXEC;
	}
	return 0;
}

static void elf_handle_close(struct elf_handle *h)
{
	elf_end(h->elf);
	close(h->fd);
}

/*
 * Load bias from one mapping of the object. ld.so maps each PT_LOAD from the page
 * holding p_offset to the page holding p_vaddr; a mapping whose offset is no such page
 * (a piece split off by mprotect) does not tell.
 */
static int bias_from_map(Elf *elf, const struct ai_map *m, uint64_t *bias)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_offset & ~(pg - 1)) != m->offset)
			continue;
		*bias = m->start - (ph.p_vaddr & ~(pg - 1));
		return 0;
	}
	return -ENOENT;
}

int ai_proc_load_bias(pid_t pid, const char *path, uint64_t *bias)
{
	const char *mp = strip_root(pid, path);
	struct elf_handle h;
	struct ai_map *maps;
	size_t n;
	int err;

	err = ai_proc_maps(pid, &maps, &n);
	if (err)
		return err;
	err = elf_handle_open(pid, mp, &h);
	if (err) {
		ai_proc_maps_free(maps, n);
		return err;
	}
	err = -ENOENT;
	for (size_t i = 0; i < n && err; i++) {
		if (maps[i].path && !strcmp(maps[i].path, mp))
			err = bias_from_map(h.elf, &maps[i], bias);
	}
	elf_handle_close(&h);
	ai_proc_maps_free(maps, n);
	return err;
}

static int read_mem_file(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = pread(fd, buf, len, (off_t)addr);
	close(fd);
	if (r < 0)
		return errno == EIO ? -EFAULT : -errno;
	return (size_t)r == len ? 0 : -EFAULT;
}

int ai_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t r;

	if (!len)
		return 0;
	if (!addr)
		return -EFAULT;
	r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (r < 0) {
		if (errno == ENOSYS || errno == EPERM)
			return read_mem_file(pid, addr, buf, len);
		return -errno;
	}
	return (size_t)r == len ? 0 : -EFAULT;
}

int ai_proc_read_str(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	while (got < len - 1) {
		/* never cross a page boundary in one read: the next page may be unmapped */
		size_t chunk = 4096 - ((addr + got) & 4095);
		int err;
		char *nul;

		if (chunk > len - 1 - got)
			chunk = len - 1 - got;
		err = ai_proc_read(pid, addr + got, buf + got, chunk);
		if (err) {
			buf[got] = '\0';
			return got ? 0 : err;
		}
		nul = memchr(buf + got, 0, chunk);
		if (nul)
			return 0;
		got += chunk;
	}
	buf[len - 1] = '\0';
	return 0;
}

static int find_sym(Elf *elf, const char *name, uint64_t *value)
{
	Elf_Scn *scn = NULL;

	for (int pass = 0; pass < 2; pass++) {
		Elf64_Word want = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;

		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;
			size_t cnt;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != want || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			cnt = data->d_size / sizeof(Elf64_Sym);
			for (size_t i = 0; i < cnt; i++) {
				GElf_Sym sym;
				const char *n;

				if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
				    !sym.st_value)
					continue;
				n = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (n && !strcmp(n, name)) {
					*value = sym.st_value;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

int ai_proc_symbol(pid_t pid, const char *name, uint64_t *addr)
{
	struct ai_map *maps;
	size_t n;
	int err;

	err = ai_proc_maps(pid, &maps, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n && err; i++) {
		struct elf_handle h;
		uint64_t value, bias;
		size_t j;

		if (!ai_proc_map_is_file(&maps[i]) || !ai_proc_map_first(maps, i))
			continue;
		if (elf_handle_open(pid, maps[i].path, &h))
			continue;
		if (!find_sym(h.elf, name, &value)) {
			for (j = i; j < n; j++) {
				if (maps[j].path && !strcmp(maps[j].path, maps[i].path) &&
				    !bias_from_map(h.elf, &maps[j], &bias)) {
					*addr = value + bias;
					err = 0;
					break;
				}
			}
		}
		elf_handle_close(&h);
	}
	ai_proc_maps_free(maps, n);
	return err;
}

int ai_proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t r;
	int fd;

	if (!len)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

struct probe_cache {
	char *path;
	uint64_t inode;
	int has;
};

int ai_proc_scan_libasync(pid_t **pids, size_t *n)
{
	struct probe_cache *cache = NULL;
	size_t ncache = 0, cnt = 0, cap = 0;
	pid_t *out = NULL, *slot;
	struct dirent *de;
	DIR *dir;
	int err = 0;

	*pids = NULL;
	*n = 0;
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		struct ai_map *maps;
		size_t nmaps;
		pid_t pid;
		int found = 0;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid <= 0 || ai_proc_maps(pid, &maps, &nmaps))
			continue;
		for (size_t i = 0; i < nmaps && !found; i++) {
			const char *mp = maps[i].path;
			size_t c;

			if (!ai_proc_map_is_file(&maps[i]))
				continue;
			for (c = 0; c < ncache; c++)
				if (cache[c].inode == maps[i].inode && !strcmp(cache[c].path, mp))
					break;
			if (c == ncache) {
				char full[4096];
				struct probe_cache *nc = realloc(cache, (ncache + 1) * sizeof(*nc));

				if (!nc) {
					err = -ENOMEM;
					break;
				}
				cache = nc;
				cache[c].path = strdup(mp);
				if (!cache[c].path) {
					err = -ENOMEM;
					break;
				}
				cache[c].inode = maps[i].inode;
				snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, mp);
				cache[c].has = ai_elf_has_libasync_probes(full) == 1;
				ncache++;
			}
			found = cache[c].has;
		}
		ai_proc_maps_free(maps, nmaps);
		if (err)
			break;
		if (!found)
			continue;
		slot = ai_add_row((void **)&out, &cnt, &cap, sizeof(*out));
		if (!slot) {
			err = -ENOMEM;
			break;
		}
		*slot = pid;
	}
	closedir(dir);
	for (size_t c = 0; c < ncache; c++)
		free(cache[c].path);
	free(cache);
	if (err) {
		free(out);
		return err;
	}
	*pids = out;
	*n = cnt;
	return 0;
}
