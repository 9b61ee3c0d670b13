/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the tasks subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_tasks(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'tasks' is not built yet");
	return AI_EXIT_FAIL;
}
