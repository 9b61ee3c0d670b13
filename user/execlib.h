/* SPDX-License-Identifier: MIT */
/*
 * Which file holds libasync's probes for a command that has not started yet, so probes
 * can be attached before its first instruction (`trace -- CMD ARGS`).
 */
#ifndef AI_EXECLIB_H
#define AI_EXECLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bpf_link;
struct bpf_program;

/* Resolves `cmd` the way execvp does (PATH search if it has no '/'). -ENOENT if none. */
int ai_exec_resolve(const char *cmd, char *path, size_t len);
/*
 * The object with libasync USDT probes that executable `exe` will run: the executable
 * itself (static libasync), or the libasync.so* it names in DT_NEEDED, resolved like the
 * dynamic loader does (DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, with $ORIGIN, then the
 * default directories). -ENOENT when neither has probes; -ENOEXEC when not ELF.
 */
int ai_exec_find_libasync(const char *exe, char *path, size_t len);

/*
 * What `-p PID` or `-- CMD` attaches libasync's probes to, for every tracing command:
 *   pid > 0: checks the process exists and finds the object holding the probes in its
 *            mappings (ai_proc_find_libasync: a /proc/PID/root/... path);
 *   cmd:     resolves it into `exe` (ai_exec_resolve), then ai_exec_find_libasync.
 * Prints the one-line error itself (no such process; "has no libasync probes ... link
 * it with libasync"; command not found; unreadable) and returns a negative errno.
 * Call it after ai_check_bpf_privileges(). `exe` may be NULL when cmd is NULL.
 */
int ai_probe_target(pid_t pid, const char *cmd, char *exe, size_t exe_len, char *path, size_t len);
/*
 * ai_probe_target for the command `verb` ("trace", "record"), which ends the message for a
 * command without probes: "... link it with libasync (-lasync) to <verb> it".
 */
int ai_probe_target_verb(pid_t pid, const char *cmd, const char *verb, char *exe, size_t exe_len,
			 char *path, size_t len);

/*
 * Attaches `prog` to libasync's USDT probe `name` in the object `path` (pid -1: in every
 * process), into *link. Prints "failed to attach to 'PATH:libasync:NAME'" and returns a
 * negative errno on failure, except that with `optional` a probe the object does not have
 * (-ENOENT: a static program carries only the probes of the runtime parts it uses) leaves
 * *link NULL and returns 0.
 */
int ai_attach_usdt(struct bpf_program *prog, pid_t pid, const char *path, const char *name,
		   bool optional, struct bpf_link **link);

#endif /* AI_EXECLIB_H */
