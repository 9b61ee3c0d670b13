/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the list subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'list' is not built yet");
	return AI_EXIT_FAIL;
}
