/* SPDX-License-Identifier: MIT */
/* async-inspect: see what every task of an asynchronous C program is doing. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "common.h"

static const struct ai_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "trace", cmd_trace, "per-task latency, aggregated in kernel maps" },
	{ "top", cmd_top, "live, refreshing task table" },
	{ "tasks", cmd_tasks, "snapshot of every live task: state, since, where it waits" },
	{ "profile", cmd_profile, "sample running tasks; async-aware flame graphs" },
	{ "record", cmd_record, "record every probe event to a file" },
	{ "report", cmd_report, "summaries, timelines and pictures from a recording" },
	{ "graph", cmd_graph, "spawn tree, wait-for and wake edges" },
	{ "deadlock", cmd_deadlock, "find circular waits, with locations" },
	{ "analyze", cmd_analyze, "static async call graph from the descriptor section" },
	{ "list", cmd_list, "probes and async functions of a binary or process" },
	{ "diagnose", cmd_diagnose, "find the bug: ranked findings with file:line" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: async-inspect COMMAND [OPTIONS]\n\n"
		   "Shows what every task of a libasync program is doing, where it waits,\n"
		   "for how long, and why it is stuck.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'async-inspect COMMAND --help' for a command's options and examples.\n"
		   "\nExamples:\n"
		   "  sudo async-inspect trace -p 1234          # per-task latency of PID 1234\n"
		   "  sudo async-inspect trace -- ./server      # start ./server traced\n"
		   "  sudo async-inspect tasks -p 1234          # where is every task stuck?\n"
		   "  sudo async-inspect diagnose -p 1234       # what is wrong with it?\n"
		   "  async-inspect analyze ./server --show-call-graph\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return AI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return AI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("async-inspect " AI_VERSION "\n");
		return AI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	}
	{
		const char *names[sizeof(commands) / sizeof(commands[0])];
		const char *near;

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i].name;
		near = ai_closest_name(argv[1], names, sizeof(names) / sizeof(names[0]));
		if (near)
			ai_errorf("unknown command '%s': did you mean '%s'? (see 'async-inspect "
				  "--help')",
				  ai_tx(argv[1]), near);
		else
			ai_errorf("unknown command '%s' (see 'async-inspect --help')",
				  ai_tx(argv[1]));
	}
	return AI_EXIT_USAGE;
}
