/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the top subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_top(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'top' is not built yet");
	return AI_EXIT_FAIL;
}
