/* SPDX-License-Identifier: MIT */
/* Finding the object that will hold libasync's probes for a command not started yet. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "async/abi.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "proc.h"

static int copy_path(const char *src, char *path, size_t len)
{
	if (strlen(src) >= len)
		return -ENAMETOOLONG;
	strcpy(path, src);
	return 0;
}

int ai_exec_resolve(const char *cmd, char *path, size_t len)
{
	const char *env, *p;

	if (!cmd || !*cmd)
		return -ENOENT;
	if (strchr(cmd, '/')) {
		if (access(cmd, X_OK))
			return -errno;
		return copy_path(cmd, path, len);
	}
	env = getenv("PATH");
	if (!env)
		env = "/usr/local/bin:/usr/bin:/bin";
	for (p = env;; p = strchr(p, ':') + 1) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char cand[PATH_MAX];

		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? p : ".", cmd) <
			(int)sizeof(cand) &&
		    !access(cand, X_OK))
			return copy_path(cand, path, len);
		if (!end)
			break;
	}
	return -ENOENT;
}

struct dyn_info {
	char *needed; /* the libasync.so* entry */
	char *rpath, *runpath;
};

static void dyn_info_free(struct dyn_info *d)
{
	free(d->needed);
	free(d->rpath);
	free(d->runpath);
}

static int read_dynamic(const char *path, struct dyn_info *d)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *e;
	int fd, err = 0;

	memset(d, 0, sizeof(*d));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *data;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			const char *s;

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH &&
			    dyn.d_tag != DT_RUNPATH)
				continue;
			s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag == DT_NEEDED && !d->needed && !strncmp(s, "libasync.so", 11))
				d->needed = strdup(s);
			else if (dyn.d_tag == DT_RPATH && !d->rpath)
				d->rpath = strdup(s);
			else if (dyn.d_tag == DT_RUNPATH && !d->runpath)
				d->runpath = strdup(s);
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}

/* Tries every directory of a ':'-separated list; $ORIGIN is the executable's directory. */
static int search_dirs(const char *list, const char *origin, const char *lib, char *path,
		       size_t len)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char dir[PATH_MAX], cand[2 * PATH_MAX + 256];

		if (n && n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			if (!strncmp(dir, "$ORIGIN", 7))
				snprintf(cand, sizeof(cand), "%s%s/%s", origin, dir + 7, lib);
			else if (!strncmp(dir, "${ORIGIN}", 9))
				snprintf(cand, sizeof(cand), "%s%s/%s", origin, dir + 9, lib);
			else
				snprintf(cand, sizeof(cand), "%s/%s", dir, lib);
			if (ai_elf_has_libasync_probes(cand) == 1)
				return copy_path(cand, path, len);
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int ai_exec_find_libasync(const char *exe, char *path, size_t len)
{
	static const char defaults[] = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:"
				       "/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib";
	struct dyn_info d;
	char real[PATH_MAX], *slash;
	int err;

	err = ai_elf_has_libasync_probes(exe);
	if (err < 0)
		return err;
	if (err == 1)
		return copy_path(exe, path, len);
	err = read_dynamic(exe, &d);
	if (err)
		return err;
	if (!d.needed) {
		err = -ENOENT;
		goto out;
	}
	if (!realpath(exe, real)) {
		err = -errno;
		goto out;
	}
	slash = strrchr(real, '/');
	if (slash)
		*slash = '\0';
	err = -ENOENT;
	if (!d.runpath && d.rpath)
		err = search_dirs(d.rpath, real, d.needed, path, len);
	if (err)
		err = search_dirs(getenv("LD_LIBRARY_PATH"), real, d.needed, path, len);
	if (err && d.runpath)
		err = search_dirs(d.runpath, real, d.needed, path, len);
	if (err)
		err = search_dirs(defaults, real, d.needed, path, len);
out:
	dyn_info_free(&d);
	return err;
}

int ai_probe_target(pid_t pid, const char *cmd, char *exe, size_t exe_len, char *path, size_t len)
{
	return ai_probe_target_verb(pid, cmd, "trace", exe, exe_len, path, len);
}

int ai_probe_target_verb(pid_t pid, const char *cmd, const char *verb, char *exe, size_t exe_len,
			 char *path, size_t len)
{
	char what[32];
	int err;

	if (pid > 0) {
		err = ai_check_pid(pid);
		if (err)
			return err;
		err = ai_proc_find_libasync(pid, path, len);
		if (err == -ENOENT) {
			ai_errorf("process %d has no libasync probes: is it linked with libasync "
				  "(-lasync)?",
				  (int)pid);
			return err;
		}
		if (err) {
			snprintf(what, sizeof(what), "%d", (int)pid);
			return ai_err("read the mappings of process", what, err);
		}
		return 0;
	}
	if (!cmd || !exe)
		return -EINVAL;
	err = ai_exec_resolve(cmd, exe, exe_len);
	if (err)
		return ai_err("find command", cmd, err);
	err = ai_exec_find_libasync(exe, path, len);
	if (err == -ENOENT) {
		ai_errorf("'%s' has no libasync probes: link it with libasync (-lasync) to %s it",
			  exe, verb);
		return err;
	}
	if (err)
		return ai_err("read", exe, err);
	return 0;
}

int ai_attach_usdt(struct bpf_program *prog, pid_t pid, const char *path, const char *name,
		   bool optional, struct bpf_link **link)
{
	char what[PATH_MAX + 64];
	struct bpf_link *l;
	int err;

	*link = NULL;
	l = bpf_program__attach_usdt(prog, pid, path, ASYNC_PROBE_PROVIDER, name, NULL);
	err = libbpf_get_error(l);
	if (optional && err == -ENOENT)
		return 0;
	if (err || !l) {
		snprintf(what, sizeof(what), "%s:%s:%s", path, ASYNC_PROBE_PROVIDER, name);
		return ai_err("attach to", what, err ? err : -EINVAL);
	}
	*link = l;
	return 0;
}
