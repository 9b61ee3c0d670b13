/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the trace subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_trace(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'trace' is not built yet");
	return AI_EXIT_FAIL;
}
