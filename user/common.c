/* SPDX-License-Identifier: MIT */
/* What every subcommand shares: errors, signals, privileges, libbpf logging, -- CMD. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "common.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define AI_BTF_PATH "/sys/kernel/btf/vmlinux"

volatile sig_atomic_t ai_exiting;
bool ai_verbose;

static void on_signal(int sig)
{
	(void)sig;
	ai_exiting = 1;
}

void ai_handle_signals(void)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking reads and sleeps return EINTR so loops see ai_exiting. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !ai_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void ai_setup_libbpf_log(void)
{
	libbpf_set_print(libbpf_print);
}

int ai_err(const char *verb, const char *what, int err)
{
	fprintf(stderr, "async-inspect: failed to %s '%s': %s\n", verb, what ? what : "",
		strerror(err < 0 ? -err : err));
	return err;
}

void ai_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("async-inspect: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int ai_bad_value(const char *opt, const char *val, const char *expected)
{
	ai_errorf("invalid value '%s' for %s: expected %s", val, opt, expected);
	return EINVAL;
}

void ai_warnf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("async-inspect: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool cap_effective(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

int ai_check_bpf_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	bool bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data)) {
		int err = -errno;

		return ai_err("read capabilities of", "async-inspect", err);
	}
	/* CAP_SYS_ADMIN (root) implies both on kernels that know CAP_BPF/CAP_PERFMON. */
	bpf = cap_effective(data, CAP_SYS_ADMIN) || cap_effective(data, CAP_BPF);
	perfmon = cap_effective(data, CAP_SYS_ADMIN) || cap_effective(data, CAP_PERFMON);
	if (!bpf && !perfmon) {
		ai_errorf(
		    "failed to load BPF programs: need root or CAP_BPF+CAP_PERFMON (try sudo)");
		return -EPERM;
	}
	if (!bpf || !perfmon) {
		ai_errorf("failed to load BPF programs: need root or CAP_BPF+CAP_PERFMON (%s is "
			  "missing; try sudo)",
			  bpf ? "CAP_PERFMON" : "CAP_BPF");
		return -EPERM;
	}
	if (access(AI_BTF_PATH, R_OK)) {
		ai_errorf("failed to load BPF programs: the kernel has no BTF (%s: %s); a kernel "
			  "built with CONFIG_DEBUG_INFO_BTF=y is needed",
			  AI_BTF_PATH, strerror(errno));
		return -EOPNOTSUPP;
	}
	return 0;
}

int ai_check_pid(pid_t pid)
{
	char path[64], buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (pid <= 0)
		return ai_err("find process", buf, -EINVAL);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (access(path, F_OK))
		return ai_err("find process", buf, -ESRCH);
	return 0;
}

bool ai_proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	bool alive = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	fclose(f);
	return alive;
}

bool ai_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1000;
		p++;
		break;
	case 'M':
		mult = 1000000;
		p++;
		break;
	case 'G':
		mult = 1000000000;
		p++;
		break;
	default:
		return false;
	}
	if (*p != '\0')
		return false;
	if (v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

bool ai_parse_secs(const char *s, double *out)
{
	uint64_t ns;

	if (!ai_parse_duration(s, AI_NS_PER_SEC, &ns) || !ns)
		return false;
	*out = (double)ns / 1e9;
	return true;
}

const char *ai_fmt_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		double div;
	} units[] = { { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } };
	char num[32];
	size_t i, n;

	if (!buf || !len)
		return buf;
	if (ns < 1000) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return buf;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double v = ns / units[i].div;

		/* 999.96us prints as 1ms, not 1000.0us */
		if (v >= 999.95 && i + 1 < sizeof(units) / sizeof(units[0]))
			continue;
		snprintf(num, sizeof(num), "%.1f", v);
		n = strlen(num);
		if (n > 2 && !strcmp(num + n - 2, ".0"))
			num[n - 2] = '\0';
		snprintf(buf, len, "%s%s", num, units[i].unit);
		break;
	}
	return buf;
}

/* Whether s[i] starts a control character: C0, DEL, or C1 (U+0080..U+009F in UTF-8). */
static size_t control_len(const unsigned char *s)
{
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 1;
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	return 0;
}

const char *ai_printable(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0, n;

	if (!len)
		return buf;
	while (*p) {
		char esc[16];
		size_t elen = 0;

		n = control_len(p);
		if (!n) {
			if (o + 1 >= len)
				break;
			buf[o++] = (char)*p++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			unsigned char c = p[k];

			if (c == '\n' || c == '\t' || c == '\r')
				elen += (size_t)snprintf(esc + elen, sizeof(esc) - elen, "\\%c",
							 c == '\n'   ? 'n'
							 : c == '\t' ? 't'
								     : 'r');
			else
				elen +=
				    (size_t)snprintf(esc + elen, sizeof(esc) - elen, "\\x%02x", c);
		}
		if (o + elen >= len)
			break;
		memcpy(buf + o, esc, elen);
		o += elen;
		p += n;
	}
	buf[o] = '\0';
	return buf;
}

const char *ai_tx(const char *s)
{
	static __thread char ring[16][1024];
	static __thread unsigned next;
	const unsigned char *p = (const unsigned char *)s;
	char *buf;

	if (!s)
		return "";
	while (*p && !control_len(p))
		p++;
	if (!*p)
		return s;
	buf = ring[next++ % 16];
	return ai_printable(s, buf, sizeof(ring[0]));
}

void *ai_add_row(void **arr, size_t *n, size_t *cap, size_t size)
{
	char *row;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, ncap * size);

		if (!p)
			return NULL;
		*arr = p;
		*cap = ncap;
	}
	row = (char *)*arr + *n * size;
	memset(row, 0, size);
	(*n)++;
	return row;
}

uint64_t ai_str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

uint64_t ai_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int ai_child_spawn(char **argv, struct ai_child *child)
{
	int fds[2], err;
	pid_t pid;

	child->pid = -1;
	child->go_fd = -1;
	if (!argv || !argv[0])
		return -EINVAL;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		char c;
		ssize_t r;

		close(fds[1]);
		do {
			r = read(fds[0], &c, 1);
		} while (r < 0 && errno == EINTR);
		/* The tracer closed the pipe without starting us: it failed, go away quietly. */
		if (r != 1)
			_exit(127);
		close(fds[0]);
		execvp(argv[0], argv);
		err = errno;
		fprintf(stderr, "async-inspect: failed to run '%s': %s\n", argv[0], strerror(err));
		_exit(127);
	}
	close(fds[0]);
	child->pid = pid;
	child->go_fd = fds[1];
	return 0;
}

int ai_child_start(struct ai_child *child)
{
	char c = 'g';
	ssize_t r;
	int err = 0;

	if (!child || child->go_fd < 0)
		return -EINVAL;
	do {
		r = write(child->go_fd, &c, 1);
	} while (r < 0 && errno == EINTR);
	if (r != 1)
		err = r < 0 ? -errno : -EIO;
	close(child->go_fd);
	child->go_fd = -1;
	return err;
}

int ai_child_reap(struct ai_child *child, int *status)
{
	int st;
	pid_t r;

	if (!child || child->pid <= 0)
		return -EINVAL;
	do {
		r = waitpid(child->pid, &st, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (WIFEXITED(st))
		*status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		*status = 128 + WTERMSIG(st);
	else
		return 0;
	child->pid = -1;
	if (child->go_fd >= 0) {
		close(child->go_fd);
		child->go_fd = -1;
	}
	return 1;
}
