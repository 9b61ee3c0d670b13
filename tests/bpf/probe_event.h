/* SPDX-License-Identifier: MIT */
/* One libasync probe hit as the probe test's BPF program hands it to userspace. */
#ifndef PROBE_EVENT_H
#define PROBE_EVENT_H

enum pe_type {
	PE_TASK_SPAWN = 1,
	PE_POLL = 2,
	PE_TASK_DONE = 3,
	PE_WAIT = 4,
	PE_ACQUIRE = 5,
	PE_RELEASE = 6,
	PE_THREAD_START = 7,
	PE_NTYPES,
};

#define PE_MAX_ARGS 9

struct probe_event {
	__u32 type; /* enum pe_type */
	__u32 tid;  /* thread that hit the probe */
	__u64 ktime_ns;
	__u64 args[PE_MAX_ARGS]; /* the probe's arguments, in order, widened to 64 bits */
};

#endif /* PROBE_EVENT_H */
