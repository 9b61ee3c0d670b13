// SPDX-License-Identifier: MIT
/* Names of a running process: see names.h. (Moved whole from desc.c.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "names.h"
#include "proc.h"

/* ---- every table of a process ------------------------------------------------------- */

struct ai_proc_obj {
	char *path;		 /* as in /proc/PID/maps */
	uint64_t bias;		 /* runtime = link-time + bias */
	struct ai_desc_table *t; /* NULL: tried, has no descriptors */
};

struct ai_proc_descs {
	pid_t pid;
	struct ai_proc_obj *objs;
	size_t n;
	uint64_t last_scan_ns;
};

#define AI_RESCAN_NS 100000000ull /* re-read the maps on a miss at most every 100 ms */

static int proc_descs_scan(struct ai_proc_descs *p)
{
	struct ai_map *maps = NULL;
	size_t nmaps = 0;
	int err;

	p->last_scan_ns = ai_now_ns();
	err = ai_proc_maps(p->pid, &maps, &nmaps);
	if (err)
		return err;
	for (size_t i = 0; i < nmaps; i++) {
		const char *mp = maps[i].path;
		char full[4096];
		struct ai_proc_obj *o;
		size_t j;

		if (!ai_proc_map_is_file(&maps[i]))
			continue;
		for (j = 0; j < p->n; j++)
			if (!strcmp(p->objs[j].path, mp))
				break;
		if (j < p->n)
			continue;
		o = realloc(p->objs, (p->n + 1) * sizeof(*o));
		if (!o) {
			err = -ENOMEM;
			break;
		}
		p->objs = o;
		o = &p->objs[p->n];
		memset(o, 0, sizeof(*o));
		o->path = strdup(mp);
		if (!o->path) {
			err = -ENOMEM;
			break;
		}
		p->n++;
		snprintf(full, sizeof(full), "/proc/%d/root%s", (int)p->pid, mp);
		err = ai_desc_table_load(full, 0, &o->t);
		if (err == -ENOENT || err == -EACCES)
			err = ai_desc_table_load(mp, 0, &o->t);
		if (err) {
			err = 0; /* most objects (libc, ...) have no descriptors */
			continue;
		}
		if (ai_proc_load_bias(p->pid, mp, &o->bias)) {
			ai_desc_table_free(o->t);
			o->t = NULL;
		}
	}
	ai_proc_maps_free(maps, nmaps);
	return err;
}

int ai_proc_descs_load(pid_t pid, struct ai_proc_descs **out)
{
	struct ai_proc_descs *p = calloc(1, sizeof(*p));
	int err;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	err = proc_descs_scan(p);
	if (err) {
		ai_proc_descs_free(p);
		return err;
	}
	*out = p;
	return 0;
}

static const struct ai_desc *proc_descs_lookup(struct ai_proc_descs *p, uint64_t addr)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct ai_desc *d;

		if (!p->objs[i].t)
			continue;
		d = ai_desc_table_find(p->objs[i].t, addr - p->objs[i].bias);
		if (d)
			return d;
	}
	return NULL;
}

const struct ai_desc *ai_proc_descs_find(struct ai_proc_descs *p, uint64_t addr)
{
	const struct ai_desc *d;

	if (!p || !addr)
		return NULL;
	d = proc_descs_lookup(p, addr);
	if (d || ai_now_ns() - p->last_scan_ns < AI_RESCAN_NS)
		return d;
	proc_descs_scan(p);
	return proc_descs_lookup(p, addr);
}

int ai_proc_descs_object(const struct ai_proc_descs *p, size_t i, const char **path, uint64_t *bias,
			 const struct ai_desc_table **t)
{
	if (!p || i >= p->n)
		return -ENOENT;
	*path = p->objs[i].path;
	*bias = p->objs[i].bias;
	*t = p->objs[i].t;
	return 0;
}

void ai_proc_descs_free(struct ai_proc_descs *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->objs[i].path);
		ai_desc_table_free(p->objs[i].t);
	}
	free(p->objs);
	free(p);
}
