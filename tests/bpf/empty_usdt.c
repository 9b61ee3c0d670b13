/* SPDX-License-Identifier: MIT */
/*
 * empty_usdt: attaches an empty BPF program to one libasync USDT probe of a command it
 * starts, runs the command and exits with its status. bench/trace.sh uses it to price
 * the bare uprobe trap (the floor under any per-poll tracing cost).
 *
 *   empty_usdt PROBE CMD [ARGS...]      e.g. empty_usdt poll ./bench/yield
 *
 * CMD must carry the probes itself (bench programs link libasync statically).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "empty_usdt.skel.h"

int main(int argc, char **argv)
{
	struct empty_usdt_bpf *skel;
	struct bpf_link *link;
	int go[2], status = 1;
	char c = 'g', path[4096];
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: empty_usdt PROBE CMD [ARGS...]\n");
		return 2;
	}
	if (!realpath(argv[2], path)) {
		fprintf(stderr, "empty_usdt: failed to find '%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	skel = empty_usdt_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_usdt: failed to load BPF: %s\n", strerror(errno));
		return 1;
	}
	if (pipe(go)) {
		empty_usdt_bpf__destroy(skel);
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execv(path, argv + 2);
		_exit(127);
	}
	close(go[0]);
	link =
	    bpf_program__attach_usdt(skel->progs.empty_probe, pid, path, "libasync", argv[1], NULL);
	if (!link) {
		fprintf(stderr, "empty_usdt: failed to attach to libasync:%s: %s\n", argv[1],
			strerror(errno));
		close(go[1]);
		waitpid(pid, NULL, 0);
		empty_usdt_bpf__destroy(skel);
		return 1;
	}
	if (write(go[1], &c, 1) != 1)
		fprintf(stderr, "empty_usdt: failed to start the command\n");
	close(go[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bpf_link__destroy(link);
	empty_usdt_bpf__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
