/* SPDX-License-Identifier: MIT */
/* CPU quota and throttling of a process' cgroup (see cgroup.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"

/* dir/file into buf; false when it does not fit. */
static bool join(char *buf, size_t len, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return n > 0 && (size_t)n < len;
}

/* The value after `key` in a "key value" file, or false. */
static bool keyed_value(const char *path, const char *key, unsigned long long *v)
{
	char k[64];
	unsigned long long x;
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fscanf(f, "%63s %llu", k, &x) == 2)
		if (!strcmp(k, key)) {
			*v = x;
			found = true;
		}
	fclose(f);
	return found;
}

static bool read_ll(const char *path, long long *v)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%lld", v) == 1;
	fclose(f);
	return ok;
}

static int from_v2(const char *dir, struct ai_cgroup_cpu *out)
{
	char path[4200], quota[32];
	unsigned long long period = 0, usec;
	FILE *f;

	if (!join(path, sizeof(path), dir, "cpu.max"))
		return -ENAMETOOLONG;
	f = fopen(path, "r");
	if (!f)
		return -ENOENT; /* no cpu controller here */
	if (fscanf(f, "%31s %llu", quota, &period) == 2 && strcmp(quota, "max")) {
		out->quota_us = strtoull(quota, NULL, 10);
		out->period_us = period;
	}
	fclose(f);
	if (!join(path, sizeof(path), dir, "cpu.stat"))
		return -ENAMETOOLONG;
	if (keyed_value(path, "throttled_usec", &usec))
		out->throttled_ns = usec * 1000;
	return 0;
}

static int from_v1(const char *dir, struct ai_cgroup_cpu *out)
{
	char path[4200];
	long long quota, period;
	unsigned long long ns;

	if (!join(path, sizeof(path), dir, "cpu.cfs_quota_us"))
		return -ENAMETOOLONG;
	if (!read_ll(path, &quota))
		return -ENOENT;
	if (!join(path, sizeof(path), dir, "cpu.cfs_period_us"))
		return -ENAMETOOLONG;
	if (quota > 0 && read_ll(path, &period) && period > 0) {
		out->quota_us = (uint64_t)quota;
		out->period_us = (uint64_t)period;
	}
	if (!join(path, sizeof(path), dir, "cpu.stat"))
		return -ENAMETOOLONG;
	if (keyed_value(path, "throttled_time", &ns))
		out->throttled_ns = ns;
	return 0;
}

/* "cpu,cpuacct" names the v1 hierarchy with the cpu controller. */
static bool has_cpu(const char *controllers)
{
	char buf[256], *save, *c;

	snprintf(buf, sizeof(buf), "%s", controllers);
	for (c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (!strcmp(c, "cpu"))
			return true;
	return false;
}

int ai_cgroup_cpu_at(const char *proc_cgroup, const char *sysfs, struct ai_cgroup_cpu *out)
{
	char line[4096], dir[4200];
	int err = -ENOENT;
	FILE *f = fopen(proc_cgroup, "r");

	memset(out, 0, sizeof(*out));
	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *path;

		if (!ctl || !(path = strchr(ctl + 1, ':')))
			continue;
		*path++ = '\0';
		ctl++;
		path[strcspn(path, "\n")] = '\0';
		if (!*ctl) { /* "0::/path": the unified hierarchy */
			snprintf(dir, sizeof(dir), "%s%s", sysfs, path);
			err = from_v2(dir, out);
		} else if (has_cpu(ctl)) {
			snprintf(dir, sizeof(dir), "%s/%s%s", sysfs, ctl, path);
			err = from_v1(dir, out);
			if (err) { /* mounted as "cpu" only, with cpuacct beside it */
				snprintf(dir, sizeof(dir), "%s/cpu%s", sysfs, path);
				err = from_v1(dir, out);
			}
		}
	}
	fclose(f);
	return err;
}

int ai_cgroup_cpu(pid_t pid, struct ai_cgroup_cpu *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	return ai_cgroup_cpu_at(path, "/sys/fs/cgroup", out);
}
