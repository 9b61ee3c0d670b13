/* SPDX-License-Identifier: MIT */
/*
 * A process' CPU quota and how much it was throttled, from its cgroup: v2 (cpu.max,
 * cpu.stat throttled_usec) or v1 (cpu.cfs_quota_us, cpu.cfs_period_us, cpu.stat
 * throttled_time). Prints nothing.
 */
#ifndef AI_CGROUP_H
#define AI_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

struct ai_cgroup_cpu {
	uint64_t quota_us, period_us; /* 0, 0: no quota */
	uint64_t throttled_ns;	      /* since the cgroup was created */
};

/* For `pid` (/proc/PID/cgroup, /sys/fs/cgroup). -ENOENT when no cpu cgroup is found. */
int ai_cgroup_cpu(pid_t pid, struct ai_cgroup_cpu *out);
/* The same from a /proc/PID/cgroup file and a cgroup file system root (for tests). */
int ai_cgroup_cpu_at(const char *proc_cgroup, const char *sysfs, struct ai_cgroup_cpu *out);

#endif /* AI_CGROUP_H */
