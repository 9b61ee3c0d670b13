/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the record subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'record' is not built yet");
	return AI_EXIT_FAIL;
}
