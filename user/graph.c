/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the graph subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_graph(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'graph' is not built yet");
	return AI_EXIT_FAIL;
}
