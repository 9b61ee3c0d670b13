/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the deadlock subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_deadlock(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'deadlock' is not built yet");
	return AI_EXIT_FAIL;
}
