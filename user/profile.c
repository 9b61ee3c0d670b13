// SPDX-License-Identifier: MIT
/*
 * async-inspect profile: production sampling with async-aware stacks. A perf_event
 * software clock on every CPU runs bpf/profile.bpf.c, which reads the interrupted
 * thread's record in libasync's registry (task, function, await chain) and its user
 * stack, and counts them in a kernel map. No uprobe fires. This file loads it, names
 * what it counted (descriptors, ELF symbols) and writes folded stacks, an SVG flame
 * graph, a pprof profile or a summary.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "commands.h"
#include "common.h"
#include "desc.h"
#include "execlib.h"
#include "flamegraph.h"
#include "json.h"
#include "names.h"
#include "outfile.h"
#include "pprof.h"
#include "proc.h"
#include "bpf/profile.h"
#include "profile.skel.h"
#include "snapshot.h"
#include "symbolize.h"
#include "taskfmt.h"

#define DEFAULT_FREQ	 99
#define MAX_FREQ	 10000
#define TOP_STACKS	 10
#define REGISTRY_WAIT_NS 5000000000ull /* -- CMD: how long the command may take to map libasync */
#define FRAME_MAX	 (2 + ASYNC_CHAIN_MAX + PROFILE_STACK_DEPTH)

static const char doc[] =
    "Sample what the tasks of a libasync program run, with async-aware stacks.\n"
    "\n"
    "A timer on every CPU (-F HZ, default 99) samples the target's threads.\n"
    "Each sample names the task being polled, its await chain and the user\n"
    "stack. Samples outside tasks are labelled [idle worker], [runtime],\n"
    "[reactor], [blocking pool] or [other thread]. No uprobe fires: cheap\n"
    "enough for production. Ends at -d SECS, Ctrl-C or when the process\n"
    "exits, and reports what it collected.\n"
    "\n"
    "EXAMPLES:\n"
    "  sudo async-inspect profile -p 1234      # top stacks, function shares\n"
    "  sudo async-inspect profile -p 1234 -d 10 --folded > out.folded\n"
    "  sudo async-inspect profile -p 1234 -F 999 --svg flame.svg\n"
    "  sudo async-inspect profile -p 1234 --pprof cpu.pb.gz\n"
    "  sudo async-inspect profile -d 5 --svg f.svg -- ./server --port 8080\n"
    "\n"
    "Folded stacks: frames joined by ';', a space, the count (flamegraph.pl,\n"
    "inferno, speedscope). See docs/profile.md.";

static const char args_doc[] = "(-p PID | -- CMD [ARGS...])";

enum {
	OPT_FOLDED = 0x100,
	OPT_SVG,
	OPT_PPROF,
	OPT_JSON,
};

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Profile this running process", 0 },
	{ "frequency", 'F', "HZ", 0, "Samples per second per CPU (default 99, at most 10000)", 0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds (default: Ctrl-C or exit)", 0 },
	{ "folded", OPT_FOLDED, NULL, 0, "Print folded stacks (frame;frame count) on stdout", 0 },
	{ "svg", OPT_SVG, "FILE", 0, "Write an interactive SVG flame graph to FILE", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write a gzip-compressed pprof profile to FILE", 0 },
	{ "json", 'j', NULL, 0, "Print the summary as JSON", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf debug output (the verifier log)", 0 },
	{ 0 },
};

struct env {
	pid_t pid;
	uint64_t freq;
	uint64_t duration_ns;
	bool folded, json;
	const char *svg, *pprof;
	char **cmd;
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;
	uint64_t v;

	switch (key) {
	case 'p':
		if (ai_tf_parse_pid(arg, &env->pid))
			return EINVAL + 1000;
		break;
	case 'F':
		if (!ai_parse_u64(arg, &v) || !v || v > MAX_FREQ ||
		    strspn(arg, "0123456789") != strlen(arg)) {
			ai_errorf("failed to parse frequency '%s': need 1 to %d samples per second",
				  arg, MAX_FREQ);
			return EINVAL + 1000;
		}
		env->freq = v;
		break;
	case 'd':
		if (ai_tf_parse_secs("duration", arg, &env->duration_ns))
			return EINVAL + 1000;
		if (!env->duration_ns) {
			ai_errorf("failed to parse duration '%s': must be more than 0", arg);
			return EINVAL + 1000;
		}
		break;
	case OPT_FOLDED:
		env->folded = true;
		break;
	case OPT_SVG:
		env->svg = arg;
		break;
	case OPT_PPROF:
		env->pprof = arg;
		break;
	case 'j':
		env->json = true;
		break;
	case 'v':
		ai_verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* The command and its arguments: everything from here on. */
		env->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- small hash maps: address → name, folded stack → count -------------------------- */

struct name_ent {
	uint64_t key;
	char *name;
};

struct name_cache {
	struct name_ent *e;
	size_t n, cap;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static const char *nc_get(const struct name_cache *c, uint64_t key)
{
	if (!c->cap)
		return NULL;
	for (size_t i = mix64(key) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		if (!c->e[i].name)
			return NULL;
		if (c->e[i].key == key)
			return c->e[i].name;
	}
}

static int nc_put_raw(struct name_ent *e, size_t cap, uint64_t key, char *name)
{
	size_t i = mix64(key) & (cap - 1);

	while (e[i].name)
		i = (i + 1) & (cap - 1);
	e[i].key = key;
	e[i].name = name;
	return 0;
}

/* Takes ownership of `name` (a malloc'd string). */
static int nc_put(struct name_cache *c, uint64_t key, char *name)
{
	if ((c->n + 1) * 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct name_ent *e = calloc(cap, sizeof(*e));

		if (!e) {
			free(name);
			return -ENOMEM;
		}
		for (size_t i = 0; i < c->cap; i++) {
			if (c->e[i].name)
				nc_put_raw(e, cap, c->e[i].key, c->e[i].name);
		}
		free(c->e);
		c->e = e;
		c->cap = cap;
	}
	nc_put_raw(c->e, c->cap, key, name);
	c->n++;
	return 0;
}

static void nc_free(struct name_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->e[i].name);
	free(c->e);
}

struct stack_ent {
	char *folded; /* frames joined by ';' */
	uint64_t count;
	uint64_t hash;
};

struct stack_set {
	struct stack_ent *e;
	size_t n, cap;
	uint64_t total;
};

static int ss_add(struct stack_set *s, const char *folded, uint64_t count)
{
	uint64_t h = ai_str_hash(folded);
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct stack_ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return -ENOMEM;
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->e[j].folded)
				continue;
			for (i = s->e[j].hash & (cap - 1); e[i].folded; i = (i + 1) & (cap - 1))
				;
			e[i] = s->e[j];
		}
		free(s->e);
		s->e = e;
		s->cap = cap;
	}
	for (i = h & (s->cap - 1); s->e[i].folded; i = (i + 1) & (s->cap - 1)) {
		if (s->e[i].hash == h && !strcmp(s->e[i].folded, folded)) {
			s->e[i].count += count;
			s->total += count;
			return 0;
		}
	}
	s->e[i].folded = strdup(folded);
	if (!s->e[i].folded)
		return -ENOMEM;
	s->e[i].hash = h;
	s->e[i].count = count;
	s->n++;
	s->total += count;
	return 0;
}

static void ss_free(struct stack_set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->e[i].folded);
	free(s->e);
}

/* ---- naming frames ------------------------------------------------------------------ */

struct profiler {
	struct env *env;
	struct profile_bpf *skel;
	struct ai_symbolizer *sym;
	struct ai_proc_descs *descs;
	struct name_cache ips;	  /* instruction address → function */
	struct name_cache dnames; /* descriptor address → logical frame */
	struct name_cache misses; /* names of descriptors not found (not cached) */
};

/* Folded stacks separate frames with ';' and end with " count": keep names clean. */
static char *clean_frame(const char *s)
{
	char *c = strdup(s);

	for (char *p = c; p && *p; p++) {
		if (*p == ';')
			*p = ':';
		else if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	}
	return c;
}

/* The function at `ip`, or NULL when `ip` is in no executable mapping (not code). */
static const char *ip_name(struct profiler *pr, uint64_t ip)
{
	const char *n = nc_get(&pr->ips, ip);
	char buf[512];
	char *c;

	if (n)
		return n[0] ? n : NULL;
	if (ai_symbolize(pr->sym, ip, buf, sizeof(buf)) == -EFAULT)
		buf[0] = '\0'; /* cached as "" */
	c = clean_frame(buf);
	if (!c || nc_put(&pr->ips, ip, c))
		return "[unknown]";
	return c[0] ? c : NULL;
}

/* The task's function ("fetch_user") or an await point ("fetch_posts@file.c:41"). */
static const char *desc_name(struct profiler *pr, uint64_t addr, bool await)
{
	uint64_t key = addr | (await ? 1ull << 63 : 0);
	const char *n = nc_get(&pr->dnames, key);
	const struct ai_desc *d;
	char buf[512];
	char *c;

	if (!n)
		n = nc_get(&pr->misses, key);
	if (n)
		return n;
	d = ai_proc_descs_find(pr->descs, addr);
	if (!d && !addr)
		snprintf(buf, sizeof(buf), "%s", await ? "[await]" : "unknown_task");
	else if (!d)
		snprintf(buf, sizeof(buf), "[%s 0x%" PRIx64 "]", await ? "await" : "async fn",
			 addr);
	else if (!await)
		snprintf(buf, sizeof(buf), "%s", d->function ? d->function : "?");
	else
		snprintf(buf, sizeof(buf), "%s@%s:%u",
			 d->callee ? d->callee : (d->function ? d->function : "?"),
			 d->file ? d->file : "?", d->line);
	c = clean_frame(buf);
	if (!c)
		return "[unknown]";
	/*
	 * An unknown descriptor may resolve later (object not mapped yet): its name is kept
	 * aside for this pass only (resolve_pass empties `misses`).
	 */
	if (nc_put(d ? &pr->dnames : &pr->misses, key, c))
		return "[unknown]";
	return c;
}

static const char *state_label(__u32 state)
{
	switch (state) {
	case PROFILE_IDLE_WORKER:
		return "[idle worker]";
	case PROFILE_RUNTIME:
		return "[runtime]";
	case PROFILE_BLOCKING:
		return "[blocking pool]";
	case PROFILE_REACTOR:
		return "[reactor]";
	case PROFILE_OTHER:
		return "[other thread]";
	default:
		return "[unknown state]";
	}
}

/*
 * The frames of one key, root first: the logical frames (task function, await chain,
 * or a label), then the user stack from its outermost frame, then [kernel] when the
 * sample interrupted a system call. Returns the count of frames.
 */
static size_t key_frames(struct profiler *pr, const struct profile_key *k, const char **frames)
{
	__u64 ips[PROFILE_STACK_DEPTH];
	size_t n = 0, depth = 0;

	if (k->state == PROFILE_TASK) {
		frames[n++] = desc_name(pr, k->fn, false);
		for (__u32 i = 0; i < k->depth && i < ASYNC_CHAIN_MAX; i++)
			frames[n++] = desc_name(pr, k->chain[i], true);
	} else {
		frames[n++] = state_label(k->state);
	}
	if (k->stack_id < 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(pr->skel->maps.stacks), &k->stack_id, ips)) {
		frames[n++] = "[missing user stack]";
	} else {
		const char *names[PROFILE_STACK_DEPTH];

		/*
		 * Leaf first. Return addresses point after the call: look up the call
		 * instruction itself. A frame-pointer chain broken by code built without
		 * frame pointers ends in addresses that are no code: stop at the first.
		 */
		while (depth < PROFILE_STACK_DEPTH && ips[depth]) {
			names[depth] = ip_name(pr, depth ? ips[depth] - 1 : ips[depth]);
			if (!names[depth])
				break;
			depth++;
		}
		for (size_t i = depth; i-- > 0;)
			frames[n++] = names[i];
		if (!depth)
			frames[n++] = "[unknown]";
	}
	if (k->in_kernel)
		frames[n++] = "[kernel]";
	return n;
}

/* Names every address counted so far (while the process is alive to be read). */
static int resolve_pass(struct profiler *pr, struct stack_set *out)
{
	int fd = bpf_map__fd(pr->skel->maps.counts);
	struct profile_key key, next;
	const char *frames[FRAME_MAX];
	char *line = NULL;
	size_t cap = 0;
	void *prev = NULL;
	int err = 0;

	nc_free(&pr->misses);
	memset(&pr->misses, 0, sizeof(pr->misses));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		__u64 count;
		size_t n, len = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &count))
			continue;
		n = key_frames(pr, &key, frames);
		if (!out)
			continue;
		for (size_t i = 0; i < n; i++) {
			size_t fl = strlen(frames[i]);

			if (len + fl + 2 > cap) {
				size_t ncap = (len + fl + 2) * 2;
				char *p = realloc(line, ncap);

				if (!p) {
					err = -ENOMEM;
					goto out;
				}
				line = p;
				cap = ncap;
			}
			if (i)
				line[len++] = ';';
			memcpy(line + len, frames[i], fl);
			len += fl;
			line[len] = '\0';
		}
		err = ss_add(out, line, count);
		if (err)
			break;
	}
out:
	free(line);
	return err;
}

/* ---- perf events -------------------------------------------------------------------- */

struct sampler {
	struct bpf_link **links;
	int *fds;
	int n;
};

static int open_sampler(struct profile_bpf *skel, uint64_t freq, struct sampler *s)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = freq,
		.freq = 1,
	};
	int ncpus = libbpf_num_possible_cpus(), opened = 0, err;
	char what[32];

	if (ncpus < 0)
		return ai_err("count", "CPUs", ncpus);
	s->links = calloc((size_t)ncpus, sizeof(*s->links));
	s->fds = calloc((size_t)ncpus, sizeof(*s->fds));
	if (!s->links || !s->fds)
		return ai_err("allocate", "perf events", -ENOMEM);
	s->n = ncpus;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		s->fds[cpu] = -1;
		snprintf(what, sizeof(what), "cpu%d", cpu);
		s->fds[cpu] =
		    (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (s->fds[cpu] < 0) {
			err = -errno;
			if (err == -ENODEV) /* offline CPU */
				continue;
			if (err == -EINVAL)
				ai_errorf("failed to open perf event on '%s': %s (is -F above "
					  "/proc/sys/kernel/perf_event_max_sample_rate?)",
					  what, strerror(EINVAL));
			else
				ai_err("open perf event on", what, err);
			return err;
		}
		s->links[cpu] =
		    bpf_program__attach_perf_event(skel->progs.profile_sample, s->fds[cpu]);
		if (!s->links[cpu]) {
			err = -errno;
			return ai_err("attach sampler to", what, err);
		}
		opened++;
	}
	if (!opened)
		return ai_err("open perf events on", "any CPU", -ENODEV);
	return 0;
}

static void close_sampler(struct sampler *s)
{
	for (int i = 0; i < s->n; i++) {
		bpf_link__destroy(s->links[i]);
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	}
	free(s->links);
	free(s->fds);
}

/* ---- the target --------------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL); /* EINTR on Ctrl-C is fine: the loop checks ai_exiting */
}

/* -- CMD: forks it, stopped before exec, so the sampler is attached before it runs. */
static int spawn_command(struct env *env, struct ai_child *child)
{
	char path[4096];
	int err;

	err = ai_exec_resolve(env->cmd[0], path, sizeof(path));
	if (err)
		return ai_err("find command", env->cmd[0], err);
	err = ai_child_spawn(env->cmd, child);
	if (err)
		return ai_err("start", env->cmd[0], err);
	env->pid = child->pid;
	return 0;
}

/* -- CMD: lets it run and waits until it has mapped libasync (the registry symbol). */
static int start_command(struct env *env, struct ai_child *child, uint64_t *registry)
{
	uint64_t deadline;
	int err, status;

	err = ai_child_start(child);
	if (err)
		return ai_err("start", env->cmd[0], err);
	deadline = ai_now_ns() + REGISTRY_WAIT_NS;
	for (;;) {
		if (!ai_snapshot_locate(child->pid, registry))
			return 0;
		if (ai_child_reap(child, &status) == 1) {
			ai_errorf(
			    "failed to profile '%s': it exited (status %d) before its libasync "
			    "registry could be found",
			    env->cmd[0], status);
			return -ESRCH;
		}
		if (ai_exiting || ai_now_ns() > deadline) {
			ai_errorf("failed to find '%s' in '%s': not a libasync program (link it "
				  "with libasync)",
				  ASYNC_REGISTRY_SYMBOL, env->cmd[0]);
			return -ENOENT;
		}
		sleep_ns(500000);
	}
}

/* ---- output ------------------------------------------------------------------------- */

static int cmp_count_desc(const void *a, const void *b)
{
	const struct stack_ent *x = *(const struct stack_ent *const *)a;
	const struct stack_ent *y = *(const struct stack_ent *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->folded, y->folded);
}

static int cmp_folded(const void *a, const void *b)
{
	const struct stack_ent *x = *(const struct stack_ent *const *)a;
	const struct stack_ent *y = *(const struct stack_ent *const *)b;

	return strcmp(x->folded, y->folded);
}

static struct stack_ent **sorted(const struct stack_set *s, int (*cmp)(const void *, const void *))
{
	struct stack_ent **v = calloc(s->n ? s->n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->e[i].folded)
			v[k++] = &s->e[i];
	}
	qsort(v, k, sizeof(*v), cmp);
	return v;
}

/* Splits a folded line in place into frames; returns their count. */
static size_t split_frames(char *line, const char **frames, size_t max)
{
	size_t n = 0;

	for (char *p = line; p && n < max;) {
		char *semi = strchr(p, ';');

		frames[n++] = p;
		if (semi)
			*semi = '\0';
		p = semi ? semi + 1 : NULL;
	}
	return n;
}

struct fn_share {
	char *name;
	uint64_t count;
};

static int cmp_share(const void *a, const void *b)
{
	const struct fn_share *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Per-state and per-task-function sample counts, from the first frame of each stack. */
static int shares(const struct stack_set *s, struct fn_share **out, size_t *nout, uint64_t *on_task)
{
	struct fn_share *v = NULL;
	size_t n = 0;

	*on_task = 0;
	for (size_t i = 0; i < s->cap; i++) {
		const char *f = s->e[i].folded;
		size_t len, j;

		if (!f)
			continue;
		len = strcspn(f, ";");
		if (f[0] != '[')
			*on_task += s->e[i].count;
		for (j = 0; j < n; j++) {
			if (strlen(v[j].name) == len && !strncmp(v[j].name, f, len))
				break;
		}
		if (j == n) {
			struct fn_share *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				goto nomem;
			}
			v = nv;
			v[n].name = strndup(f, len);
			v[n].count = 0;
			if (!v[n].name)
				goto nomem;
			n++;
		}
		v[j].count += s->e[i].count;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_share);
	*out = v;
	*nout = n;
	return 0;
nomem:
	for (size_t j = 0; j < n; j++)
		free(v[j].name);
	free(v);
	return -ENOMEM;
}

static void print_summary(const struct env *env, const struct stack_set *s, uint64_t elapsed_ns,
			  const uint64_t *cnt, const char *comm)
{
	struct fn_share *sh = NULL;
	struct stack_ent **top;
	uint64_t on_task = 0;
	size_t nsh = 0;
	char dur[32];

	if (shares(s, &sh, &nsh, &on_task))
		return;
	ai_fmt_duration(elapsed_ns, dur, sizeof(dur));
	printf("Profiled PID %d (%s) for %s at %" PRIu64 " Hz: %" PRIu64 " samples, %" PRIu64
	       " while polling tasks\n",
	       (int)env->pid, ai_tx(comm), ai_tx(dur), env->freq, s->total, on_task);
	printf("\n%-40s %10s %9s %9s\n", "TASK FUNCTION / THREAD STATE", "SAMPLES", "ON-TASK%",
	       "ALL%");
	for (size_t i = 0; i < nsh; i++) {
		char pct[16] = "-";

		if (sh[i].name[0] != '[' && on_task)
			snprintf(pct, sizeof(pct), "%.1f%%", 100.0 * sh[i].count / on_task);
		printf("%-40s %10" PRIu64 " %9s %8.1f%%\n", ai_tx(sh[i].name), sh[i].count,
		       ai_tx(pct), 100.0 * sh[i].count / (s->total ? s->total : 1));
	}
	top = sorted(s, cmp_count_desc);
	if (top && s->n) {
		printf("\nTop stacks (root first):\n");
		for (size_t i = 0; i < s->n && i < TOP_STACKS; i++) {
			const char *p = top[i]->folded;

			printf("\n  %" PRIu64 " samples (%.1f%%)\n", top[i]->count,
			       100.0 * top[i]->count / s->total);
			while (*p) {
				size_t len = strcspn(p, ";");
				char seg[512];

				snprintf(seg, sizeof(seg), "%.*s", (int)len, p);
				printf("    %s\n", ai_tx(seg));
				p += len + (p[len] == ';');
			}
		}
	}
	free(top);
	if (cnt[PROFILE_CNT_TORN] || cnt[PROFILE_CNT_NO_STACK] || cnt[PROFILE_CNT_DROPPED] ||
	    cnt[PROFILE_CNT_BAD_RECORD])
		printf("\nLost detail: %" PRIu64
		       " samples at a poll boundary (counted as [runtime]), "
		       "%" PRIu64 " without user stack, %" PRIu64 " dropped (map full), %" PRIu64
		       " bad thread records\n",
		       cnt[PROFILE_CNT_TORN], cnt[PROFILE_CNT_NO_STACK], cnt[PROFILE_CNT_DROPPED],
		       cnt[PROFILE_CNT_BAD_RECORD]);
	if (cnt[PROFILE_CNT_RUNS])
		printf("\nSampler cost: %" PRIu64 " ns per sample on average (BPF program)\n",
		       cnt[PROFILE_CNT_RUN_NS] / cnt[PROFILE_CNT_RUNS]);
	for (size_t i = 0; i < nsh; i++)
		free(sh[i].name);
	free(sh);
}

/* CPU time async-inspect itself used so far (user + system, this process only). */
static uint64_t tool_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static void print_json(const struct env *env, const struct stack_set *s, uint64_t elapsed_ns,
		       const uint64_t *cnt)
{
	struct fn_share *sh = NULL;
	struct stack_ent **top;
	uint64_t on_task = 0;
	struct ai_json j;
	size_t nsh = 0;

	if (shares(s, &sh, &nsh, &on_task))
		return;
	top = sorted(s, cmp_count_desc);
	ai_json_init(&j, stdout, true);
	ai_json_object_begin(&j);
	ai_json_kv_i64(&j, "pid", env->pid);
	ai_json_kv_u64(&j, "duration_ns", elapsed_ns);
	ai_json_kv_u64(&j, "frequency_hz", env->freq);
	ai_json_kv_u64(&j, "samples", s->total);
	ai_json_kv_u64(&j, "on_task_samples", on_task);
	ai_json_key(&j, "functions");
	ai_json_array_begin(&j);
	for (size_t i = 0; i < nsh; i++) {
		ai_json_object_begin(&j);
		ai_json_kv_str(&j, "name", sh[i].name);
		ai_json_kv_bool(&j, "task", sh[i].name[0] != '[');
		ai_json_kv_u64(&j, "samples", sh[i].count);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "stacks");
	ai_json_array_begin(&j);
	for (size_t i = 0; top && i < s->n; i++) {
		const char *p = top[i]->folded;

		ai_json_object_begin(&j);
		ai_json_kv_u64(&j, "count", top[i]->count);
		ai_json_key(&j, "frames");
		ai_json_array_begin(&j);
		while (*p) {
			size_t len = strcspn(p, ";");
			char *f = strndup(p, len);

			ai_json_str(&j, f ? f : "");
			free(f);
			p += len + (p[len] == ';');
		}
		ai_json_array_end(&j);
		ai_json_object_end(&j);
	}
	ai_json_array_end(&j);
	ai_json_key(&j, "lost");
	ai_json_object_begin(&j);
	ai_json_kv_u64(&j, "torn", cnt[PROFILE_CNT_TORN]);
	ai_json_kv_u64(&j, "no_user_stack", cnt[PROFILE_CNT_NO_STACK]);
	ai_json_kv_u64(&j, "dropped", cnt[PROFILE_CNT_DROPPED]);
	ai_json_kv_u64(&j, "bad_records", cnt[PROFILE_CNT_BAD_RECORD]);
	ai_json_object_end(&j);
	ai_json_key(&j, "sampler");
	ai_json_object_begin(&j);
	ai_json_kv_u64(&j, "runs", cnt[PROFILE_CNT_RUNS]);
	ai_json_kv_u64(&j, "run_ns", cnt[PROFILE_CNT_RUN_NS]);
	ai_json_kv_u64(&j, "tool_cpu_ns", tool_cpu_ns());
	ai_json_object_end(&j);
	ai_json_object_end(&j);
	ai_json_finish(&j);
	free(top);
	for (size_t i = 0; i < nsh; i++)
		free(sh[i].name);
	free(sh);
}

static int write_outputs(const struct env *env, const struct stack_set *s, uint64_t elapsed_ns,
			 const char *comm)
{
	const char *frames[FRAME_MAX + 64];
	struct ai_flame *fg = NULL;
	struct ai_pprof *pp = NULL;
	struct stack_ent **v;
	int err = 0;

	v = sorted(s, cmp_folded);
	if (!v)
		return ai_err("sort", "stacks", -ENOMEM);
	if (env->svg && (err = ai_flame_new(&fg))) {
		ai_err("build", "flame graph", err);
		goto out;
	}
	if (env->pprof && (err = ai_pprof_new(1000000000ull / env->freq, &pp))) {
		ai_err("build", "pprof profile", err);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		char *copy;
		size_t n;

		if (env->folded)
			printf("%s %" PRIu64 "\n", ai_tx(v[i]->folded), v[i]->count);
		if (!fg && !pp)
			continue;
		copy = strdup(v[i]->folded);
		if (!copy) {
			err = ai_err("build", "stacks", -ENOMEM);
			goto out;
		}
		n = split_frames(copy, frames, sizeof(frames) / sizeof(frames[0]));
		if (fg)
			err = ai_flame_add(fg, frames, n, v[i]->count);
		if (!err && pp)
			err = ai_pprof_add(pp, frames, n, v[i]->count);
		free(copy);
		if (err) {
			ai_err("build", "stacks", err);
			goto out;
		}
	}
	if (env->folded && fflush(stdout)) {
		err = ai_err("write", "stdout", -errno);
		goto out;
	}
	if (fg) {
		char title[128];
		struct ai_outfile of;
		int e;

		err = ai_out_open(&of, env->svg, AI_OUT_PUBLIC);
		if (err) {
			ai_err("create", env->svg, err);
			goto out;
		}
		snprintf(title, sizeof(title), "async-inspect profile: PID %d (%s), %" PRIu64 " Hz",
			 (int)env->pid, comm, env->freq);
		err = ai_flame_write_svg(fg, of.f, title);
		e = ai_out_finish(&of, !err);
		if (!err)
			err = e;
		if (err) {
			ai_err("write", env->svg, err);
			goto out;
		}
		fprintf(stderr, "async-inspect: wrote %" PRIu64 " samples to %s\n", s->total,
			ai_tx(env->svg));
	}
	if (pp) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		ai_pprof_set_time(
		    pp, (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec - (int64_t)elapsed_ns,
		    (int64_t)elapsed_ns);
		err = ai_pprof_write(pp, env->pprof);
		if (err) {
			ai_err("write", env->pprof, err);
			goto out;
		}
		fprintf(stderr, "async-inspect: wrote %" PRIu64 " samples to %s\n", s->total,
			ai_tx(env->pprof));
	}
out:
	ai_flame_free(fg);
	ai_pprof_free(pp);
	free(v);
	return err;
}

static void read_counters(struct profile_bpf *skel, uint64_t *cnt)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(cnt, 0, PROFILE_CNT_MAX * sizeof(*cnt));
	if (ncpus <= 0)
		return;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 i = 0; i < PROFILE_CNT_MAX; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &i, vals))
			continue;
		for (int c = 0; c < ncpus; c++)
			cnt[i] += vals[c];
	}
	free(vals);
}

/* Whether an output file can be created (nothing is written yet); prints the error. */
static int check_writable(const char *path)
{
	int err = ai_out_check(path);

	return err ? ai_err("create", path, err) : 0;
}

/* ---- main flow ---------------------------------------------------------------------- */

int cmd_profile(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, args_doc, doc, NULL, NULL, NULL };
	struct env env = { .freq = DEFAULT_FREQ };
	struct profiler pr = { .env = &env };
	struct ai_child child = { .pid = -1, .go_fd = -1 };
	struct sampler sampler = { 0 };
	struct stack_set stacks = { 0 };
	uint64_t registry = 0, start, deadline = 0, last_pass, cnt[PROFILE_CNT_MAX];
	char comm[64] = "?";
	bool help, exited = false;
	int err, status = 0;

	err = ai_tf_parse_args(&argp, argc, argv, &env, &help);
	if (help)
		return AI_EXIT_OK;
	if (err)
		return AI_EXIT_USAGE;
	if (!env.pid == !env.cmd) {
		ai_errorf("%s (see 'async-inspect profile --help')",
			  env.pid ? "give either -p PID or -- CMD, not both"
				  : "no target: give -p PID or -- CMD [ARGS...]");
		return AI_EXIT_USAGE;
	}
	if (env.json && env.folded) {
		ai_errorf("--json and --folded both print on stdout: give one (see 'async-inspect "
			  "profile --help')");
		return AI_EXIT_USAGE;
	}

	ai_setup_libbpf_log();
	ai_handle_signals();
	err = ai_check_bpf_privileges();
	if (err)
		return AI_EXIT_FAIL;
	/* Output files fail now, not after minutes of profiling. */
	if ((env.svg && (err = check_writable(env.svg))) ||
	    (env.pprof && (err = check_writable(env.pprof))))
		return AI_EXIT_FAIL;

	if (env.cmd) {
		err = spawn_command(&env, &child);
		if (err)
			goto cleanup;
	} else {
		err = ai_tf_open(env.pid, &registry, &pr.descs);
		if (err)
			goto cleanup;
	}

	pr.skel = profile_bpf__open();
	if (!pr.skel) {
		err = ai_err("open", "BPF program profile", -errno);
		goto cleanup;
	}
	pr.skel->rodata->target_tgid = (__u32)env.pid;
	err = profile_bpf__load(pr.skel);
	if (err) {
		ai_errorf("failed to load 'BPF program profile': %s%s", strerror(-err),
			  ai_verbose ? "" : " (run with -v for the verifier log)");
		goto cleanup;
	}
	pr.skel->bss->registry_addr = registry;
	err = open_sampler(pr.skel, env.freq, &sampler);
	if (err)
		goto cleanup;
	if (env.cmd) {
		/* Sampling already: the command is seen from its first instruction. */
		err = start_command(&env, &child, &registry);
		if (err)
			goto cleanup;
		pr.skel->bss->registry_addr = registry;
		err = ai_proc_descs_load(env.pid, &pr.descs);
		if (err)
			ai_warnf("cannot read async descriptors of '%s' (%s): showing addresses",
				 env.cmd[0], strerror(-err));
	}
	ai_proc_comm(env.pid, comm, sizeof(comm));
	err = ai_symbolizer_new(env.pid, &pr.sym);
	if (err) {
		ai_err("read mappings of process", comm, err);
		goto cleanup;
	}

	start = ai_now_ns();
	last_pass = start;
	if (env.duration_ns)
		deadline = start + env.duration_ns;
	fprintf(
	    stderr, "async-inspect: sampling PID %d (%s) at %" PRIu64 " Hz%s... Ctrl-C to stop\n",
	    (int)env.pid, ai_tx(comm), env.freq, env.duration_ns ? " for the given duration" : "");
	while (!ai_exiting) {
		uint64_t now;

		sleep_ns(100000000ull);
		now = ai_now_ns();
		if (deadline && now >= deadline)
			break;
		if (env.cmd ? ai_child_reap(&child, &status) == 1 : !ai_proc_alive(env.pid)) {
			exited = true;
			break;
		}
		/* Name what was counted while the process can still be read. */
		if (now - last_pass >= 1000000000ull) {
			ai_symbolizer_refresh(pr.sym);
			resolve_pass(&pr, NULL);
			last_pass = now;
		}
	}
	close_sampler(&sampler);
	memset(&sampler, 0, sizeof(sampler));
	if (exited)
		fprintf(stderr, "async-inspect: process %d exited; writing what was collected\n",
			(int)env.pid);

	err = resolve_pass(&pr, &stacks);
	if (err) {
		ai_err("read", "samples", err);
		goto cleanup;
	}
	read_counters(pr.skel, cnt);
	if (env.folded || env.svg || env.pprof)
		err = write_outputs(&env, &stacks, ai_now_ns() - start, comm);
	if (env.json)
		print_json(&env, &stacks, ai_now_ns() - start, cnt);
	else if (!env.folded && !env.svg && !env.pprof)
		print_summary(&env, &stacks, ai_now_ns() - start, cnt, comm);

cleanup:
	close_sampler(&sampler);
	profile_bpf__destroy(pr.skel);
	ai_symbolizer_free(pr.sym);
	ai_proc_descs_free(pr.descs);
	nc_free(&pr.ips);
	nc_free(&pr.dnames);
	nc_free(&pr.misses);
	ss_free(&stacks);
	if (child.pid > 0) {
		int st;

		/* Profiling ended first (-d, Ctrl-C, an error): the command we started ends too. */
		kill(child.pid, SIGTERM);
		waitpid(child.pid, &st, 0);
	}
	if (err)
		return AI_EXIT_FAIL;
	return env.cmd && exited ? status : AI_EXIT_OK;
}
