/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the report subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'report' is not built yet");
	return AI_EXIT_FAIL;
}
