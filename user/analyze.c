/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the analyze subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_analyze(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'analyze' is not built yet");
	return AI_EXIT_FAIL;
}
