/* SPDX-License-Identifier: MIT */
/* What every subcommand shares: errors, signals, privileges, libbpf logging. */
#ifndef AI_COMMON_H
#define AI_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses: 0 ok, 1 failure (or "found" for deadlock), 2 usage/bad input. */
enum { AI_EXIT_OK = 0, AI_EXIT_FAIL = 1, AI_EXIT_USAGE = 2 };

/* Set by SIGINT/SIGTERM once ai_handle_signals() ran; every loop polls it. */
extern volatile sig_atomic_t ai_exiting;
void ai_handle_signals(void);

/* -v: libbpf debug output (the verifier log) goes to stderr. */
extern bool ai_verbose;
/* Installs the libbpf print callback: warnings always, debug only with -v. */
void ai_setup_libbpf_log(void);

/*
 * The one error form: "async-inspect: failed to <verb> '<what>': <strerror(-err)>".
 * `err` is a negative errno. Returns err so callers can `return ai_err(...)`.
 */
int ai_err(const char *verb, const char *what, int err);
/*
 * A bad option value: "async-inspect: invalid value '<val>' for <opt>: expected
 * <expected>". Returns EINVAL (positive), what an argp parser returns after it.
 */
int ai_bad_value(const char *opt, const char *val, const char *expected);
/* Free-form one-line error: "async-inspect: <message>". */
void ai_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ai_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Checks that BPF tracing can work before anything is loaded: root or CAP_BPF +
 * CAP_PERFMON, and kernel BTF. Prints the reason and returns a negative errno if not.
 */
int ai_check_bpf_privileges(void);
/* Checks that PID names a live process; prints the error if not. */
int ai_check_pid(pid_t pid);
/* Whether PID still runs: false once it is gone or a zombie. Prints nothing. */
bool ai_proc_alive(pid_t pid);

/* Parses a positive decimal with an optional unit; returns false if malformed. */
bool ai_parse_u64(const char *s, uint64_t *out);
/* A positive duration in seconds: "2", "0.5", or with a unit (see ai_parse_duration). */
bool ai_parse_secs(const char *s, double *out);
/* "250ms", "1.5s", "3us", "42ns" for a duration in ns (into buf, returns buf). */
const char *ai_fmt_duration(uint64_t ns, char *buf, size_t len);

/*
 * Copies s into buf (truncating) with every control character escaped (\n, \t, \r,
 * \xHH; C0, DEL and UTF-8 C1), so that names a traced program controls (task names,
 * files, functions) cannot drive the terminal in text output. NULL gives "". Returns buf.
 */
const char *ai_printable(const char *s, char *buf, size_t len);
/*
 * For text output of a target-controlled string: s itself when it holds no control
 * character, else an escaped copy (ai_printable) in one of 16 per-thread buffers reused in
 * turn, so up to 16 may be passed to one printf. NULL gives "". JSON output stays exact
 * and does not use this.
 */
const char *ai_tx(const char *s);

/*
 * Grows the array *arr of *n rows of `size` bytes (*cap allocated, doubling) by one zeroed
 * row and returns it; NULL (the array unchanged) when out of memory.
 */
void *ai_add_row(void **arr, size_t *n, size_t *cap, size_t size);

/* FNV-1a (64-bit) of a NUL-terminated string, for the tool's hash tables. */
uint64_t ai_str_hash(const char *s);

/* CLOCK_MONOTONIC now, the clock of bpf_ktime_get_ns and of libasync's timestamps. */
uint64_t ai_now_ns(void);

/*
 * -- CMD ARGS: forks the command stopped before its first instruction (it waits on a
 * pipe), so probes can be attached to it; ai_child_start() lets it exec.
 */
struct ai_child {
	pid_t pid;
	int go_fd;
};
int ai_child_spawn(char **argv, struct ai_child *child);
int ai_child_start(struct ai_child *child);
/* Reaps without blocking; returns 1 and sets *status (shell-style exit code) if it exited. */
int ai_child_reap(struct ai_child *child, int *status);

#endif /* AI_COMMON_H */
